"""The demo clinic's past: finished episodes of the last two years, so that its outcome report
has something to say and its expected-recovery bands can be fitted from its own data.

Each past client had one episode with `alex` or `noor`, now ended (their care-team places ended
with it, so no caseload lists them). PHQ-9 courses come from alliance.trajectories.simulate (its
log-linear recovery by intake severity, 8% deteriorating); GAD-7 follows the PHQ-9 at three
quarters of its size with noise; a third rated the alliance check. Item answers add up to each
total. Record numbers are RB-H00001 onwards.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from alliance.accounts.models import Membership, Organisation, Team
from alliance.alerts.models import Alert
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
from alliance.demo.measures import CHECK, GAD7, PHQ9, response_of, save, spread
from alliance.measures.models import Response
from alliance.trajectories.fitting import fit_clinic
from alliance.trajectories.simulate import simulate_cohort

HISTORY = 240  # finished episodes: enough for the bands' floor of 200
# Most end as planned; about one in five stops attending (routine-care dropout is 20-40%).
REASONS = [EndingReason.PLANNED] * 6 + [
    EndingReason.MUTUAL,
    EndingReason.DROPPED_OUT,
    EndingReason.DROPPED_OUT,
    EndingReason.REFERRED_ON,
]


def add_history(
    rng: random.Random,
    org: Organisation,
    teams: list[Team],
    leads: list[Membership],
    *,
    episodes: int,
    today: date,
) -> None:
    """Past clients with finished episodes and their scores; then the clinic's bands."""
    if episodes <= 0:
        return
    cohort = simulate_cohort(episodes, rng.randrange(2**31), deteriorating_fraction=0.08)
    scores: dict[int, list[int]] = {k: [int(cohort.client_intake[k])] for k in range(episodes)}
    for group, score in zip(cohort.group.tolist(), cohort.score.tolist(), strict=True):
        scores[int(group)].append(int(score))
    clients, places, eps = [], [], []
    for k in range(episodes):
        clients.append(
            Client(
                organisation=org,
                team=teams[k % len(teams)],
                display_name=f"Past client {k + 1}",
                record_number=f"RB-H{k + 1:05d}",
            )
        )
    Client.objects.bulk_create(clients)
    responses: list[Response] = []
    encounters: list[Encounter] = []
    plans: list[tuple[Episode, list[int], bool, Membership]] = []
    for k, client in enumerate(clients):
        lead = leads[k % len(leads)]
        course = scores[k]
        ended = today - timedelta(days=rng.randint(20, 720))
        opened = ended - timedelta(weeks=len(course) + 1)
        episode = Episode(
            organisation=org,
            client=client,
            opened_on=opened,
            planned_sessions=max(6, len(course)),
            phase=Phase.CLOSED,
            ended_on=ended,
            closed_on=ended,
            ending_reason=rng.choice(REASONS),
        )
        eps.append(episode)
        places.append(
            CareTeamMember(
                organisation=org,
                client=client,
                membership=lead,
                discipline=lead.discipline,
                care_role=CareRole.LEAD,
                ended_at=timezone.make_aware(datetime.combine(ended, time(17))),
            )
        )
        plans.append((episode, course, rng.random() < 0.33, lead))
    CareTeamMember.objects.bulk_create(places)
    Episode.objects.bulk_create(eps)
    for episode, course, _, lead in plans:
        start = timezone.make_aware(datetime.combine(episode.opened_on, time(10)))
        for n in range(len(course)):
            encounters.append(
                Encounter(
                    organisation=org,
                    client_id=episode.client_id,
                    episode=episode,
                    clinician=lead,
                    starts_at=start + timedelta(weeks=n),
                    kind=EncounterKind.ASSESSMENT if n == 0 else EncounterKind.THERAPY,
                    attendance=Attendance.ATTENDED,
                )
            )
    Encounter.objects.bulk_create(encounters)
    by_episode: dict[int, list[Encounter]] = {}
    for encounter in encounters:
        by_episode.setdefault(encounter.episode_id, []).append(encounter)
    for episode, course, alliance, _ in plans:
        for n, encounter in enumerate(by_episode[episode.pk]):
            phq = max(PHQ9.min_total, min(PHQ9.max_total, course[n]))
            gad = max(GAD7.min_total, min(GAD7.max_total, round(phq * 0.75 + rng.gauss(0, 1.5))))
            given = [
                (PHQ9, spread(rng, phq, [f"item{i}" for i in range(1, 10)], 3)),
                (GAD7, spread(rng, gad, [f"item{i}" for i in range(1, 8)], 3)),
            ]
            if alliance and n > 0:
                check = max(CHECK.min_total, min(CHECK.max_total, round(rng.gauss(34, 3))))
                given.append((CHECK, spread(rng, check, [i.link_id for i in CHECK.items], 10)))
            for instrument, answers in given:
                at = encounter.starts_at + timedelta(minutes=55 if instrument is CHECK else -30)
                responses.append(response_of(episode, encounter, instrument, answers, at)[0])
    save(responses, list[Alert]())
    for measure in ("phq9", "gad7"):
        fit_clinic(org, measure)
