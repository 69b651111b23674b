"""The fictional demo clinic: deterministic for a seed, and scalable for benchmarks.

Every person and place here is invented. Names are drawn from short lists and combined, so
no real client is described. Besides the random caseload, a few clients of alex and noor carry
goals in their own words, ratings, small victories and thank-yous, and two tell a whole story:
an episode in its ending phase, and a discharge whose first follow-up check-in raises an alert.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from alliance.accounts.models import (
    Discipline,
    Membership,
    Organisation,
    Role,
    Team,
    User,
    clinic_settings,
)
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
from alliance.demo.history import HISTORY, add_history
from alliance.demo.measures import add_scores

DEMO_PASSWORD = "alliance-demo"  # printed on start; the demo clinic is fictional
DEMO_SLUG = "riverbend-demo"
BATCH = 2000


@dataclass(frozen=True)
class StaffSpec:
    username: str
    first: str
    last: str
    role: str
    discipline: str
    teams: tuple[int, ...]
    note: str


STAFF = [
    StaffSpec(
        "alex",
        "Alex",
        "Morgan",
        Role.CLINICIAN,
        Discipline.PSYCHOLOGY,
        (0,),
        "counsellor with a full caseload",
    ),
    StaffSpec(
        "noor",
        "Noor",
        "Haddad",
        Role.CLINICIAN,
        Discipline.PSYCHOLOGY,
        (1,),
        "psychologist in the primary-care team",
    ),
    StaffSpec("sam", "Sam", "Okafor", Role.CLINICIAN, Discipline.PSYCHIATRY, (0,), "psychiatrist"),
    StaffSpec(
        "jo", "Jo", "Lindqvist", Role.CLINICIAN, Discipline.SOCIAL_WORK, (0,), "social worker"
    ),
    StaffSpec("priya", "Priya", "Raman", Role.CLINICIAN, Discipline.PHYSICAL_HEALTH, (1,), "GP"),
    StaffSpec("kim", "Kim", "Tanaka", Role.CLINICIAN, Discipline.NURSING, (0,), "nurse"),
    StaffSpec(
        "rue",
        "Rue",
        "Adeyemi",
        Role.CLINICIAN,
        Discipline.PEER_SUPPORT,
        (1,),
        "peer support worker",
    ),
    StaffSpec("casey", "Casey", "Ward", Role.COORDINATOR, "", (0, 1), "care coordinator"),
    StaffSpec(
        "morgan",
        "Morgan",
        "Ellis",
        Role.CONSULTANT,
        Discipline.PSYCHIATRY,
        (0, 1),
        "consultant psychiatrist",
    ),
    StaffSpec("admin", "Ada", "Quill", Role.ADMIN, "", (), "clinic admin (sets up two-factor)"),
]
FIRST = [
    "Robin",
    "Sky",
    "Ash",
    "River",
    "Wren",
    "Rowan",
    "Sage",
    "Indigo",
    "Marlow",
    "Quinn",
    "Emery",
    "Lark",
    "Hollis",
    "Arden",
    "Briar",
    "Cove",
    "Dale",
    "Ellis",
    "Fern",
    "Gale",
]
LAST_INITIAL = "ABCDEFGHJKLMNPRSTVWY"
THERAPISTS = ["alex", "noor"]
SUPPORT = ["sam", "jo", "priya", "kim", "rue"]
# The last clients tell two stories from start to finish, both with alex (alliance/demo/stories.py):
# an episode in its ending phase, and one discharged five weeks ago and now in follow-up.
STORIES = ("ending", "follow_up")  # the last client first
DISCHARGED_DAYS_AGO = 35


def load_demo(
    *, seed: int = 2026, clients: int = 40, if_empty: bool = False, history: int = HISTORY
) -> bool:
    """Create the demo clinic; False (and nothing written) when if_empty and data exists.

    `history` past clients with finished episodes come first (alliance/demo/history.py), and the
    clinic's expected-recovery bands are fitted from them, so today's clients' not-on-track
    alerts use the bands."""
    if if_empty and Organisation.objects.exists():
        return False
    rng = random.Random(seed)
    with transaction.atomic():
        org = Organisation.objects.create(
            name="Riverbend Counselling Collective (fictional demo)", slug=DEMO_SLUG
        )
        teams = [
            Team.objects.create(organisation=org, name="Adult community team"),
            Team.objects.create(organisation=org, name="Primary care wellbeing team"),
        ]
        staff = _create_staff(org, teams)
        _create_other_clinic()
        record("demo.load", organisation_id=org.pk, detail={"seed": seed, "clients": clients})
    today = timezone.localdate()
    if history:
        with transaction.atomic():
            leads = [staff[name] for name in THERAPISTS]
            add_history(random.Random(seed + 1), org, teams, leads, episodes=history, today=today)
    done = 0
    while done < clients:
        size = min(BATCH, clients - done)
        with transaction.atomic():
            _create_clients(
                rng, org, teams, staff, start=done, count=size, total=clients, today=today
            )
        done += size
        if clients > BATCH:
            _progress(done, clients)
    with transaction.atomic():
        from alliance.demo.stories import add_stories  # it builds on this module's helpers

        add_stories(rng, org, staff, total=clients, today=today)
        from alliance.demo.care import add_care

        stories = [_record_number(clients - 1 - k) for k in range(len(STORIES))]
        add_care(org, staff, skip=stories, today=today)
    return True


def _create_staff(org: Organisation, teams: list[Team]) -> dict[str, Membership]:
    password = make_password(DEMO_PASSWORD)  # hashed once: Argon2 is slow on purpose
    staff: dict[str, Membership] = {}
    for spec in STAFF:
        user = User.objects.create(
            username=spec.username,
            first_name=spec.first,
            last_name=spec.last,
            email=f"{spec.username}@riverbend.invalid",
            password=password,
        )
        membership = Membership.objects.create(
            user=user, organisation=org, role=spec.role, discipline=spec.discipline
        )
        membership.teams.set([teams[i] for i in spec.teams])
        staff[spec.username] = membership
    return staff


def _create_other_clinic() -> None:
    """A second clinic, so the demo shows that nothing crosses organisations."""
    org = Organisation.objects.create(
        name="Harbour Light Therapy (fictional demo)", slug="harbour-demo"
    )
    user = User.objects.create(
        username="harbour",
        first_name="Lee",
        last_name="Marsh",
        password=make_password(DEMO_PASSWORD),
    )
    membership = Membership.objects.create(
        user=user, organisation=org, role=Role.CLINICIAN, discipline=Discipline.PSYCHOLOGY
    )
    for n in range(3):
        client = Client.objects.create(
            organisation=org,
            display_name=f"Harbour client {n + 1}",
            record_number=f"HL-{n + 1:04d}",
        )
        CareTeamMember.objects.create(
            organisation=org,
            client=client,
            membership=membership,
            discipline=membership.discipline,
            care_role=CareRole.LEAD,
        )


def _create_clients(
    rng: random.Random,
    org: Organisation,
    teams: list[Team],
    staff: dict[str, Membership],
    *,
    start: int,
    count: int,
    total: int,
    today: date,
) -> None:
    new_clients = [
        Client(
            organisation=org,
            team=teams[(start + i) % len(teams)],
            display_name=f"{rng.choice(FIRST)} {rng.choice(LAST_INITIAL)}.",
            record_number=_record_number(start + i),
        )
        for i in range(count)
    ]
    Client.objects.bulk_create(new_clients, batch_size=BATCH)
    members: list[CareTeamMember] = []
    drawn: list[Episode] = []
    episodes: list[Episode] = []
    for n, client in enumerate(new_clients, start=start):
        story = _story_of(n, total)
        usual = THERAPISTS[0] if rng.random() < 0.6 else THERAPISTS[1]
        lead = staff["alex" if story else usual]
        members.append(_member(org, client, lead, CareRole.LEAD))
        for name in rng.sample(SUPPORT, k=rng.choice([0, 1, 1, 2])):
            members.append(_member(org, client, staff[name], CareRole.MEMBER))
        if rng.random() < 0.25:
            members.append(_member(org, client, staff["morgan"], CareRole.CONSULTANT))
        drawn.append(_episode(rng, org, client, today))
        episodes.append(_story_episode(org, client, story, today) if story else drawn[-1])
    CareTeamMember.objects.bulk_create(members, batch_size=BATCH)
    Episode.objects.bulk_create(episodes, batch_size=BATCH)
    leads = {m.client_id: m.membership for m in members if m.care_role == CareRole.LEAD}
    encounters: list[Encounter] = []
    for episode, random_one in zip(episodes, drawn, strict=True):
        made = _encounters(rng, org, random_one, leads[episode.client_id], today)
        if episode is random_one:  # a story's sessions are set aside; see _story_of
            encounters += made
    Encounter.objects.bulk_create(encounters, batch_size=BATCH)
    add_scores(rng, episodes, encounters, clinic_settings(org.pk))


def _record_number(n: int) -> str:
    return f"RB-{n + 1:06d}"


def _story_of(n: int, total: int) -> str:
    """The story the n-th client tells, if any. The stories are the last clients, and each makes
    the random draws of an ordinary client (then sets them aside), so the clinic before them is
    the same with or without them; stories.py writes their sessions."""
    from_end = total - 1 - n
    return STORIES[from_end] if from_end < len(STORIES) else ""


def _member(org: Organisation, client: Client, m: Membership, role: str) -> CareTeamMember:
    return CareTeamMember(
        organisation=org, client=client, membership=m, discipline=m.discipline, care_role=role
    )


def _story_episode(org: Organisation, client: Client, story: str, today: date) -> Episode:
    if story == "ending":
        return Episode(
            organisation=org,
            client=client,
            planned_sessions=14,
            opened_on=today - timedelta(weeks=12),
            phase=Phase.ENDING,
        )
    discharged = today - timedelta(days=DISCHARGED_DAYS_AGO)
    return Episode(
        organisation=org,
        client=client,
        planned_sessions=12,
        opened_on=discharged - timedelta(weeks=11),
        phase=Phase.FOLLOW_UP,
        ended_on=discharged,
        ending_reason=EndingReason.PLANNED,
    )


def _episode(rng: random.Random, org: Organisation, client: Client, today: date) -> Episode:
    weeks_ago = rng.randint(1, 26)
    planned = rng.choice([6, 8, 12, 12, 16, 20])
    episode = Episode(
        organisation=org,
        client=client,
        planned_sessions=planned,
        opened_on=today - timedelta(weeks=weeks_ago),
    )
    sessions_so_far = weeks_ago
    # Most episodes that outran their plan have ended; a few drift on, as real ones do.
    if sessions_so_far > planned + 2 and rng.random() < 0.85:
        episode.phase = Phase.CLOSED
        episode.closed_on = episode.opened_on + timedelta(weeks=planned)
        episode.ended_on = episode.closed_on
        episode.ending_reason = rng.choice(
            [EndingReason.PLANNED, EndingReason.PLANNED, EndingReason.DROPPED_OUT]
        )
    elif sessions_so_far >= planned - 2:
        episode.phase = Phase.ENDING
    elif sessions_so_far >= 2:
        episode.phase = Phase.WORKING
    return episode


def _encounters(
    rng: random.Random, org: Organisation, episode: Episode, lead: Membership, today: date
) -> list[Encounter]:
    hour = rng.choice([9, 10, 11, 13, 14, 15, 16, 17])
    last_day = episode.closed_on or today
    rows: list[Encounter] = []
    day = episode.opened_on
    week = 0
    while day <= last_day:
        kind = EncounterKind.ASSESSMENT if week == 0 else EncounterKind.THERAPY
        roll = rng.random()
        attendance = (
            Attendance.DID_NOT_ATTEND
            if roll < 0.07
            else Attendance.CANCELLED
            if roll < 0.12
            else Attendance.ATTENDED
        )
        rows.append(_encounter(org, episode, lead, day, hour, kind, attendance))
        day += timedelta(weeks=1)
        week += 1
    if episode.phase != Phase.CLOSED:
        rows.append(
            _encounter(
                org,
                episode,
                lead,
                today + timedelta(days=rng.randint(1, 7)),
                hour,
                EncounterKind.THERAPY,
                Attendance.SCHEDULED,
            )
        )
    return rows


def _encounter(
    org: Organisation,
    episode: Episode,
    lead: Membership,
    day: date,
    hour: int,
    kind: str,
    attendance: str,
) -> Encounter:
    starts = timezone.make_aware(datetime.combine(day, time(hour, 0)))
    return Encounter(
        organisation=org,
        client=episode.client,
        episode=episode,
        clinician=lead,
        starts_at=starts,
        kind=kind,
        attendance=attendance,
    )


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    bar = "#" * filled + "-" * (width - filled)
    print(
        f"\r  clients [{bar}] {done}/{total}",
        end="" if done < total else "\n",
        file=sys.stderr,
        flush=True,
    )


def print_logins() -> None:
    org = Organisation.objects.filter(slug=DEMO_SLUG).first()
    if org is None:
        return
    print(f"\nDemo clinic: {org.name}. Every login's password is: {DEMO_PASSWORD}")
    names = set(
        Membership.objects.filter(organisation=org).values_list("user__username", flat=True)
    )
    for spec in STAFF:
        if spec.username in names:
            print(f"  {spec.username:<8} {spec.first} {spec.last}, {spec.note}")
    print("  harbour  Lee Marsh, clinician at a second fictional clinic (sees none of the above)")
