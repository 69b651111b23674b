"""`alliance synth`: a fictional clinic with a realistic synthetic population, at scale.

For benchmarks and for testing the outcome report against an independent computation. Every
person here is invented: clients are "Synthetic client" records with made-up names, staff have
unusable passwords, goals are drawn from a short list of generic phrases.

What one episode looks like (one client, one episode each):

- opened on a day of the last three years; an assessment, then weekly therapy sessions. The
  number of measured sessions (attended, the assessment included) and the PHQ-9 scores at each
  come from alliance.trajectories.simulate (log-linear recovery by intake severity, client-level
  random effects, 8% ground-truth deteriorators); GAD-7 is derived from the PHQ-9 (0.8 x PHQ-9
  plus a client offset and session noise, clipped to 0-21), so the two correlate as they do in
  routine care;
- how it ends: planned (55%), mutually agreed early (10%), the client stopped attending (25%:
  their course is cut short and ends with one or two missed sessions, the episode closed two
  weeks later), referred on (6%), other (4%); those cut short keep the first part of their
  trajectory. Episodes whose sessions reach today are still open (engagement, working or ending
  phase) with one session scheduled;
- some therapy sessions are missed (did not attend, or cancelled); about one in ten;
- PHQ-9 and GAD-7 before every attended session (item answers that add up to the total, scored by
  alliance.measurement.score); 1% of sessions' scores came from another system (FHIR, no
  encounter), and 0.5% of sessions have an extra, incomplete PHQ-9 (no total) from the day before;
- half the episodes use the alliance check, answered after most attended therapy sessions;
- a third have one to three goals (10% retired later), rated at about half the sessions;
- a quarter of planned endings have a follow-up check-in a month after treatment ended: answered
  (a follow-up encounter with PHQ-9 and GAD-7) when that day has passed, else scheduled;
- each client has a lead clinician of their team (3% changed lead part-way: the first lead place
  ended, a second one opened; 2% had a colleague added as a second lead for a week, whose place
  then ended while the first stayed open), and 10% a consultant; 2% of clients have no team.

Rows are written with raw multi-row inserts, 20,000 episodes per transaction: executemany on
SQLite, COPY on PostgreSQL. Ids are reserved per table and chunk (on PostgreSQL under an
EXCLUSIVE table lock, so concurrent writers wait for the chunk rather than collide with it).
One audit entry (`synth.load`) records the counts; no entry is written per row.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone
from numpy.typing import NDArray

from alliance.accounts.models import Discipline, Membership, Organisation, Role, Team, User
from alliance.agency.models import (
    Author,
    ChangeKind,
    CheckIn,
    CheckInStatus,
    Goal,
    GoalChange,
    GoalRating,
    GoalStatus,
)
from alliance.alerts.actions import ALLIANCE_CHECK
from alliance.audit.log import record
from alliance.clients.models import (
    Attendance,
    CareRole,
    CareTeamMember,
    Client,
    Encounter,
    EncounterKind,
    EndingReason,
    Episode,
    Phase,
)
from alliance.demo.generate import FIRST, LAST_INITIAL
from alliance.measurement import load_instrument, score
from alliance.measures.models import Response, Source, Timing
from alliance.trajectories.simulate import simulate_cohort

Int = NDArray[np.int64]
Bool = NDArray[np.bool_]
Obj = NDArray[np.object_]

CHUNK = 20_000  # episodes per transaction
ROWS = 50_000  # rows per executemany / COPY slice: bounds the Python objects alive at once
EPISODES_PER_CLINICIAN = 300
YEARS = 3
PATTERNS = 32  # item-answer patterns per total
TEAMS = (
    "Adult community team",
    "Primary care wellbeing team",
    "Long-term conditions team",
    "Young adults team",
)
# Leads' disciplines, most of them therapists.
DISCIPLINES = (
    (Discipline.PSYCHOLOGY, 0.6),
    (Discipline.NURSING, 0.15),
    (Discipline.SOCIAL_WORK, 0.1),
    (Discipline.PEER_SUPPORT, 0.05),
    (Discipline.PSYCHIATRY, 0.05),
    (Discipline.PHYSICAL_HEALTH, 0.05),
)
# (reason, share); the cut-short rule for each is in _episodes.
ENDINGS = (
    (EndingReason.PLANNED, 0.55),
    (EndingReason.MUTUAL, 0.10),
    (EndingReason.DROPPED_OUT, 0.25),
    (EndingReason.REFERRED_ON, 0.06),
    (EndingReason.OTHER, 0.04),
)
PLANNED, MUTUAL, DROPPED, REFERRED, OTHER = range(5)
ATTEND = 0.9  # chance a therapy session is attended (else: did not attend 70%, cancelled 30%)
FOLLOW_UP_SHARE = 0.25  # of planned and mutual endings
FOLLOW_UP_DAYS = 28
HANDOVER_SHARE = 0.03
COVER_SHARE = 0.02  # a colleague added as a second lead for a week, then their place ended
CONSULTANT_SHARE = 0.10
NO_TEAM_SHARE = 0.02
ALLIANCE_SHARE = 0.5  # of episodes; then ALLIANCE_SESSION_SHARE of their therapy sessions
ALLIANCE_SESSION_SHARE = 0.7
GOAL_SHARE = 0.35
GOAL_RATED_SHARE = 0.5
GOAL_RETIRED_SHARE = 0.10
FHIR_SHARE = 0.01
INCOMPLETE_SHARE = 0.005
DETERIORATING = 0.08
# GAD-7 from PHQ-9: about 13 at a PHQ-9 intake of 16, and at its cut-off (8) where the PHQ-9 is
# at its own (10), so that the pair's recovery is not decided by one measure alone.
GAD_PER_PHQ = 0.8
GOAL_TEXTS = (
    "Get back to walking every morning",
    "Sleep through most nights",
    "Go back to work part-time",
    "Meet a friend once a week",
    "Worry less about my health",
    "Feel able to say no at work",
    "Cook a proper meal most days",
    "Take the bus on my own again",
    "Spend less time in bed in the day",
    "Enjoy something again",
    "Argue less at home",
    "Get through a shop without panicking",
)
STAFF_FIRST = ("Alex", "Noor", "Sam", "Jo", "Priya", "Kim", "Rue", "Casey", "Morgan", "Lee")
STAFF_LAST = ("Morgan", "Haddad", "Okafor", "Lindqvist", "Raman", "Tanaka", "Adeyemi", "Ward")
DAY = 86_400
MINUTE = 60
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class SynthError(Exception):
    """A reason not to load (e.g. the slug is taken); nothing has been written."""


@dataclass
class Counts:
    episodes: int = 0
    clients: int = 0
    encounters: int = 0
    responses: int = 0
    care_team_places: int = 0
    goals: int = 0
    goal_changes: int = 0
    goal_ratings: int = 0
    check_ins: int = 0
    ended: int = 0

    def add(self, other: Counts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Loaded:
    organisation_id: int
    slug: str
    engine: str
    seconds: float
    cpu_seconds: float  # this process's CPU time (on SQLite the engine's work is in it)
    counts: Counts
    teams: int
    clinicians: int

    def summary(self) -> str:
        c = self.counts
        rate = c.episodes / self.seconds if self.seconds > 0 else 0.0
        return (
            f"Synthesised {c.episodes} episodes ({c.ended} ended), {c.encounters} encounters, "
            f"{c.responses} responses, {c.goals} goals with {c.goal_ratings} ratings, "
            f"{self.clinicians} clinicians in {self.teams} teams for {self.slug!r} on "
            f"{self.engine} in {self.seconds:.1f} s ({rate:,.0f} episodes/s; "
            f"{self.cpu_seconds:.1f} s CPU in this process)."
        )


@dataclass(frozen=True)
class Staff:
    """The clinic's people as arrays: leads by team, and the consultants."""

    organisation_id: int
    clinicians: Int  # membership ids
    clinician_team: Int  # index into team_ids
    team_ids: Int
    consultants: Int


# --- answer patterns: item answers behind every total, scored by the measurement core ---------


@dataclass(frozen=True)
class Patterns:
    """For each total t and pattern p: answers JSON, band label and flags JSON."""

    version: str
    answers: Obj  # shape (max_total + 1, PATTERNS) of str
    band: Obj
    flags: Obj


def _spread(rng: random.Random, total: int, items: Sequence[str], top: int) -> dict[str, int]:
    answers = dict.fromkeys(items, 0)
    for _ in range(total):
        open_items = [i for i in items if answers[i] < top]
        answers[rng.choice(open_items)] += 1
    return answers


@cache
def patterns(instrument_id: str) -> Patterns:
    """Answer patterns per total, each checked with the scoring the app itself uses."""
    instrument = load_instrument(instrument_id)
    scored = [i.link_id for i in instrument.items if i.scored]
    top = max(o.score for o in instrument.items[0].options)
    rng = random.Random(f"synth-{instrument_id}")  # noqa: S311 - the same patterns every run
    size = instrument.max_total + 1
    shape = (size, PATTERNS)
    answers, bands, flags = (np.empty(shape, dtype=object) for _ in range(3))
    for total in range(size):
        for p in range(PATTERNS):
            if instrument_id == "phq9":
                # Item 9 (thoughts of self-harm) only now and then, and only when severe.
                item9 = max(total - 24, 1 if total >= 15 and rng.random() < 0.15 else 0)
                given = _spread(rng, total - item9, scored[:8], top)
                given["item9"] = item9
            else:
                given = _spread(rng, total, scored, top)
            result = score(instrument, given)
            if result.total != total or not result.complete:
                raise SynthError(f"{instrument_id} answers {given} do not score {total}")
            answers[total, p] = json.dumps(given, separators=(", ", ": "))
            bands[total, p] = result.band or ""
            flags[total, p] = json.dumps(result.flags)
    return Patterns(instrument.version, answers, bands, flags)


@cache
def incomplete_phq9() -> tuple[str, str, str]:
    """An abandoned PHQ-9 (answers JSON, band, flags): one item unanswered, so no total."""
    instrument = load_instrument("phq9")
    given = {f"item{i}": 1 for i in range(2, 10)}
    given["item9"] = 0
    result = score(instrument, given)
    if result.total is not None or result.complete:
        raise SynthError("an incomplete PHQ-9 scored as complete")
    return json.dumps(given, separators=(", ", ": ")), result.band or "", json.dumps(result.flags)


# --- writing rows: executemany on SQLite, COPY on PostgreSQL ---------------------------------


def columns_of(model: type[models.Model], names: Sequence[str]) -> list[str]:
    """The model's column names in this order; refuses a list that misses or adds a column,
    so a field added to the model later stops the load instead of leaving it unset."""
    concrete = {f.column for f in model._meta.concrete_fields}
    if set(names) != concrete or len(names) != len(concrete):
        missing = sorted(concrete - set(names))
        extra = sorted(set(names) - concrete)
        raise SynthError(
            f"synth does not match {model._meta.db_table}: missing {missing}, unknown {extra}"
        )
    return list(names)


class Writer:
    """Raw inserts into the default connection, inside the caller's transaction."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        if self.vendor not in ("sqlite", "postgresql"):
            raise SynthError(f"synth writes to SQLite or PostgreSQL, not {self.vendor}")
        self.zone = "" if self.vendor == "sqlite" else "+00:00"
        self.skip_row_checks = self.vendor == "postgresql" and _may_skip_triggers()

    def begin_chunk(self) -> None:
        """Inside the chunk's transaction, before its rows.

        PostgreSQL checks each foreign key of each row copied in with a query of its own, at
        commit (Django's constraints are deferred): most of a chunk's time. The rows are
        consistent by construction (the test checks every reference), so when the role may, the
        chunk's transaction runs in replica mode, which skips those trigger checks; it ends with
        the transaction. Without the privilege the load is slower, not different.
        """
        if self.skip_row_checks:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")

    def end_chunk(self) -> None:
        """Back to checking every trigger, in case the chunk runs inside a longer transaction
        (a test's): SET LOCAL would otherwise last until that one ends."""
        if self.skip_row_checks:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")

    def reserve(self, model: type[models.Model], n: int) -> int:
        """The first of n consecutive new ids of the model's table (n may be 0)."""
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.vendor == "sqlite":
                # The transaction (BEGIN IMMEDIATE) holds the only write lock: no one else can
                # take an id before our rows are in; AUTOINCREMENT never reuses a deleted id.
                # The table name is a model's own db_table, never input.
                sql = f'SELECT COALESCE(MAX(id), 0) FROM "{table}"'  # noqa: S608
                cursor.execute(sql)  # pattern-ok: db_table
                highest = int(cursor.fetchone()[0])
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                return max(highest, int(row[0]) if row else 0) + 1
            # Writers to the table wait until this chunk commits, so nobody takes an id from
            # the sequence between nextval and setval.
            cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')  # pattern-ok: db_table
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s)", [sequence])
            first = int(cursor.fetchone()[0])
            if n > 1:
                cursor.execute("SELECT setval(%s, %s)", [sequence, first + n - 1])
            return first

    def dates(self, days: Int) -> Obj:
        """ISO dates from day numbers since 1970-01-01."""
        return np.datetime_as_string(days.astype("datetime64[D]")).astype(object)

    def datetimes(self, seconds: Int) -> Obj:
        """Timestamps (UTC) from seconds since the epoch, as each engine stores them."""
        text = np.datetime_as_string(seconds.astype("datetime64[s]"))
        text = np.strings.replace(text, "T", " ")
        if self.zone:
            text = np.strings.add(text, self.zone)
        return text.astype(object)

    def insert(self, model: type[models.Model], names: Sequence[str], values: Sequence[Any]) -> int:
        """Write the rows given column by column (arrays or one value for every row)."""
        names = columns_of(model, names)
        lengths = {len(v) for v in values if isinstance(v, np.ndarray | list)}
        assert len(lengths) == 1, (model, lengths)
        n = lengths.pop()
        if n == 0:
            return 0
        table = model._meta.db_table
        quoted = ", ".join(f'"{c}"' for c in names)
        if self.vendor == "sqlite":
            text = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(names))})'  # noqa: S608
            raw = connection.connection
            assert raw is not None
            for rows in _slices(values, n):
                raw.executemany(text, rows)
        else:
            with connection.cursor() as cursor:
                pg = cursor.cursor
                with pg.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                    for rows in _slices(values, n):
                        for row in rows:
                            copy.write_row(row)
        return n


def _may_skip_triggers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def _slices(values: Sequence[Any], n: int) -> Iterable[Iterable[tuple[Any, ...]]]:
    """Rows as tuples of Python objects, ROWS at a time."""
    for start in range(0, n, ROWS):
        stop = min(n, start + ROWS)
        cols: list[list[Any]] = []
        for v in values:
            if isinstance(v, np.ndarray):
                cols.append(v[start:stop].tolist())
            elif isinstance(v, list):
                cols.append(v[start:stop])
            else:  # one value for every row
                cols.append([v] * (stop - start))
        yield zip(*cols, strict=True)


def _nullable(values: Int, present: Bool) -> Obj:
    out = values.astype(object)
    out[~present] = None
    return out


# --- the organisation and its staff -------------------------------------------------------


def _create_clinic(slug: str, episodes: int, rng: np.random.Generator) -> tuple[int, Staff]:
    n_clinicians = max(3, math.ceil(episodes / EPISODES_PER_CLINICIAN))
    n_teams = min(len(TEAMS), n_clinicians)
    n_consultants = max(1, n_clinicians // 12)
    usernames = [f"{slug}-clinician-{k + 1:05d}" for k in range(n_clinicians)]
    usernames += [f"{slug}-consultant-{k + 1:04d}" for k in range(n_consultants)]
    usernames.append(f"{slug}-admin")
    if User.objects.filter(username__in=usernames[:1] + usernames[-1:]).exists():
        raise SynthError(f"users named {slug}-… already exist; choose another --slug")
    org = Organisation.objects.create(name=f"Synthetic clinic {slug} (fictional)", slug=slug)
    teams = Team.objects.bulk_create(
        [Team(organisation=org, name=name) for name in TEAMS[:n_teams]]
    )
    users = [
        User(
            username=name,
            first_name=STAFF_FIRST[k % len(STAFF_FIRST)],
            last_name=f"{STAFF_LAST[k % len(STAFF_LAST)]}-{k + 1}",
            email="",
            password=make_password(None),  # unusable: no one signs in as synthetic staff
        )
        for k, name in enumerate(usernames)
    ]
    User.objects.bulk_create(users, batch_size=2000)
    users = list(User.objects.filter(username__in=usernames).order_by("username"))
    by_name = {u.username: u for u in users}
    shares = np.array([s for _, s in DISCIPLINES])
    drawn = rng.choice(len(DISCIPLINES), size=n_clinicians, p=shares / shares.sum())
    memberships = [
        Membership(
            user=by_name[usernames[k]],
            organisation=org,
            role=Role.CLINICIAN,
            discipline=DISCIPLINES[int(drawn[k])][0],
        )
        for k in range(n_clinicians)
    ]
    memberships += [
        Membership(
            user=by_name[usernames[n_clinicians + k]],
            organisation=org,
            role=Role.CONSULTANT,
            discipline=Discipline.PSYCHIATRY,
        )
        for k in range(n_consultants)
    ]
    memberships.append(Membership(user=by_name[usernames[-1]], organisation=org, role=Role.ADMIN))
    Membership.objects.bulk_create(memberships, batch_size=2000)
    saved = {
        m.user_id: m.pk for m in Membership.objects.filter(organisation=org).only("pk", "user_id")
    }
    ids = np.array([saved[by_name[name].pk] for name in usernames], dtype=np.int64)
    clinician_team = np.arange(n_clinicians, dtype=np.int64) % n_teams
    through = Membership.teams.through
    links = [
        through(membership_id=int(ids[k]), team_id=teams[int(clinician_team[k])].pk)
        for k in range(n_clinicians)
    ]
    links += [
        through(membership_id=int(ids[n_clinicians + k]), team_id=t.pk)
        for k in range(n_consultants)
        for t in teams
    ]
    through.objects.bulk_create(links, batch_size=2000)
    staff = Staff(
        organisation_id=org.pk,
        clinicians=ids[:n_clinicians],
        clinician_team=clinician_team,
        team_ids=np.array([t.pk for t in teams], dtype=np.int64),
        consultants=ids[n_clinicians : n_clinicians + n_consultants],
    )
    return org.pk, staff


# --- one chunk of episodes ------------------------------------------------------------------


@dataclass
class Chunk:
    """A chunk's rows, column by column, ready for the writer (ids already absolute)."""

    tables: list[tuple[type[models.Model], list[str], list[Any]]] = field(default_factory=list)


def _group_starts(sizes: Int) -> Int:
    return np.cumsum(sizes) - sizes


def _rank_in_group(group: Int, key: NDArray[np.float64], starts: Int) -> Int:
    """Each element's rank (0-based) by key inside its group; groups are contiguous."""
    order = np.lexsort((key, group))
    rank = np.empty(group.shape[0], dtype=np.int64)
    rank[order] = np.arange(group.shape[0], dtype=np.int64) - starts[group[order]]
    return rank


def _generate(
    writer: Writer,
    staff: Staff,
    rng: np.random.Generator,
    *,
    count: int,
    offset: int,
    today: date,
) -> tuple[Chunk, Counts]:
    """Draw `count` episodes (the offset-th onwards), reserve their ids and lay out the rows."""
    org = staff.organisation_id
    today_day = today.toordinal() - EPOCH_ORDINAL
    e_idx = np.arange(count, dtype=np.int64)

    # Trajectories: PHQ-9 at each measured session, the intake first.
    cohort = simulate_cohort(
        count, int(rng.integers(2**31)), instrument="phq9", deteriorating_fraction=DETERIORATING
    )
    length = cohort.n_sessions.astype(np.int64)  # measured sessions: assessment + therapy
    traj_start = _group_starts(length)
    phq_traj = np.empty(int(length.sum()), dtype=np.int64)
    is_first = np.zeros(phq_traj.shape[0], dtype=np.bool_)
    is_first[traj_start] = True
    phq_traj[is_first] = cohort.client_intake.astype(np.int64)
    phq_traj[~is_first] = cohort.score.astype(np.int64)
    gad_offset = rng.normal(0.0, 1.5, count)

    # Endings and how much of the course each gets.
    shares = np.array([s for _, s in ENDINGS])
    reason = rng.choice(len(ENDINGS), size=count, p=shares / shares.sum())
    attended = length.copy()
    cut = {DROPPED: 0.35, MUTUAL: 0.8, REFERRED: 0.5, OTHER: 0.5}
    for which, share in cut.items():
        mask = reason == which
        attended[mask] = 1 + rng.binomial(length[mask] - 1, share)
    therapy = attended - 1
    missed = np.where(therapy > 0, rng.negative_binomial(np.maximum(therapy, 1), ATTEND), 0)
    trailing = np.where(reason == DROPPED, 1 + rng.integers(0, 2, count), 0)
    slots = attended + missed + trailing
    opened = today_day - rng.integers(0, YEARS * 365, count)
    last_slot_day = opened + 7 * (slots - 1)
    ended_on = last_slot_day + np.where(reason == DROPPED, 14, 0)
    ended = ended_on < today_day
    hour = rng.integers(8, 18, count)  # UTC

    # Every planned slot; the middle ones (therapy before any trailing no-shows) hold the
    # missed sessions in random places.
    n_slots = int(slots.sum())
    slot_start = _group_starts(slots)
    s_ep = np.repeat(e_idx, slots)
    s_no = np.arange(n_slots, dtype=np.int64) - slot_start[s_ep]
    middle = (s_no >= 1) & (s_no < (attended + missed)[s_ep])
    key = np.where(middle, rng.random(n_slots), 2.0)
    s_missed = middle & (_rank_in_group(s_ep, key, slot_start) < missed[s_ep])
    s_missed |= s_no >= (attended + missed)[s_ep]  # the trailing no-shows
    s_day = opened[s_ep] + 7 * s_no
    happened = s_day < today_day
    # An open episode keeps its past sessions and the next one, scheduled; later ones are
    # not booked yet.
    first_future = np.zeros(n_slots, dtype=np.bool_)
    future_idx = np.flatnonzero(~happened)
    if future_idx.size:
        first_pos = np.unique(s_ep[future_idx], return_index=True)[1]
        first_future[future_idx[first_pos]] = True
    keep = happened | first_future
    s_ep, s_no, s_day = s_ep[keep], s_no[keep], s_day[keep]
    s_missed, happened = s_missed[keep], happened[keep]
    s_attended = happened & ~s_missed
    s_kind = np.where(s_no == 0, EncounterKind.ASSESSMENT.value, EncounterKind.THERAPY.value)
    no_show = rng.random(s_ep.shape[0]) < 0.7
    s_attendance = np.where(
        ~happened,
        Attendance.SCHEDULED.value,
        np.where(
            s_attended,
            Attendance.ATTENDED.value,
            np.where(no_show, Attendance.DID_NOT_ATTEND.value, Attendance.CANCELLED.value),
        ),
    )
    s_time = s_day * DAY + hour[s_ep] * 3600

    # Lead clinicians by team; a few change lead part-way.
    n_clin = staff.clinicians.shape[0]
    team = rng.integers(0, staff.team_ids.shape[0], count)
    has_team = rng.random(count) >= NO_TEAM_SHARE
    lead = np.empty(count, dtype=np.int64)
    for t in range(staff.team_ids.shape[0]):
        pool = staff.clinicians[staff.clinician_team == t]
        mask = team == t
        lead[mask] = pool[rng.integers(0, pool.shape[0], int(mask.sum()))]
    no_team = ~has_team
    lead[no_team] = staff.clinicians[rng.integers(0, n_clin, int(no_team.sum()))]
    kept_slots = np.bincount(s_ep, minlength=count)
    handover = (rng.random(count) < HANDOVER_SHARE) & (kept_slots >= 4)
    # The first lead is another clinician of the clinic (next in the list).
    lead_pos = np.searchsorted(np.sort(staff.clinicians), lead)
    other = np.sort(staff.clinicians)[(lead_pos + rng.integers(1, n_clin, count)) % n_clin]
    first_lead = np.where(handover, other, lead)
    handover_slot = kept_slots // 2
    kept_start = _group_starts(kept_slots)
    s_local = np.arange(s_ep.shape[0], dtype=np.int64) - kept_start[s_ep]
    s_clinician = np.where(
        handover[s_ep] & (s_local < handover_slot[s_ep]), first_lead[s_ep], lead[s_ep]
    )
    handover_time = s_time[kept_start + np.minimum(handover_slot, kept_slots - 1)]
    # Cover: the lead adds a colleague as a second lead from the second session for a week,
    # then ends that place; the first lead place (written first, lower id) stays open.
    cover = (rng.random(count) < COVER_SHARE) & ~handover & (kept_slots >= 4)
    cover_time = s_time[kept_start + np.minimum(1, kept_slots - 1)]

    # Follow-up check-ins after some planned endings.
    follow = ended & np.isin(reason, (PLANNED, MUTUAL)) & (rng.random(count) < FOLLOW_UP_SHARE)
    fu_day = ended_on + FOLLOW_UP_DAYS
    fu_done = follow & (fu_day < today_day)
    f_ep = np.flatnonzero(follow)

    # Episode rows.
    phase = np.full(count, Phase.CLOSED.value, dtype=object)
    closed_on = np.where(fu_done, fu_day, ended_on)
    closed_present = ended & (~follow | fu_done)
    phase[follow & ~fu_done] = Phase.FOLLOW_UP.value
    att_so_far = np.bincount(s_ep, weights=s_attended, minlength=count).astype(np.int64)
    remaining = slots - np.bincount(s_ep, weights=happened, minlength=count).astype(np.int64)
    open_phase = np.where(
        att_so_far <= 1,
        Phase.ENGAGEMENT.value,
        np.where(remaining <= 2, Phase.ENDING.value, Phase.WORKING.value),
    )
    phase[~ended] = open_phase[~ended]
    reason_text = np.array([r.value for r, _ in ENDINGS], dtype=object)[reason]
    reason_text[~ended] = ""

    # Responses: PHQ-9 and GAD-7 before every attended session (assessment and therapy).
    a_slot = np.flatnonzero(s_attended)
    a_ep = s_ep[a_slot]
    a_count = np.bincount(a_ep, minlength=count)
    a_start = _group_starts(a_count)
    a_no = np.arange(a_slot.shape[0], dtype=np.int64) - a_start[a_ep]
    phq = phq_traj[traj_start[a_ep] + a_no]
    gad = np.clip(
        np.rint(GAD_PER_PHQ * phq + gad_offset[a_ep] + rng.normal(0.0, 1.5, a_slot.shape[0])), 0, 21
    ).astype(np.int64)
    fhir = rng.random(a_slot.shape[0]) < FHIR_SHARE
    incomplete = np.flatnonzero(rng.random(a_slot.shape[0]) < INCOMPLETE_SHARE)
    uses_alliance = rng.random(count) < ALLIANCE_SHARE
    check = (
        uses_alliance[a_ep]
        & (s_no[a_slot] > 0)
        & (rng.random(a_slot.shape[0]) < ALLIANCE_SESSION_SHARE)
    )
    al_slot = a_slot[check]
    al_base = rng.uniform(26.0, 38.0, count)
    al_total = np.clip(
        np.rint(al_base[s_ep[al_slot]] + rng.normal(0.0, 2.5, al_slot.shape[0])), 0, 40
    ).astype(np.int64)
    last_att = a_start + a_count - 1
    fu_has_scores = fu_done & (a_count > 0)
    fu_src = last_att[fu_done & fu_has_scores]
    fu_phq = np.clip(phq[fu_src] + np.rint(rng.normal(1.0, 3.0, fu_src.shape[0])), 0, 27)
    fu_gad = np.clip(gad[fu_src] + np.rint(rng.normal(0.5, 2.0, fu_src.shape[0])), 0, 21)

    # Goals and their ratings at attended therapy sessions.
    has_goals = (rng.random(count) < GOAL_SHARE) & (a_count >= 2)
    n_goals = np.where(has_goals, 1 + rng.binomial(2, 0.4, count), 0)
    g_ep = np.repeat(e_idx, n_goals)
    g_count = g_ep.shape[0]
    g_text = np.array(GOAL_TEXTS, dtype=object)[rng.integers(0, len(GOAL_TEXTS), g_count)]
    g_retired = rng.random(g_count) < GOAL_RETIRED_SHARE
    g_from = rng.integers(1, 5, g_count).astype(np.float64)
    g_to = np.where(reason[g_ep] == DROPPED, 5.0, 8.5) + rng.normal(0.0, 1.5, g_count)
    pair_counts = a_count[g_ep] - 1  # each goal x each attended therapy session
    p_goal = np.repeat(np.arange(g_count, dtype=np.int64), pair_counts)
    p_no = 1 + np.arange(p_goal.shape[0], dtype=np.int64) - _group_starts(pair_counts)[p_goal]
    # About half the sessions, and always the last one so far.
    rated = rng.random(p_goal.shape[0]) < GOAL_RATED_SHARE
    rated |= p_no == a_count[g_ep[p_goal]] - 1
    p_goal, p_no = p_goal[rated], p_no[rated]
    p_slot = a_slot[a_start[g_ep[p_goal]] + p_no]
    p_frac = p_no / np.maximum(a_count[g_ep[p_goal]] - 1, 1)
    p_rating = np.clip(
        np.rint(
            g_from[p_goal]
            + (g_to[p_goal] - g_from[p_goal]) * p_frac
            + rng.normal(0.0, 1.0, p_goal.shape[0])
        ),
        0,
        10,
    ).astype(np.int64)

    # Care-team places: lead (two for a handover), consultant for some.
    consult = rng.random(count) < CONSULTANT_SHARE
    n_hand, n_cons, n_cover = int(handover.sum()), int(consult.sum()), int(cover.sum())
    # Written in this order within an episode (a stable sort below): the ended first lead of a
    # handover, the lead, a consultant, a cover lead; ids follow.
    place_ep = np.concatenate([e_idx[handover], e_idx, e_idx[consult], e_idx[cover]])
    place_member = np.concatenate(
        [
            first_lead[handover],
            lead,
            staff.consultants[rng.integers(0, staff.consultants.shape[0], n_cons)],
            other[cover],
        ]
    )
    place_role = np.array(
        [CareRole.LEAD.value] * (n_hand + count)
        + [CareRole.CONSULTANT.value] * n_cons
        + [CareRole.LEAD.value] * n_cover,
        dtype=object,
    )
    opened_time = opened * DAY + 8 * 3600
    place_started = np.concatenate(
        [
            opened_time[handover],
            np.where(handover, handover_time, opened_time),
            opened_time[consult],
            cover_time[cover],
        ]
    )
    place_ended = np.concatenate(
        [
            handover_time[handover],
            np.zeros(count + n_cons, dtype=np.int64),
            cover_time[cover] + 7 * DAY,
        ]
    )
    place_has_end = np.concatenate(
        [
            np.ones(n_hand, dtype=np.bool_),
            np.zeros(count + n_cons, dtype=np.bool_),
            np.ones(n_cover, dtype=np.bool_),
        ]
    )
    order = np.argsort(place_ep, kind="stable")
    place_ep, place_member, place_role = place_ep[order], place_member[order], place_role[order]
    place_started, place_ended, place_has_end = (
        place_started[order],
        place_ended[order],
        place_has_end[order],
    )
    # As the app writes a place: the member's discipline.
    place_discipline = _discipline_lookup(staff)(place_member)

    # --- reserve ids, then lay out every table ---
    n_enc = s_ep.shape[0] + f_ep.shape[0]
    n_resp = 2 * a_slot.shape[0] + incomplete.shape[0] + al_slot.shape[0]
    n_resp += 2 * int(fu_has_scores.sum())
    n_changes = g_count + int(g_retired.sum())
    client0 = writer.reserve(Client, count)
    episode0 = writer.reserve(Episode, count)
    place0 = writer.reserve(CareTeamMember, place_ep.shape[0])
    enc0 = writer.reserve(Encounter, n_enc)
    check0 = writer.reserve(CheckIn, f_ep.shape[0])
    resp0 = writer.reserve(Response, n_resp)
    goal0 = writer.reserve(Goal, g_count)
    change0 = writer.reserve(GoalChange, n_changes)
    rating0 = writer.reserve(GoalRating, p_goal.shape[0])
    client_id = client0 + e_idx
    episode_id = episode0 + e_idx
    chunk = Chunk()
    dt, dd = writer.datetimes, writer.dates

    numbers = offset + 1 + e_idx
    names = (
        np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), count)]
        + np.array([f" {c}." for c in LAST_INITIAL], dtype=object)[
            rng.integers(0, len(LAST_INITIAL), count)
        ]
    )
    chunk.tables.append(
        (
            Client,
            [
                "id",
                "organisation_id",
                "team_id",
                "display_name",
                "record_number",
                "email",
                "created_at",
            ],
            [
                client_id,
                org,
                _nullable(staff.team_ids[team], has_team),
                names,
                np.array([f"SY-{n:07d}" for n in numbers.tolist()], dtype=object),
                "",
                dt(opened_time),
            ],
        )
    )
    chunk.tables.append(
        (
            CareTeamMember,
            [
                "id",
                "organisation_id",
                "client_id",
                "membership_id",
                "discipline",
                "care_role",
                "started_at",
                "ended_at",
            ],
            [
                place0 + np.arange(place_ep.shape[0], dtype=np.int64),
                org,
                client_id[place_ep],
                place_member,
                place_discipline,
                place_role,
                dt(place_started),
                _nullable_obj(dt(place_ended), place_has_end),
            ],
        )
    )
    chunk.tables.append(
        (
            Episode,
            [
                "id",
                "organisation_id",
                "client_id",
                "opened_on",
                "phase",
                "planned_sessions",
                "closed_on",
                "ended_on",
                "ending_reason",
                "version",
            ],
            [
                episode_id,
                org,
                client_id,
                dd(opened),
                phase,
                np.maximum(length - 1, 1),
                _nullable_obj(dd(closed_on), closed_present),
                _nullable_obj(dd(ended_on), ended),
                reason_text,
                1,
            ],
        )
    )
    # Encounters: the sessions, then the follow-ups.
    n_sess = s_ep.shape[0]
    fu_time = fu_day[f_ep] * DAY + hour[f_ep] * 3600
    enc_ep = np.concatenate([s_ep, f_ep])
    fu_attendance = np.where(
        fu_done[f_ep], Attendance.ATTENDED.value, Attendance.SCHEDULED.value
    ).astype(object)
    chunk.tables.append(
        (
            Encounter,
            [
                "id",
                "organisation_id",
                "client_id",
                "episode_id",
                "clinician_id",
                "starts_at",
                "kind",
                "attendance",
                "version",
            ],
            [
                enc0 + np.arange(n_enc, dtype=np.int64),
                org,
                client_id[enc_ep],
                episode_id[enc_ep],
                np.concatenate([s_clinician, lead[f_ep]]),
                dt(np.concatenate([s_time, fu_time])),
                np.concatenate(
                    [s_kind.astype(object), np.full(f_ep.shape[0], "follow_up", object)]
                ),
                np.concatenate([s_attendance.astype(object), fu_attendance]),
                1,
            ],
        )
    )
    fu_enc = enc0 + n_sess + np.arange(f_ep.shape[0], dtype=np.int64)
    chunk.tables.append(
        (
            CheckIn,
            [
                "id",
                "organisation_id",
                "episode_id",
                "encounter_id",
                "months",
                "due_on",
                "status",
                "sent_at",
            ],
            [
                check0 + np.arange(f_ep.shape[0], dtype=np.int64),
                org,
                episode_id[f_ep],
                fu_enc,
                1,
                dd(fu_day[f_ep]),
                np.where(
                    fu_done[f_ep], CheckInStatus.ANSWERED.value, CheckInStatus.SCHEDULED.value
                ).astype(object),
                _nullable_obj(dt(fu_time - DAY), fu_done[f_ep]),
            ],
        )
    )

    # Responses, instrument by instrument.
    responses = _Responses(writer, rng)
    a_enc = enc0 + a_slot
    a_time = s_time[a_slot]
    for instrument, totals in (("phq9", phq), ("gad7", gad)):
        responses.add(
            instrument,
            a_ep,
            np.where(fhir, -1, a_enc),
            totals,
            a_time - 30 * MINUTE,
            Timing.BEFORE.value,
            fhir,
        )
    responses.add(
        ALLIANCE_CHECK,
        s_ep[al_slot],
        enc0 + al_slot,
        al_total,
        s_time[al_slot] + 55 * MINUTE,
        Timing.AFTER.value,
        np.zeros(al_slot.shape[0], dtype=np.bool_),
    )
    fu_rows = np.flatnonzero(fu_has_scores[f_ep])
    for instrument, totals in (("phq9", fu_phq), ("gad7", fu_gad)):
        responses.add(
            instrument,
            f_ep[fu_rows],
            fu_enc[fu_rows],
            totals.astype(np.int64),
            fu_time[fu_rows] - 30 * MINUTE,
            Timing.BEFORE.value,
            np.zeros(fu_rows.shape[0], dtype=np.bool_),
        )
    responses.add_incomplete(a_ep[incomplete], a_time[incomplete] - DAY)
    chunk.tables.append(responses.table(resp0, org, client_id, episode_id))
    assert responses.count == n_resp

    # Goals, their history and ratings.
    goal_id = goal0 + np.arange(g_count, dtype=np.int64)
    g_created = s_time[a_slot[a_start[g_ep]]] + 50 * MINUTE
    g_last = np.full(g_count, -1, dtype=np.int64)
    np.maximum.at(g_last, p_goal, s_time[p_slot])
    g_retired_at = np.maximum(g_last, g_created) + 3600
    g_by = np.where(handover[g_ep], first_lead[g_ep], lead[g_ep])
    g_author = np.where(rng.random(g_count) < 0.6, Author.CLIENT.value, Author.CLINICIAN.value)
    chunk.tables.append(
        (
            Goal,
            [
                "id",
                "organisation_id",
                "client_id",
                "episode_id",
                "text",
                "status",
                "written_by",
                "created_by_id",
                "created_at",
                "retired_at",
                "retired_reason",
                "version",
            ],
            [
                goal_id,
                org,
                client_id[g_ep],
                episode_id[g_ep],
                g_text,
                np.where(g_retired, GoalStatus.RETIRED.value, GoalStatus.ACTIVE.value).astype(
                    object
                ),
                g_author.astype(object),
                g_by,
                dt(g_created),
                _nullable_obj(dt(g_retired_at), g_retired),
                np.where(g_retired, "No longer a priority", "").astype(object),
                1,
            ],
        )
    )
    retired_idx = np.flatnonzero(g_retired)
    ch_goal = np.concatenate([np.arange(g_count, dtype=np.int64), retired_idx])
    chunk.tables.append(
        (
            GoalChange,
            ["id", "organisation_id", "goal_id", "kind", "text", "reason", "at", "by_id"],
            [
                change0 + np.arange(n_changes, dtype=np.int64),
                org,
                goal_id[ch_goal],
                np.array(
                    [ChangeKind.CREATED.value] * g_count
                    + [ChangeKind.RETIRED.value] * retired_idx.shape[0],
                    dtype=object,
                ),
                g_text[ch_goal],
                np.concatenate(
                    [
                        np.full(g_count, "", dtype=object),
                        np.full(retired_idx.shape[0], "No longer a priority", dtype=object),
                    ]
                ),
                dt(np.concatenate([g_created, g_retired_at[retired_idx]])),
                g_by[ch_goal],
            ],
        )
    )
    chunk.tables.append(
        (
            GoalRating,
            [
                "id",
                "organisation_id",
                "client_id",
                "episode_id",
                "goal_id",
                "encounter_id",
                "link_id",
                "rating",
                "rated_at",
                "source",
            ],
            [
                rating0 + np.arange(p_goal.shape[0], dtype=np.int64),
                org,
                client_id[g_ep[p_goal]],
                episode_id[g_ep[p_goal]],
                goal_id[p_goal],
                enc0 + p_slot,
                None,
                p_rating,
                dt(s_time[p_slot] + 50 * MINUTE),
                Author.CLIENT.value,
            ],
        )
    )
    counts = Counts(
        episodes=count,
        clients=count,
        encounters=n_enc,
        responses=n_resp,
        care_team_places=int(place_ep.shape[0]),
        goals=g_count,
        goal_changes=n_changes,
        goal_ratings=int(p_goal.shape[0]),
        check_ins=int(f_ep.shape[0]),
        ended=int(ended.sum()),
    )
    return chunk, counts


def _nullable_obj(values: Obj, present: Bool) -> Obj:
    out = values.copy()
    out[~present] = None
    return out


def _discipline_lookup(staff: Staff) -> Callable[[Int], Obj]:
    found = dict(
        Membership.objects.filter(organisation_id=staff.organisation_id).values_list(
            "pk", "discipline"
        )
    )
    ids = np.array(sorted(found), dtype=np.int64)
    values = np.array([found[int(i)] for i in ids], dtype=object)

    def lookup(members: Int) -> Obj:
        return values[np.searchsorted(ids, members)].copy()

    return lookup


class _Responses:
    """Response rows gathered instrument by instrument, as local episode indices."""

    def __init__(self, writer: Writer, rng: np.random.Generator) -> None:
        self.writer = writer
        self.rng = rng
        self.parts: list[dict[str, Any]] = []
        self.count = 0

    def add(
        self,
        instrument: str,
        ep: Int,
        encounter: Int,  # -1: none
        totals: Int,
        at: Int,
        timing: str,
        fhir: Bool,
    ) -> None:
        n = ep.shape[0]
        if n == 0:
            return
        found = patterns(instrument)
        pick = self.rng.integers(0, PATTERNS, n)
        self.parts.append(
            {
                "ep": ep,
                "encounter": encounter,
                "instrument": instrument,
                "version": found.version,
                "timing": np.where(fhir, "", timing).astype(object),
                "source": np.where(fhir, Source.FHIR.value, Source.LINK.value).astype(object),
                "answers": found.answers[totals, pick],
                "total": totals.astype(object),
                "band": found.band[totals, pick],
                "complete": np.ones(n, dtype=np.bool_),
                "flags": found.flags[totals, pick],
                "at": at,
                "fhir": fhir,
            }
        )
        self.count += n

    def add_incomplete(self, ep: Int, at: Int) -> None:
        """Abandoned PHQ-9s sent by another system: one item unanswered, no total."""
        n = ep.shape[0]
        if n == 0:
            return
        answers, band, flags = incomplete_phq9()
        self.parts.append(
            {
                "ep": ep,
                "encounter": np.full(n, -1, dtype=np.int64),
                "instrument": "phq9",
                "version": patterns("phq9").version,
                "timing": np.full(n, "", dtype=object),
                "source": np.full(n, Source.FHIR.value, dtype=object),
                "answers": np.full(n, answers, dtype=object),
                "total": np.full(n, None, dtype=object),
                "band": np.full(n, band, dtype=object),
                "complete": np.zeros(n, dtype=np.bool_),
                "flags": np.full(n, flags, dtype=object),
                "at": at,
                "fhir": np.ones(n, dtype=np.bool_),
            }
        )
        self.count += n

    def table(
        self, first_id: int, org: int, client_id: Int, episode_id: Int
    ) -> tuple[type[models.Model], list[str], list[Any]]:
        def cat(key: str) -> Any:
            return np.concatenate([p[key] for p in self.parts])

        ids = first_id + np.arange(self.count, dtype=np.int64)
        ep = cat("ep")
        encounter = cat("encounter")
        fhir = cat("fhir")
        instrument = np.concatenate(
            [np.full(p["ep"].shape[0], p["instrument"], dtype=object) for p in self.parts]
        )
        version = np.concatenate(
            [np.full(p["ep"].shape[0], p["version"], dtype=object) for p in self.parts]
        )
        external = np.full(self.count, "", dtype=object)
        external[fhir] = np.array([f"synth-{i}" for i in ids[fhir].tolist()], dtype=object)
        return (
            Response,
            [
                "id",
                "organisation_id",
                "client_id",
                "episode_id",
                "encounter_id",
                "link_id",
                "instrument_id",
                "instrument_version",
                "timing",
                "source",
                "answers",
                "total",
                "band",
                "complete",
                "flags",
                "submitted_at",
                "external_id",
            ],
            [
                ids,
                org,
                client_id[ep],
                episode_id[ep],
                _nullable(encounter, encounter >= 0),
                None,
                instrument,
                version,
                cat("timing"),
                cat("source"),
                cat("answers"),
                cat("total"),
                cat("band"),
                cat("complete"),
                cat("flags"),
                self.writer.datetimes(cat("at")),
                external,
            ],
        )


# --- the load ---------------------------------------------------------------------------------


def progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    bar = "#" * filled + "-" * (width - filled)
    print(  # pattern-ok: the CLI's progress bar, on stderr
        f"\r  episodes [{bar}] {done}/{total}",
        end="" if done < total else "\n",
        file=sys.stderr,
        flush=True,
    )


def synthesize(
    *,
    episodes: int,
    seed: int = 2026,
    slug: str = "synth",
    chunk: int = CHUNK,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Loaded:
    """Create the clinic `slug` with `episodes` episodes; SynthError if the slug is taken."""
    if episodes < 1:
        raise SynthError("--episodes must be at least 1")
    began = time.perf_counter()
    cpu_began = time.process_time()
    writer = Writer()
    day = today or timezone.localdate()
    rng = np.random.default_rng([seed, 0])
    with transaction.atomic():
        if Organisation.objects.filter(slug=slug).exists():
            raise SynthError(f"an organisation with the slug {slug!r} already exists")
        org_id, staff = _create_clinic(slug, episodes, rng)
    total = Counts()
    done = 0
    number = 0
    with _fast_sqlite(writer):
        while done < episodes:
            number += 1
            size = min(chunk, episodes - done)
            chunk_rng = np.random.default_rng([seed, number])
            with transaction.atomic():
                writer.begin_chunk()
                rows, counts = _generate(
                    writer, staff, chunk_rng, count=size, offset=done, today=day
                )
                for model, names, values in rows.tables:
                    writer.insert(model, names, values)
                writer.end_chunk()
            del rows
            total.add(counts)
            done += size
            if progress is not None:
                progress(done, episodes)
    seconds = time.perf_counter() - began
    with transaction.atomic():
        record(
            "synth.load",
            organisation_id=org_id,
            object_type="organisation",
            object_id=org_id,
            detail={"seed": seed, "seconds": round(seconds, 1), **vars(total)},
        )
    return Loaded(
        organisation_id=org_id,
        slug=slug,
        engine=writer.vendor,
        seconds=seconds,
        cpu_seconds=time.process_time() - cpu_began,
        counts=total,
        teams=int(staff.team_ids.shape[0]),
        clinicians=int(staff.clinicians.shape[0]),
    )


@contextmanager
def _fast_sqlite(writer: Writer) -> Iterator[None]:
    """A bigger page cache for the load's connection on SQLite (index inserts stay in memory),
    put back afterwards. The durability settings are left as they are."""
    if writer.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size = -131072")  # 128 MiB
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")  # pattern-ok: an int read back
