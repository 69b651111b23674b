"""An acknowledged submission survives the server being killed right after it answered.

A real `alliance serve` (gunicorn and its worker) runs on a scratch database; the moment the
client's POST is answered 200, the whole process group is killed with SIGKILL. A fresh process
then finds the responses, their scores and the risk alert stored.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlencode

from conftest import ROOT, scratch_env, scratch_run

SETUP = """
import json, django
django.setup()
from alliance.demo.generate import load_demo
from alliance.clients.models import Encounter
from alliance.measures.actions import _new_link
load_demo(seed=5, clients=3)
encounter = Encounter.objects.exclude(episode__phase="closed").first()
print(json.dumps(_new_link(encounter, "before", ["phq9", "gad7"], created_by=None)[1]))
"""
CHECK = """
import json, django
django.setup()
from alliance.measures.models import MeasureLink, Response
from alliance.alerts.models import Alert
from alliance.opaque import token_hash
import sys
link = MeasureLink.objects.get(token_hash=token_hash(sys.argv[1]))
rows = {r.instrument_id: r.total for r in Response.objects.filter(link=link)}
risk = Alert.objects.filter(client_id=link.client_id, kind="risk").exists()
print(json.dumps({"completed": link.completed_at is not None, "totals": rows, "risk": risk}))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server stopped before answering"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def test_an_acknowledged_submission_survives_sigkill(tmp_path, scratch_database_url):
    env = scratch_env(tmp_path, scratch_database_url)
    assert scratch_run([sys.executable, "-m", "alliance.cli", "migrate"], env).returncode == 0
    made = scratch_run([sys.executable, "-c", SETUP], env)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout.strip().splitlines()[-1])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "alliance.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait(port, server)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/m/{token}/")
        page = conn.getresponse()
        body = page.read().decode()
        cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        assert csrf, "the questionnaire page has no CSRF token"
        answers = {f"phq9__item{n}": "2" for n in range(1, 10)}
        answers |= {f"gad7__item{n}": "1" for n in range(1, 8)}
        answers["csrfmiddlewaretoken"] = csrf.group(1)
        conn.request(
            "POST",
            f"/m/{token}/",
            urlencode(answers),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,
                "Origin": f"http://127.0.0.1:{port}",
            },
        )
        answered = conn.getresponse()
        assert answered.status == 200
        assert "Thank you" in answered.read().decode()
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # no chance to flush or finish anything
        server.wait(timeout=30)
    checked = scratch_run([sys.executable, "-c", CHECK, token], env)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "completed": True,
        "totals": {"phq9": 18, "gad7": 7},
        "risk": True,
    }
