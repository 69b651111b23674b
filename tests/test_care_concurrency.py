"""Six clinicians editing one care-plan item and one needs profile at once: no update is lost.

Real processes on the run's own database engine (a SQLite file, or a new PostgreSQL database
when DATABASE_URL points there), as in test_concurrent_writers. Each worker reads the item,
appends its own token ("w3n7") to the item's action and saves it with the version it read
through alliance.care.actions.do_edit_item, re-reading and retrying on ItemConflict; every third
round it also saves a new needs-profile version through do_save_needs (its token as the reason),
retrying on NeedsConflict. Workers wait for one another before starting, so their
read-modify-write cycles overlap.

A lost update is visible three ways: a token a worker saved is missing from the final text, the
item's version is lower than the number of saves plus one, and two audit entries record the
same new version. With the version check taken out of do_edit_item (the
`found.version != version` test and the `version=version` filter of its UPDATE), this test
failed on both engines: "31 saved edits were overwritten" (of 72) on SQLite, 41 on
PostgreSQL (the numbers vary from run to run).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import scratch_env, scratch_run

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 6
EDITS_EACH = 12  # 72 tokens of at most 5 characters and a space: within the 600 of an action
NEEDS_EVERY = 3  # a needs-profile version every third edit: 4 per worker
START_TIMEOUT = 60

SETUP = """
import json, django
django.setup()
from datetime import date, timedelta
from django.contrib.auth import get_user_model
from alliance.accounts.actor import actor_for
from alliance.accounts.models import Discipline, Membership, Organisation, Role, Team
from alliance.care.actions import ItemIn, do_add_consent, do_add_item
from alliance.clients.models import CareRole, CareTeamMember, Client, Episode, Phase

org = Organisation.objects.create(name="Concurrent Clinic", slug="concurrent")
team = Team.objects.create(organisation=org, name="One team")
client = Client.objects.create(
    organisation=org, team=team, display_name="Shared Plan", record_number="CC-001"
)
Episode.objects.create(
    organisation=org, client=client, opened_on=date.today() - timedelta(weeks=6),
    phase=Phase.WORKING,
)
members = []
for n, discipline in enumerate(Discipline.values):
    user = get_user_model().objects.create_user(username=f"writer{n}", password=None)
    member = Membership.objects.create(
        user=user, organisation=org, role=Role.CLINICIAN, discipline=discipline
    )
    member.teams.set([team])
    CareTeamMember.objects.create(
        organisation=org, client=client, membership=member, discipline=discipline,
        care_role=CareRole.LEAD if n == 0 else CareRole.MEMBER,
    )
    members.append(member)
lead = actor_for(members[0].user, members[0].pk)
item = do_add_item(lead, client.pk, ItemIn(members[0].discipline, "Shared need"))
# The item is psychology's; the client agrees that every other discipline sees the whole plan.
for member in members[1:]:
    do_add_consent(lead, client.pk, discipline=member.discipline)
print(json.dumps({"client": client.pk, "item": item.pk, "members": [m.pk for m in members]}))
"""

WORKER = """
import json, random, sys, time, django
from pathlib import Path
django.setup()
from alliance.accounts.actor import actor_for
from alliance.accounts.models import Membership
from alliance.care.actions import (
    ItemConflict, ItemIn, NeedsConflict, ShareIn, current_needs, do_edit_item, do_save_needs,
)
from alliance.care.models import CareItem

w, member_id, client_id, item_id, edits, every = (int(a) for a in sys.argv[1:7])
folder = Path(sys.argv[7])
member = Membership.objects.select_related("user").get(pk=member_id)
actor = actor_for(member.user, member.pk)
(folder / f"ready-{w}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)

saved, needs_saved, conflicts, needs_conflicts = [], [], 0, 0
for n in range(edits):
    token = f"w{w}n{n}"
    while True:  # read, modify, write with the version read; on a conflict, read again
        row = CareItem.objects.get(pk=item_id)
        change = ItemIn(
            row.discipline, row.need, row.goal, f"{row.action} {token}".strip(),
            row.owner_id, row.due_on, row.status,
        )
        try:
            do_edit_item(actor, item_id, change, version=row.version, client_id=client_id)
        except ItemConflict:
            conflicts += 1
            time.sleep(random.random() / 100)  # as a person would, re-read a moment later
            continue
        saved.append(token)
        break
    if n % every:
        continue
    while True:
        episode = CareItem.objects.get(pk=item_id).episode
        current = current_needs(episode)
        try:
            do_save_needs(
                actor, client_id, base_version=current.version if current else 0,
                shares=[ShareIn(member.discipline, 60, member.pk), ShareIn("nursing", 40)]
                if member.discipline != "nursing" else [ShareIn("nursing", 100, member.pk)],
                reason=f"needs {token}", agreed_with_client=False,
            )
        except NeedsConflict:
            needs_conflicts += 1
            time.sleep(random.random() / 100)
            continue
        needs_saved.append(f"needs {token}")
        break
print(json.dumps({"saved": saved, "needs_saved": needs_saved, "conflicts": conflicts,
                  "needs_conflicts": needs_conflicts}))
"""

FINAL = """
import json, sys, django
django.setup()
from alliance.audit.models import AuditEntry
from alliance.care.models import CareItem, NeedsProfile

item = CareItem.objects.get(pk=int(sys.argv[1]))
audited = [
    e.detail["version"]
    for e in AuditEntry.objects.filter(
        action="care_item.update", outcome="ok", object_id=str(item.pk)
    )
    if "version" in e.detail
]
profiles = NeedsProfile.objects.filter(episode_id=item.episode_id).order_by("version")
print(json.dumps({
    "action": item.action,
    "version": item.version,
    "audited_versions": sorted(audited),
    "needs": [[p.version, p.reason, p.shares.count()] for p in profiles],
}))
"""


def _json(result: Any, what: str) -> Any:
    assert result.returncode == 0, f"{what} failed:\n{result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def _start_together(workers: list[subprocess.Popen[str]], folder: Path) -> None:
    """Lets the workers go once every one has set Django up, so their edits overlap."""
    deadline = time.monotonic() + START_TIMEOUT
    while len(list(folder.glob("ready-*"))) < len(workers):
        assert all(w.poll() is None for w in workers), "a worker died before starting"
        assert time.monotonic() < deadline, "the workers did not start in time"
        time.sleep(0.05)
    (folder / "go").touch()


def test_six_clinicians_editing_one_item_and_one_profile_lose_no_update(
    tmp_path, scratch_database_url
):
    env = scratch_env(tmp_path, scratch_database_url)
    migrate = scratch_run([sys.executable, "-m", "alliance.cli", "migrate"], env)
    assert migrate.returncode == 0, migrate.stderr
    world = _json(scratch_run([sys.executable, "-c", SETUP], env), "setup")
    assert len(world["members"]) == WORKERS
    folder = tmp_path / "start"
    folder.mkdir()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                *map(str, (w, member, world["client"], world["item"], EDITS_EACH, NEEDS_EVERY)),
                str(folder),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w, member in enumerate(world["members"])
    ]
    _start_together(workers, folder)
    reports = []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=240)
        assert worker.returncode == 0, stderr[-2000:]
        reports.append(json.loads(stdout.strip().splitlines()[-1]))

    saved = [token for r in reports for token in r["saved"]]
    needs_saved = [reason for r in reports for reason in r["needs_saved"]]
    assert len(saved) == WORKERS * EDITS_EACH  # every worker finished every edit
    final = _json(scratch_run([sys.executable, "-c", FINAL, str(world["item"])], env), "final")

    # The item: every saved token is in the text, once, and each save made one version.
    tokens = final["action"].split()
    lost = sorted(set(saved) - set(tokens))
    assert lost == [], f"{len(lost)} saved edits were overwritten: {lost}"
    assert sorted(tokens) == sorted(saved)
    assert final["version"] == len(saved) + 1, (
        f"{len(saved)} saves but the item is at version {final['version']}"
    )
    assert final["audited_versions"] == list(range(2, len(saved) + 2))
    # Each worker's own edits stay in the order it made them.
    for w in range(WORKERS):
        mine = [t for t in tokens if t.startswith(f"w{w}n")]
        assert mine == [f"w{w}n{n}" for n in range(EDITS_EACH)]

    # Without a conflict the run proved nothing: the writers must have overlapped.
    assert sum(r["conflicts"] for r in reports) > 0, "the workers never overlapped"

    # The needs profile: versions 1..K without a gap or a double, one per save, all kept.
    versions = [v for v, _, _ in final["needs"]]
    assert len(needs_saved) == WORKERS * len(range(0, EDITS_EACH, NEEDS_EVERY))
    assert versions == list(range(1, len(needs_saved) + 1))
    assert sorted(reason for _, reason, _ in final["needs"]) == sorted(needs_saved)
    assert all(shares >= 1 for _, _, shares in final["needs"])

    verify = scratch_run([sys.executable, "-m", "alliance.cli", "audit", "verify"], env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("OK: ")
