"""Crash consistency: what a client saw acknowledged survives SIGKILL at random moments, whole.

A real `alliance serve` (gunicorn and its worker) runs on a scratch database of the engine under
test. A pool of threads answers 100+ fresh measure links, as clients would (GET the page for
its CSRF token, POST the answers), while a killer SIGKILLs the server's whole process group at
seeded random moments; after each kill the server restarts on the same database and the links
not yet acknowledged are sent again (a retry whose first POST was in flight must be answered
"already received", and stored once). After the last run, a fresh process checks that every
acknowledged link is completed with its responses, scores, risk alert, audit entry and the
notices its transaction wrote, with the job that sends them; that nothing anywhere is
half-written; and that the audit chains verify.

The harness must be able to fail: with the planted fault ALLIANCE_FAULT=ack-before-commit the
link page thanks the client before storing the answers, and the harness reports the
acknowledged submissions the kills lost.

Each run prints one line of figures (pytest -s shows it). The seed (ALLIANCE_CRASH_SEED, 9 by
default) picks the answers and the kill moments; the timing of each kill still varies a little.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from alliance import config
from conftest import ROOT, scratch_env, scratch_run

LINKS = 120  # submissions per run
CLIENTS = 24  # concurrent client threads
KILLS = 4  # SIGKILLs at random moments, besides the SIGKILL that ends the run
SEED = int(os.environ.get("ALLIANCE_CRASH_SEED", "9"))  # another seed, other answers and kills
DEMO_SEED = 9
THANKS = "<h1>Thank you</h1>"
ALREADY = "We already have your answers"
NOTICES = "alliance.alerts.tasks.send_notices"
DELIVER = "alliance.notify.tasks.deliver"
ALLIANCE = [sys.executable, "-m", "alliance.cli"]


# --- in a subprocess, on the scratch database: the links to answer, and the final check --------


def setup_main() -> None:
    """Migrate, load a small demo, print fresh links with the answers to send and their scores."""
    from django.core.management import call_command
    from django.db.models import Max
    from django_tasks_db.models import DBTaskResult

    from alliance.audit.models import AuditEntry
    from alliance.clients.models import Encounter
    from alliance.demo.generate import load_demo
    from alliance.measurement import load_instrument, score
    from alliance.measures.actions import _new_link
    from alliance.notify.models import Message

    count, seed = int(sys.argv[1]), int(sys.argv[2])
    call_command("migrate", verbosity=0)
    load_demo(seed=DEMO_SEED, clients=20)  # about 14 open episodes with 140 sessions
    rng = random.Random(seed)
    encounters = Encounter.objects.exclude(episode__phase__in=["closed", "follow_up"]).exclude(
        kind="follow_up"
    )
    slots = [(e, "before", ["phq9", "gad7"]) for e in encounters]
    slots += [(e, "after", ["alliance-session-check"]) for e in encounters]
    assert len(slots) >= count, f"the demo has only {len(slots)} session links to make"
    # The checks look at what came after the demo, whatever the demo holds.
    baseline = {
        "audit": AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0,
        "message": Message.objects.aggregate(last=Max("pk"))["last"] or 0,
        "tasks": [str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)],
    }
    links = []
    for encounter, timing, instruments in rng.sample(slots, count):
        _, token = _new_link(encounter, timing, instruments, created_by=None)
        form: dict[str, str] = {}
        answers: dict[str, dict[str, int]] = {}
        totals: dict[str, int | None] = {}
        risk = False
        for instrument in map(load_instrument, instruments):
            given = answers.setdefault(instrument.id, {})
            for item in instrument.items:
                choices = sorted(item.scores)
                if item.link_id == "item9" and instrument.id == "phq9":
                    # About one client in three endorses the risk question.
                    value = rng.choice(choices[1:]) if rng.random() < 0.35 else 0
                else:
                    value = rng.choice(choices)
                given[item.link_id] = value
                form[f"{instrument.id}__{item.link_id}"] = str(value)
            result = score(instrument, given)
            totals[instrument.id] = result.total
            risk = risk or any(f.startswith("risk:") for f in result.flags)
        thanks = rng.random() < 0.25
        if thanks:
            form |= {"thanks_text": "Thank you for listening.", "thanks_to": "team"}
        row = {"token": token, "form": form, "answers": answers, "totals": totals}
        links.append(row | {"risk": risk, "thanks": thanks})
    print(json.dumps({"links": links, "baseline": baseline}))


def check_main() -> None:
    """Print what was lost and what is half-written, given the plan and what was acknowledged."""
    from alliance.opaque import token_hash

    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    acknowledged = set(plan["acknowledged"])
    lost: list[str] = []
    half: list[str] = []
    completed = 0
    for n, expected in enumerate(plan["links"]):
        found = _stored(token_hash(expected["token"]))
        completed += found["completed"]
        half += [f"link {n}: {problem}" for problem in _half_written(found, expected)]
        if expected["token"] in acknowledged:
            lost += [f"link {n}: {problem}" for problem in _missing(found, expected)]
    risky = sum(1 for row in plan["links"] if row["risk"] and row["token"] in acknowledged)
    half += _orphans(plan["baseline"]["audit"])
    tasks = _tasks(plan["baseline"])
    half += tasks.pop("problems")
    found = {"completed": completed, "risk_submissions": risky, "lost": lost, "half_written": half}
    print(json.dumps(found | tasks))


def _stored(hashed: str) -> dict[str, Any]:
    """What the database holds for one link."""
    from alliance.agency.models import Thanks
    from alliance.alerts.models import Alert
    from alliance.audit.models import AuditEntry
    from alliance.measures.models import MeasureLink, Response

    link = MeasureLink.objects.select_related("encounter").get(token_hash=hashed)
    submits = list(
        AuditEntry.objects.filter(
            action="response.submit", object_type="link", object_id=str(link.pk)
        )
    )
    risk_alerts = []
    for entry in submits:
        # A submission's entries are appended together at its end: its alerts, then the submit.
        before = AuditEntry.objects.filter(
            chain=entry.chain, seq__lt=entry.seq, seq__gte=entry.seq - 10
        ).order_by("-seq")
        for earlier in before:
            if earlier.action not in {"alert.open", "alert.refresh"}:
                break
            if earlier.request_id == entry.request_id and earlier.detail.get("kind") == "risk":
                risk_alerts.append(int(earlier.object_id))
    return {
        "instruments": [i for i in link.instruments if i != "alliance-goal-progress"],
        "completed": link.completed_at is not None,
        "responses": {
            r.instrument_id: {"answers": r.answers, "total": r.total, "complete": r.complete}
            for r in Response.objects.filter(link=link)
        },
        "submits": len(submits),
        "risk_alerts": list(
            Alert.objects.filter(
                pk__in=risk_alerts, kind="risk", episode_id=link.encounter.episode_id
            ).values_list("pk", flat=True)
        ),
        "thanks": Thanks.objects.filter(link=link).count(),
    }


def _half_written(found: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """A link's rows that only part of a transaction could have left."""
    problems = []
    done, responses = found["completed"], found["responses"]
    if done and sorted(responses) != sorted(found["instruments"]):
        problems.append(f"completed with responses to {sorted(responses)} only")
    if not done and responses:
        problems.append("responses stored for a link never completed")
    if found["submits"] != (1 if done else 0):
        problems.append(f"{found['submits']} response.submit audit entries (completed: {done})")
    for instrument, row in responses.items():
        if not row["answers"] or row["total"] is None or not row["complete"]:
            problems.append(f"the {instrument} response has no answers or no score")
    if found["thanks"] != (1 if done and expected["thanks"] else 0):
        problems.append(f"{found['thanks']} thank-you rows (completed: {done})")
    return problems


def _missing(found: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What an acknowledged link lacks of what the client sent."""
    if not found["completed"]:
        return ["acknowledged but not stored"]
    problems = []
    for instrument, total in expected["totals"].items():
        sent = {"total": total, "answers": expected["answers"][instrument], "complete": True}
        row = found["responses"].get(instrument)
        if row != sent:
            problems.append(f"acknowledged but the {instrument} response differs: {row}")
    if expected["risk"] and not found["risk_alerts"]:
        problems.append("acknowledged with item 9 endorsed, but no risk alert was raised")
    return problems


def _orphans(audit_baseline: int) -> list[str]:
    """Rows anywhere that point at nothing, or that their transaction's other rows are missing."""
    from alliance.alerts.models import Alert
    from alliance.audit.models import AuditEntry
    from alliance.measures.models import Response

    problems = []
    unclaimed = Response.objects.filter(link__isnull=False, link__completed_at__isnull=True)
    problems += [f"response #{pk} of an open link" for pk in _pks(unclaimed)]
    dangling = Alert.objects.filter(response__link__isnull=False).filter(
        response__link__completed_at__isnull=True
    )
    problems += [f"alert #{pk} points at an unsubmitted response" for pk in _pks(dangling)]
    entries = AuditEntry.objects.filter(
        pk__gt=audit_baseline, action__in=["alert.open", "alert.refresh"]
    )
    named = {int(pk) for pk in entries.values_list("object_id", flat=True)}
    missing = named - set(Alert.objects.filter(pk__in=named).values_list("pk", flat=True))
    problems += [f"audit names alert #{pk}, which does not exist" for pk in sorted(missing)]
    blank = Alert.objects.filter(pk__in=named, response__isnull=True)
    problems += [f"alert #{pk} of a submission names no response" for pk in _pks(blank)]
    return problems


def _pks(rows: Any) -> list[int]:
    return sorted(set(rows.values_list("pk", flat=True)))


def _tasks(baseline: dict[str, Any]) -> dict[str, Any]:
    """The queue and the outbox agree with the alerts and with each other (since the demo)."""
    from django_tasks_db.models import DBTaskResult

    from alliance.alerts.actions import notice_recipients
    from alliance.alerts.models import Alert
    from alliance.audit.models import AuditEntry
    from alliance.notify.models import Message

    problems = []
    tasks = list(
        DBTaskResult.objects.exclude(pk__in=baseline["tasks"]).values(
            "task_path", "status", "args_kwargs", "return_value"
        )
    )
    # Each alert's opening, and each new risk answer on it, wrote one notice per recipient in
    # its transaction, with one job that sends them.
    caused: Counter[int] = Counter()
    for action, object_id, detail in AuditEntry.objects.filter(
        pk__gt=baseline["audit"], action__in=["alert.open", "alert.refresh"]
    ).values_list("action", "object_id", "detail"):
        if action == "alert.open" or detail.get("kind") == "risk":
            caused[int(object_id)] += 1
    recipients = {a.pk: len(notice_recipients(a)) for a in Alert.objects.filter(pk__in=caused)}
    notice_jobs = [t for t in tasks if t["task_path"] == NOTICES]
    jobs = Counter(t["args_kwargs"]["args"][0] for t in notice_jobs)
    wanted = Counter({pk: n for pk, n in caused.items() if recipients.get(pk)})
    if jobs != wanted:
        problems.append(f"notice jobs per alert {dict(jobs)} != alert entries {dict(wanted)}")
    in_jobs = Counter(pk for t in notice_jobs for pk in t["args_kwargs"]["args"][1])
    problems += [f"message #{pk} is in {n} notice jobs" for pk, n in in_jobs.items() if n > 1]
    deliveries = [t for t in tasks if t["task_path"] == DELIVER]
    delivered = {t["args_kwargs"]["args"][0] for t in deliveries}
    new = Message.objects.filter(pk__gt=baseline["message"])
    messages = set(new.values_list("pk", flat=True))
    covered = set(in_jobs) | delivered
    problems += [f"message #{pk} has no job to send it" for pk in sorted(messages - covered)]
    strays = {pk for pk in covered if pk > baseline["message"]} - messages
    problems += [f"a job sends missing message #{pk}" for pk in sorted(strays)]
    problems += [f"task {t['task_path']} failed" for t in tasks if t["status"] == "FAILED"]
    notices = new.filter(kind__startswith="alert.").count()
    expected = sum(n * recipients.get(pk, 0) for pk, n in caused.items())
    if notices != expected:
        problems.append(f"{notices} notices in the outbox; the alert entries call for {expected}")
    # A job the kill caught running stays RUNNING: django-tasks runs each once at most. Its
    # emails not sent by then stay unsent (the outbox keeps them, for a resend).
    sending_jobs = notice_jobs + deliveries
    running = [t for t in sending_jobs if t["status"] == "RUNNING"]
    finished = [t for t in sending_jobs if t["status"] != "RUNNING"]
    sending = {pk for t in running for pk in _message_ids(t)}
    sending -= {pk for t in finished for pk in _message_ids(t)}
    return {
        "problems": problems,
        "alerts": len(caused),
        "notices": notices,
        "stranded": dict(Counter(t["task_path"] for t in tasks if t["status"] == "RUNNING")),
        "emails_never_sent": Message.objects.filter(pk__in=sending, sent_at__isnull=True).count(),
    }


def _message_ids(task: Mapping[str, Any]) -> list[int]:
    """The messages a notice job (alert id, message ids) or a delivery job (message id) sends."""
    args = task["args_kwargs"]["args"]
    return list(args[1]) if task["task_path"] == NOTICES else [args[0]]


def _in_subprocess(function: str, args: list[str], env: dict[str, str]) -> Any:
    code = f"import django; django.setup(); from tests.test_crash_harness import {function}; "
    done = scratch_run([sys.executable, "-c", code + f"{function}()", *args], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the clients, the server and the killer ------------------------------------------------------


@dataclass
class Link:
    token: str
    form: dict[str, str]
    cookie: str = ""  # the CSRF cookie and token, from the page's first GET
    csrf: str = ""
    posted: bool = False


@dataclass
class Tally:
    sent: int = 0  # POSTs that left the client
    retried: int = 0  # of them, POSTs of a link sent before without an answer
    repeated: int = 0  # retries answered "already received": the first had committed
    kills: int = 0  # SIGKILLs while submitting (the run also ends with one)
    acknowledged: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)  # other answers while the server ran
    seconds: float = 0.0


class Server:
    """`alliance serve` in its own process group, so a kill takes gunicorn and the worker."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*ALLIANCE, "serve", "--port", str(self.port), "--workers", "2"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not self.listening():
            assert self.process.poll() is None, f"the server stopped; see {self.log}"
            assert time.monotonic() < deadline, f"the server did not start; see {self.log}"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to every process of the server: nothing gets to flush or finish."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        # Its workers may hold the port a moment longer; the next start must not meet them.
        deadline = time.monotonic() + 30
        while self.listening():
            assert time.monotonic() < deadline, "a killed server still listens"
            time.sleep(0.02)

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                # A connection to oneself (an ephemeral port equal to ours) is no server.
                return bool(probe.getsockname() != probe.getpeername())
        except OSError:
            return False


def _submit(port: int, link: Link, tally: Tally, lock: threading.Lock) -> str:
    """One client's attempt: "ack", "down (…)" (no server), or what else it was answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if not link.csrf:
            conn.request("GET", f"/m/{link.token}/")
            page = conn.getresponse()
            body = page.read().decode()
            if page.status != 200:
                return f"GET {page.status}"
            cookies = [c.split(";")[0] for c in page.headers.get_all("Set-Cookie") or []]
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
            if not found or not any(c.startswith("csrftoken=") for c in cookies):
                return "GET without the form"
            link.cookie = next(c for c in cookies if c.startswith("csrftoken="))
            link.csrf = found.group(1)
        conn.request(
            "POST",
            f"/m/{link.token}/",
            urlencode({**link.form, "csrfmiddlewaretoken": link.csrf}),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": link.cookie,
                "Origin": f"http://127.0.0.1:{port}",
            },
        )
        with lock:
            tally.sent += 1
            tally.retried += link.posted
        link.posted = True
        answer = conn.getresponse()
        text = answer.read().decode()
        if answer.status == 200 and THANKS in text:
            with lock:
                tally.repeated += ALREADY in text
            return "ack"
        return f"POST {answer.status}"
    except (OSError, http.client.HTTPException) as exc:
        return f"down ({type(exc).__name__})"
    finally:
        conn.close()


def _round(
    server: Server, todo: list[Link], tally: Tally, kill: tuple[int, float] | None
) -> list[Link]:
    """Submit from CLIENTS threads until done or killed; returns the links not acknowledged.

    `kill`: after this many acknowledgements in this round, wait this many seconds, then
    SIGKILL the server (requests then in flight fail, or commit without their answer).
    """
    queue, left = deque(todo), []
    lock = threading.Lock()
    progress = threading.Condition()
    acks = [0]
    killed = threading.Event()
    finished = threading.Event()

    def client() -> None:
        while not killed.is_set():
            with lock:
                if not queue:
                    return
                link = queue.popleft()
            outcome = _submit(server.port, link, tally, lock)
            with lock:
                if outcome == "ack":
                    tally.acknowledged.add(link.token)
                else:
                    left.append(link)
                    if not (outcome.startswith("down") and killed.is_set()):
                        tally.refused[outcome] += 1
            if outcome == "ack":
                with progress:
                    acks[0] += 1
                    progress.notify_all()

    def killer(after: int, pause: float) -> None:
        with progress:
            progress.wait_for(lambda: acks[0] >= after or finished.is_set())
        if finished.is_set():
            return
        time.sleep(pause)
        killed.set()  # before the kill: a failure seen after this moment is the kill's
        server.kill()
        tally.kills += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    if kill is not None:
        threads.append(threading.Thread(target=killer, args=kill))
    for thread in threads:
        thread.start()
    for thread in threads[:CLIENTS]:
        thread.join()
    with progress:
        finished.set()
        progress.notify_all()
    for thread in threads[CLIENTS:]:
        thread.join()
    return left + list(queue)


def run_harness(
    server: Server, links: list[Link], *, kills: int, seed: int, pause: float = 0.3
) -> Tally:
    """Answer every link through `kills` random SIGKILLs; the last round ends with one too."""
    rng = random.Random(seed)
    tally = Tally()
    started = time.monotonic()
    todo = links
    for _ in range(kills + 3):  # a round without a kill must finish; two more for refusals
        if not todo:
            break
        server.start()
        kill = None
        if tally.kills < kills:
            share = max(2, len(todo) // (kills - tally.kills + 1))
            kill = (rng.randint(max(1, share // 2), share), rng.uniform(0, pause))
        try:
            todo = _round(server, todo, tally, kill)
        finally:
            server.kill()
    tally.seconds = time.monotonic() - started
    return tally


# --- the report ---------------------------------------------------------------------------------


@dataclass
class Report:
    engine: str
    links: int
    tally: Tally
    check: dict[str, Any]
    audit: str

    @property
    def lost(self) -> list[str]:
        return list(self.check["lost"])

    @property
    def half_written(self) -> list[str]:
        return list(self.check["half_written"])

    def line(self) -> str:
        t = self.tally
        return (
            f"crash harness on {self.engine}: {self.links} links, {CLIENTS} concurrent clients, "
            f"{t.sent} POSTs ({t.retried} retries, {t.repeated} answered 'already received'), "
            f"{t.kills} SIGKILLs + 1 at the end, {len(t.acknowledged)} acknowledged, "
            f"{len(self.lost)} lost, {len(self.half_written)} half-written; "
            f"{self.check['risk_submissions']} acknowledged with item 9 endorsed, "
            f"{self.check['alerts']} alerts, {self.check['notices']} notices, "
            f"tasks left RUNNING by kills {self.check['stranded']} (so "
            f"{self.check['emails_never_sent']} emails never sent); "
            f"refused {dict(t.refused)}; {t.seconds:.0f}s; audit: {self.audit}"
        )


def crash_run(
    tmp_path: Path, database_url: str, *, links: int, kills: int, fault: str = "", **kw: Any
) -> Report:
    env = scratch_env(tmp_path, database_url)
    env.pop("ALLIANCE_FAULT", None)
    if fault:
        env["ALLIANCE_FAULT"] = fault
    made = _in_subprocess("setup_main", [str(links), str(SEED)], env)
    plan = [Link(token=row["token"], form=row["form"]) for row in made["links"]]
    tally = run_harness(Server(env, tmp_path / "server.log"), plan, kills=kills, **kw)
    made["acknowledged"] = sorted(tally.acknowledged)
    (tmp_path / "plan.json").write_text(json.dumps(made), encoding="utf-8")
    check = _in_subprocess("check_main", [str(tmp_path / "plan.json")], env)
    verify = scratch_run([*ALLIANCE, "audit", "verify"], env)
    engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    report = Report(engine, links, tally, check, (verify.stdout + verify.stderr).strip())
    print(report.line())
    return report


def assert_sound(report: Report) -> None:
    """The harness's verdict: nothing acknowledged was lost, nothing is half-written."""
    assert not report.lost, f"{len(report.lost)} acknowledged submission(s) lost: {report.lost}"
    assert not report.half_written, f"half-written: {report.half_written}"
    assert report.audit.startswith("OK"), report.audit


# --- the tests ----------------------------------------------------------------------------------


def test_every_acknowledged_submission_survives_random_sigkills_whole(
    tmp_path, scratch_database_url
):
    report = crash_run(tmp_path, scratch_database_url, links=LINKS, kills=KILLS, seed=SEED)

    assert_sound(report)
    assert report.tally.kills == KILLS
    assert len(report.tally.acknowledged) == LINKS, report.line()
    assert report.check["completed"] == LINKS
    assert report.tally.sent >= LINKS
    assert report.check["risk_submissions"] > 0  # so risk alerts had to be raised
    assert report.check["alerts"] > 0
    assert not report.tally.refused, report.line()


def test_the_harness_catches_a_planted_ack_before_commit(tmp_path, scratch_database_url):
    # The kill comes the moment the n-th thank-you of the round arrives (n seeded, 10 to 20),
    # with no pause: well inside the fault's two seconds before that submission's write, so it
    # is acknowledged and lost. The run's final kill, right after the last thank-you, loses more.
    report = crash_run(
        tmp_path,
        scratch_database_url,
        links=40,
        kills=1,
        fault="ack-before-commit",
        seed=SEED,
        pause=0.0,
    )

    assert report.lost, report.line()
    assert all(problem.endswith("acknowledged but not stored") for problem in report.lost)
    with pytest.raises(AssertionError, match="acknowledged submission"):
        assert_sound(report)


def test_the_planted_fault_is_refused_in_production(tmp_path):
    with pytest.raises(config.SettingsError, match="refused with ALLIANCE_PROFILE=production"):
        config.planted_fault({"ALLIANCE_FAULT": "ack-before-commit"}, production=True)
    with pytest.raises(config.SettingsError, match="not a planted fault"):
        config.planted_fault({"ALLIANCE_FAULT": "drop-tables"}, production=False)
    assert config.planted_fault({}, production=True) == ""

    env = scratch_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env |= {
        "ALLIANCE_PROFILE": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "alliance.example.org",
        "ALLIANCE_FAULT": "ack-before-commit",
    }
    started = scratch_run([*ALLIANCE, "migrate"], env)

    assert started.returncode == 2
    assert started.stderr.strip().splitlines() == [
        "alliance: setting error: ALLIANCE_FAULT plants a bug for the crash-consistency test "
        "and is refused with ALLIANCE_PROFILE=production; unset it"
    ]
    assert not (tmp_path / "db.sqlite3").exists()
