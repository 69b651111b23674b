"""What `alliance serve` does in each gunicorn worker as it starts (alliance.server)."""

from __future__ import annotations

import gc
from types import SimpleNamespace

from alliance import server
from alliance.audit import log


def test_a_server_worker_keeps_the_preloaded_app_out_of_the_collectors_sight(monkeypatch):
    monkeypatch.setattr(log, "_worker", None)
    gc.unfreeze()
    try:
        server.gunicorn_options("127.0.0.1", 8000, 4)["post_fork"](None, SimpleNamespace(age=1))
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
