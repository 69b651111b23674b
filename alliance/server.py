"""`alliance serve`: migrate, load the demo when asked and empty, then run gunicorn."""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.db import connections
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from alliance.web.logs import redact


class RedactingLogger(Logger):
    """Gunicorn's access log, without link tokens."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q"):
            if isinstance(found.get(key), str):
                found[key] = redact(found[key])
        return found


class AllianceServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from alliance.wsgi import application

        return application


THREADS = 4  # per worker


def _post_fork(server: Any, worker: Any) -> None:
    """In each new worker: its threads' audit lanes (see alliance.audit.log.server_worker), and
    the objects the app loaded before the fork moved out of the garbage collector's sight."""
    from alliance.audit.log import server_worker

    server_worker(worker.age, THREADS)
    # A full collection then scans only what the worker's own requests made, not the whole
    # preloaded app: its pauses were the submission's slowest hundredth (bench_submission's
    # p99 on PostgreSQL: 1.1-2.8x the bare view in six runs with it, up to 7x without).
    gc.freeze()


def serve(*, host: str, port: int, workers: int, demo_if_empty: bool) -> None:
    call_command("migrate", interactive=False, verbosity=0)
    # Collected even locally: it takes a moment and spares a warning from whitenoise.
    call_command("collectstatic", interactive=False, verbosity=0)
    from alliance.accounts.models import Organisation
    from alliance.demo.generate import load_demo, print_logins

    if demo_if_empty and not Organisation.objects.exists():
        print("Empty database: loading the fictional demo clinic…", flush=True)
        load_demo(seed=2026, clients=40, if_empty=True)
    print_logins()
    print(f"\nAlliance is serving on http://{host}:{port}/  (Ctrl-C stops it)\n", flush=True)
    options = gunicorn_options(host, port, workers)
    # Workers are forked from this process: none may inherit its database connection.
    connections.close_all()
    background = start_worker()
    try:
        AllianceServer(options).run()
    finally:
        background.terminate()
        background.wait(timeout=10)


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """How `alliance serve` runs gunicorn."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-",
        # The path only: query strings may hold search words (a client's name, a journal tag).
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "logger_class": RedactingLogger,
        "preload_app": True,
        # No shared control socket under the home folder: two instances would fight over it.
        "control_socket_disable": True,
        "post_fork": _post_fork,
    }


def start_worker() -> subprocess.Popen[bytes]:
    """The django-tasks worker that sends emails and reminders, beside the web server."""
    print("Starting the background worker (emails, reminders)…", flush=True)
    return subprocess.Popen([sys.executable, "-m", "alliance.cli", "worker"])
