"""The demo's stories: goals, victories, thanks, an episode in its ending phase and a
discharged client whose follow-up check-in raised an alert. Every word is invented."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from alliance.accounts.models import Membership, Organisation, clinic_settings
from alliance.agency.actions import _source, initials
from alliance.agency.endings import DEFAULT_FOLLOW_UP_MONTHS, add_months
from alliance.agency.models import (
    Author,
    ChangeKind,
    CheckIn,
    CheckInStatus,
    ClientView,
    Goal,
    GoalChange,
    GoalRating,
    GoalStatus,
    KeptThanks,
    Moment,
    MomentKind,
    PhaseChange,
    RelapsePlan,
    Review,
    Thanks,
    Visibility,
)
from alliance.agency.tasks import send_check_in
from alliance.audit.log import record
from alliance.clients.models import (
    Attendance,
    CareRole,
    CareTeamMember,
    Encounter,
    EncounterKind,
    Episode,
    Phase,
)
from alliance.demo.generate import (
    DISCHARGED_DAYS_AGO,
    STORIES,
    THERAPISTS,
    _encounter,
    _record_number,
)
from alliance.demo.measures import (
    Course,
    check_in_scores,
    recovery,
    save,
    scored_course,
)
from alliance.measures.models import Response

# ---- Stories: goals, moments, thanks, an ending and a discharge ---------------------------------
# Written straight to the tables, as the rest of the demo is; the one audit entry says what the
# load added. Every word below is invented.

GOALS = [
    "Get out of the house on my own at least three times a week",
    "Sleep through most nights without lying awake going over things",
    "Stop cancelling on friends at the last minute",
    "Get back to cooking proper meals instead of skipping them",
    "Go to the supermarket at a busy time without leaving my basket",
    "Not let one bad day turn into a bad week",
    "Go back to my Thursday evening class",
    "Say what I need at home instead of going quiet",
]
VICTORIES = [
    "Went to the corner shop on my own and stayed to chat at the till",
    "Made eye contact with the receptionist and said good morning",
    "Cooked a proper dinner three nights this week",
    "Answered the phone to my mum instead of letting it ring out",
    "Got up at the first alarm every day this week",
    "Took the bus into town at rush hour and stayed for an hour",
]


@dataclass
class Story:
    """One client's episode being filled in, and the tally of what was added."""

    rng: random.Random
    episode: Episode
    lead: Membership
    told: Counter[str]


def add_stories(
    rng: random.Random,
    org: Organisation,
    staff: dict[str, Membership],
    *,
    total: int,
    today: date,
) -> None:
    numbers = [_record_number(total - 1 - k) for k in range(len(STORIES))]
    episodes = {
        e.client.record_number: e
        for e in Episode.objects.filter(
            organisation=org, client__record_number__in=numbers
        ).select_related("client", "organisation")
    }
    told: Counter[str] = Counter()
    ending = episodes.get(numbers[0])
    if ending is not None:
        _ending_story(Story(rng, ending, staff["alex"], told), today)
    follow_up = episodes.get(numbers[1])
    if follow_up is not None:
        _follow_up_story(Story(rng, follow_up, staff["alex"], told), today)
    victories = rng.sample(VICTORIES, k=len(VICTORIES))  # each told once
    for name in THERAPISTS:
        for episode, sessions, phq in _improving(org, staff[name], skip=numbers, wanted=2):
            _goals_of(Story(rng, episode, staff[name], told), sessions, phq, victories.pop())
    record("demo.stories", organisation_id=org.pk, detail=dict(sorted(told.items())))


def _ending_story(story: Story, today: date) -> None:
    """Twelve weeks of improvement, the plan reviewed and extended, now planning the ending."""
    sessions = _sessions(story, weeks=12, hour=10, missed=5)
    upcoming = _encounter(
        story.episode.organisation,
        story.episode,
        story.lead,
        today + timedelta(days=3),
        10,
        EncounterKind.THERAPY,
        Attendance.SCHEDULED,
    )
    upcoming.save()
    _scores(story, sessions)
    swim = _goal(story, "Get back to swimming on Saturday mornings", sessions[0], by_client=True)
    work = _goal(story, "Be less stressed at work", sessions[0], by_client=False)
    _revise(
        story,
        work,
        "Leave work by six and keep work email off my phone in the evenings",
        "The first wording was too vague to rate; the client chose these words.",
        _after(sessions[3]),
    )
    _rate(story, swim, sessions[1:], _rising(story.rng, 2, 9, len(sessions) - 1))
    _rate(story, work, sessions[1:], _rising(story.rng, 1, 8, len(sessions) - 1))
    _moment(
        story,
        MomentKind.VICTORY,
        "Swam twenty lengths on Saturday and stayed for a coffee afterwards.",
        _day(sessions[4], 3),
        goal=swim,
        by_client=True,
    )
    _moment(
        story,
        MomentKind.BREAKTHROUGH,
        "Saw that checking email at night is how I try to make Monday feel safe, "
        "and that it does the opposite.",
        _day(sessions[6]),
        goal=work,
    )
    _moment(
        story,
        MomentKind.VICTORY,
        "Told my manager I could not take on the new project. My hands were shaking but I said it.",
        _day(sessions[8], 1),
        by_client=True,
        therapist_only=True,
    )
    Review.objects.create(
        organisation_id=story.episode.organisation_id,
        episode=story.episode,
        at=_after(sessions[8]),
        by=story.lead,
        attended=9,
        planned_before=10,
        planned_after=14,
        note="Agreed four more sessions to practise the plan for busy weeks before we end.",
    )
    _phases(
        story,
        [
            (Phase.WORKING, _after(sessions[1]), "Goals agreed; weekly sessions."),
            (
                Phase.ENDING,
                _after(sessions[9]),
                "Under the cut-off for several weeks; we agreed to start planning the ending.",
            ),
        ],
    )
    _relapse_plan(
        story,
        _after(sessions[-1]),
        warning_signs="Answering work email after nine at night. Missing the Saturday swim two "
        "weeks running. Waking at four and going over conversations. Saying I'm fine when "
        "I'm not.",
        what_helps="The Saturday swim, even a short one. Writing tomorrow's three jobs on a card "
        "before I leave work. Walking home the long way by the river. Talking to my partner "
        "before it builds up.",
        who_to_contact="My partner first. My GP if I am not sleeping for more than a week. "
        "The clinic in office hours. The crisis contacts on my link page if it gets bad.",
        what_to_do="Read this plan. Put the swim back in the diary. Take work email off my "
        "phone for a week. If two weeks go by and it is no better, ring the clinic and ask for "
        "a review.",
    )
    _thank(
        story,
        None,
        "Thank you all, the people on reception too, for being so patient every time I had "
        "to rearrange.",
        sessions[-1].starts_at - timedelta(minutes=20),
    )
    ClientView.objects.create(
        organisation_id=story.episode.organisation_id,
        client_id=story.episode.client_id,
        enabled=True,
        changed_at=_after(sessions[9]),
        changed_by=story.lead,
    )
    story.told["client_views"] += 1


def _follow_up_story(story: Story, today: date) -> None:
    """Discharged after a planned ending; the one-month check-in shows a slip back, and the
    three- and six-month ones are still to come."""
    sessions = _sessions(story, weeks=12, hour=14, missed=4)
    course = _scores(story, sessions)
    dog = _goal(
        story, "Walk the dog round the park in the mornings again", sessions[0], by_client=True
    )
    sister = _goal(
        story, "Ring my sister every week and actually talk", sessions[0], by_client=False
    )
    job = _goal(story, "Find a new job before Christmas", sessions[0], by_client=True)
    _rate(story, dog, sessions[1:], _rising(story.rng, 1, 8, len(sessions) - 1))
    _rate(story, sister, sessions[1:], _rising(story.rng, 3, 9, len(sessions) - 1))
    _rate(story, job, sessions[1:4], [2, 1, 2])
    _retire(
        story,
        job,
        "Not now: I want to feel steadier first, and we will come back to it.",
        _after(sessions[4]),
    )
    _moment(
        story,
        MomentKind.VICTORY,
        "Walked the dog all the way round the park before breakfast.",
        _day(sessions[3], 2),
        goal=dog,
        by_client=True,
    )
    _moment(
        story,
        MomentKind.BREAKTHROUGH,
        "Noticed I stop ringing my sister when I feel I have nothing good to say, and that "
        "she wants to hear from me anyway.",
        _day(sessions[7]),
        goal=sister,
    )
    discharged = today - timedelta(days=DISCHARGED_DAYS_AGO)
    _phases(
        story,
        [
            (Phase.WORKING, _after(sessions[1]), "Goals agreed; weekly sessions."),
            (Phase.ENDING, _after(sessions[8]), "Three sessions left; planning the ending."),
            (
                Phase.FOLLOW_UP,
                _after(sessions[-1]),
                "Planned ending; check-ins at 1, 3 and 6 months.",
            ),
        ],
    )
    _relapse_plan(
        story,
        _after(sessions[-2]),
        warning_signs="Staying in bed past ten. Not answering my sister. Leaving the dog's "
        "walk to the evening.",
        what_helps="The morning walk. A call with my sister on Sundays. Getting dressed before "
        "I look at my phone.",
        who_to_contact="My sister. My GP. The clinic; my check-ins come by email.",
        what_to_do="Walk the dog before anything else. Tell my sister how it really is. "
        "Answer the check-in honestly.",
    )
    thanks = _thank(
        story,
        story.lead,
        "Thank you for not giving up on me in the weeks I could hardly talk. I walked the dog "
        "this morning and thought about what we said.",
        sessions[-1].starts_at - timedelta(minutes=20),
    )
    _keep(story, thanks)
    _check_ins(story, course, discharged)


def _sessions(story: Story, *, weeks: int, hour: int, missed: int) -> list[Encounter]:
    """Weekly sessions from the episode's start, all attended but one; the attended ones."""
    episode = story.episode
    rows = [
        _encounter(
            episode.organisation,
            episode,
            story.lead,
            episode.opened_on + timedelta(weeks=week),
            hour,
            EncounterKind.ASSESSMENT if week == 0 else EncounterKind.THERAPY,
            Attendance.DID_NOT_ATTEND if week == missed else Attendance.ATTENDED,
        )
        for week in range(weeks)
    ]
    Encounter.objects.bulk_create(rows)
    return [e for e in rows if e.attendance == Attendance.ATTENDED]


def _scores(story: Story, sessions: list[Encounter]) -> Course:
    course = recovery(story.rng, len(sessions))
    clinic = clinic_settings(story.episode.organisation_id)
    save(*scored_course(story.rng, story.episode, sessions, course, clinic))
    return course


def _after(session: Encounter) -> datetime:
    """Just after a session ends, when the clinician writes things up."""
    return session.starts_at + timedelta(minutes=55)


def _day(session: Encounter, later: int = 0) -> date:
    return timezone.localdate(session.starts_at) + timedelta(days=later)


def _rising(rng: random.Random, start: int, end: int, count: int) -> list[int]:
    """Goal ratings that climb from start to end with the odd step back; the last is end."""
    steps = max(1, count - 1)
    values = [
        max(0, min(10, round(start + (end - start) * n / steps) + rng.choice((-1, 0, 0, 0, 1))))
        for n in range(count)
    ]
    return [*values[:-1], end] if values else values


def _goal(story: Story, text: str, session: Encounter, *, by_client: bool) -> Goal:
    at = session.starts_at - timedelta(minutes=25) if by_client else _after(session)
    episode = story.episode
    goal = Goal.objects.create(
        organisation_id=episode.organisation_id,
        client_id=episode.client_id,
        episode=episode,
        text=text,
        written_by=Author.CLIENT if by_client else Author.CLINICIAN,
        created_by=None if by_client else story.lead,
        created_at=at,
    )
    _change(story, goal, ChangeKind.CREATED, text, at, by=None if by_client else story.lead)
    story.told["goals"] += 1
    return goal


def _change(
    story: Story,
    goal: Goal,
    kind: str,
    text: str,
    at: datetime,
    *,
    by: Membership | None,
    reason: str = "",
) -> None:
    GoalChange.objects.create(
        organisation_id=story.episode.organisation_id,
        goal=goal,
        kind=kind,
        text=text,
        reason=reason,
        at=at,
        by=by,
    )


def _revise(story: Story, goal: Goal, text: str, reason: str, at: datetime) -> None:
    Goal.objects.filter(pk=goal.pk).update(text=text, version=goal.version + 1)
    _change(story, goal, ChangeKind.REVISED, text, at, by=story.lead, reason=reason)


def _retire(story: Story, goal: Goal, reason: str, at: datetime) -> None:
    Goal.objects.filter(pk=goal.pk).update(
        status=GoalStatus.RETIRED, retired_at=at, retired_reason=reason, version=goal.version + 1
    )
    _change(story, goal, ChangeKind.RETIRED, goal.text, at, by=story.lead, reason=reason)


def _rate(story: Story, goal: Goal, sessions: list[Encounter], ratings: list[int]) -> None:
    """The client's ratings on their link before each session."""
    GoalRating.objects.bulk_create(
        GoalRating(
            organisation_id=goal.organisation_id,
            client_id=goal.client_id,
            episode_id=goal.episode_id,
            goal=goal,
            encounter=session,
            rating=rating,
            rated_at=session.starts_at - timedelta(minutes=25),
            source=Author.CLIENT,
        )
        for session, rating in zip(sessions, ratings, strict=True)
    )
    story.told["goal_ratings"] += len(ratings)


def _moment(
    story: Story,
    kind: str,
    text: str,
    day: date,
    *,
    goal: Goal | None = None,
    by_client: bool = False,
    therapist_only: bool = False,
) -> None:
    episode = story.episode
    day = min(day, timezone.localdate())  # a moment is never in the future
    Moment.objects.create(
        organisation_id=episode.organisation_id,
        client_id=episode.client_id,
        episode=episode,
        kind=kind,
        text=text,
        happened_on=day,
        goal=goal,
        written_by=Author.CLIENT if by_client else Author.CLINICIAN,
        created_by=None if by_client else story.lead,
        visibility=Visibility.THERAPIST if therapist_only else Visibility.TEAM,
        therapist=story.lead if by_client else None,
        created_at=timezone.make_aware(datetime.combine(day, time(20, 15))),
    )
    story.told[f"moments_{kind}"] += 1


def _phases(story: Story, steps: list[tuple[str, datetime, str]]) -> None:
    """Each move from the phase before; an episode starts in engagement."""
    before = Phase.ENGAGEMENT.value
    for to, at, note in steps:
        PhaseChange.objects.create(
            organisation_id=story.episode.organisation_id,
            episode=story.episode,
            from_phase=before,
            to_phase=to,
            at=at,
            by=story.lead,
            note=note,
        )
        before = to
    story.told["phase_changes"] += len(steps)


def _relapse_plan(story: Story, at: datetime, **parts: str) -> None:
    RelapsePlan.objects.create(
        organisation_id=story.episode.organisation_id,
        client_id=story.episode.client_id,
        episode=story.episode,
        updated_at=at,
        updated_by=story.lead,
        **parts,
    )
    story.told["relapse_plans"] += 1


def _thank(story: Story, to: Membership | None, message: str, at: datetime) -> Thanks:
    thanks = Thanks.objects.create(
        organisation_id=story.episode.organisation_id,
        client_id=story.episode.client_id,
        episode=story.episode,
        to=to,
        message=message,
        created_at=at,
    )
    story.told["thanks"] += 1
    return thanks


def _keep(story: Story, thanks: Thanks) -> None:
    """Kept as do_keep_thanks keeps it: the words, initials, the month, and a keyed hash."""
    KeptThanks.objects.create(
        user=story.lead.user,
        message=thanks.message,
        initials=initials(story.episode.client.display_name),
        received=timezone.localdate(thanks.created_at).replace(day=1),
        source=_source(thanks.pk),
        kept_at=thanks.created_at + timedelta(days=1),
    )
    story.told["kept_thanks"] += 1


def _check_ins(story: Story, course: Course, discharged: date) -> None:
    """Check-ins at 1, 3 and 6 months: the first answered (and alerting), the others to come."""
    episode = story.episode
    for n, months in enumerate(DEFAULT_FOLLOW_UP_MONTHS):
        due = add_months(discharged, months)
        encounter = _encounter(
            episode.organisation,
            episode,
            story.lead,
            due,
            9,
            EncounterKind.FOLLOW_UP,
            Attendance.SCHEDULED,
        )
        encounter.save()
        row = CheckIn.objects.create(
            organisation_id=episode.organisation_id,
            episode=episode,
            encounter=encounter,
            months=months,
            due_on=due,
            status=CheckInStatus.ANSWERED if n == 0 else CheckInStatus.SCHEDULED,
            sent_at=encounter.starts_at if n == 0 else None,
        )
        if n == 0:
            answered = encounter.starts_at + timedelta(hours=10, minutes=10)
            save(*check_in_scores(story.rng, episode, encounter, course, answered))
        else:  # the worker sends the link on its day, as after a real discharge
            send_check_in.using(run_after=encounter.starts_at).enqueue(row.pk)
        story.told["check_ins"] += 1


def _improving(
    org: Organisation, lead: Membership, *, skip: list[str], wanted: int
) -> list[tuple[Episode, list[Encounter], list[int]]]:
    """Up to `wanted` open episodes of this lead whose PHQ-9 has come down by 3 or more over at
    least four measured sessions, with those sessions and totals (the earliest clients first)."""
    clients = list(
        CareTeamMember.objects.filter(
            organisation=org, membership=lead, care_role=CareRole.LEAD, ended_at__isnull=True
        )
        .exclude(client__record_number__in=skip)
        .order_by("client_id")
        .values_list("client_id", flat=True)[:60]
    )
    episodes = {
        e.pk: e
        for e in Episode.objects.filter(
            client_id__in=clients, phase__in=(Phase.WORKING, Phase.ENDING)
        ).select_related("client", "organisation")
    }
    totals: dict[int, list[tuple[int, int]]] = {}
    rows = (
        Response.objects.filter(episode_id__in=episodes, instrument_id="phq9", complete=True)
        .order_by("submitted_at", "pk")
        .values_list("episode_id", "encounter_id", "total")
    )
    for episode_id, encounter_id, total in rows:
        if encounter_id is not None and total is not None:
            totals.setdefault(episode_id, []).append((encounter_id, total))
    chosen = [
        pk
        for pk in sorted(episodes, key=lambda pk: episodes[pk].client_id)
        if len(totals.get(pk, [])) >= 4 and totals[pk][0][1] - totals[pk][-1][1] >= 3
    ][:wanted]
    sessions = Encounter.objects.in_bulk([e for pk in chosen for e, _ in totals[pk]])
    return [
        (episodes[pk], [sessions[e] for e, _ in totals[pk]], [t for _, t in totals[pk]])
        for pk in chosen
    ]


def _goals_of(story: Story, sessions: list[Encounter], phq: list[int], victory: str) -> None:
    """One to three goals from the first session, rated before each later one, and a small
    victory in the second half of the episode."""
    rng = story.rng
    texts = rng.sample(GOALS, k=rng.choice([1, 2, 2, 3]))
    # How far PHQ-9 came down on the way to minimal (4) sets how far the ratings climb.
    share = min(1.0, (phq[0] - phq[-1]) / max(1, phq[0] - 4))
    goals = []
    for text in texts:
        goal = _goal(story, text, sessions[0], by_client=rng.random() < 0.5)
        goals.append(goal)
        start = rng.randint(1, 4)
        end = start + max(2, round((9 - start) * share))
        _rate(story, goal, sessions[1:], _rising(rng, start, end, len(sessions) - 1))
    late = sessions[len(sessions) // 2 :]
    _moment(
        story,
        MomentKind.VICTORY,
        victory,
        _day(rng.choice(late), rng.randint(0, 2)),
        goal=goals[0],
        by_client=rng.random() < 0.5,
    )
