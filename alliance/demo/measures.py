"""Invented scores for the demo clinic: trajectories that improve, stall or worsen, alliance
ratings with the odd dip, and the alerts the real rules give for them.

The numbers are made up to show the product; they are not data about anyone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from alliance.accounts.models import ClinicSettings
from alliance.alerts import rules
from alliance.alerts.models import PRIORITY, Alert, Kind
from alliance.clients.models import Attendance, Encounter, Episode, Phase
from alliance.measurement import Instrument, ScoreResult, load_instrument, score
from alliance.measures.models import Response, Source, Timing
from alliance.trajectories.expected import expected_for

PHQ9 = load_instrument("phq9")
GAD7 = load_instrument("gad7")
CHECK = load_instrument("alliance-session-check")
BATCH = 2000
NOISE = (-1, 0, 0, 1)  # a story's session-to-session wobble


def spread(rng: random.Random, total: int, items: Sequence[str], top: int) -> dict[str, int]:
    """Item answers (0..top each) that add up to total."""
    answers = dict.fromkeys(items, 0)
    for _ in range(min(total, top * len(items))):
        open_items = [i for i in items if answers[i] < top]
        answers[rng.choice(open_items)] += 1
    return answers


def _course(rng: random.Random, start: int, sessions: int, kind: str, top: int) -> list[int]:
    values = []
    level = float(start)
    for _ in range(sessions):
        values.append(max(0, min(top, round(level + rng.gauss(0, 1.2)))))
        if kind == "improving":
            level -= max(0.0, (level - 4) * rng.uniform(0.08, 0.2))
        elif kind == "worsening":
            level += rng.uniform(0.3, 0.9)
    return values


@dataclass(frozen=True)
class Course:
    """One episode's totals at each attended session, oldest first."""

    phq: list[int]
    gad: list[int]
    check: list[int]


def add_scores(
    rng: random.Random,
    episodes: list[Episode],
    encounters: list[Encounter],
    clinic: ClinicSettings,
) -> None:
    """Responses for every attended session of open episodes (of the clinic whose settings
    `clinic` is), and the alerts they raise."""
    by_episode: dict[int, list[Encounter]] = {}
    for encounter in encounters:
        if encounter.attendance == Attendance.ATTENDED:
            by_episode.setdefault(encounter.episode_id, []).append(encounter)
    responses: list[Response] = []
    alerts: list[Alert] = []
    for episode in episodes:
        if episode.phase == Phase.CLOSED or episode.pk not in by_episode:
            continue
        sessions = sorted(by_episode[episode.pk], key=lambda e: e.starts_at)
        course = _random_course(rng, len(sessions))
        made, raised = scored_course(rng, episode, sessions, course, clinic)
        responses += made
        alerts += raised
    save(responses, alerts)


def save(responses: list[Response], alerts: list[Alert]) -> None:
    Response.objects.bulk_create(responses, batch_size=BATCH)
    for alert in alerts:  # the response each alert points at now has its id
        alert.response_id = alert.response.pk if alert.response else None
    Alert.objects.bulk_create(alerts, batch_size=BATCH)


def _random_course(rng: random.Random, sessions: int) -> Course:
    kind = rng.choices(["improving", "stalled", "worsening"], weights=[65, 25, 10])[0]
    phq = _course(rng, rng.randint(9, 22), sessions, kind, 27)
    gad = [max(0, min(21, round(v * 0.75 + rng.gauss(0, 1.5)))) for v in phq]
    base = rng.uniform(30, 38)
    dip_at = rng.randrange(sessions) if rng.random() < 0.15 else -1
    check = [
        max(0, min(40, round(base + rng.gauss(0, 1.5) - (9 if n == dip_at else 0))))
        for n in range(sessions)
    ]
    return Course(phq, gad, check)


def recovery(rng: random.Random, sessions: int) -> Course:
    """A client who gets well and stays well: PHQ-9 falls from 17 to about 5 and GAD-7 from 13
    to about 4, both settling three sessions before the last, and the alliance check rises a
    little and never dips, so no rule fires and every readiness indicator can be met."""
    return Course(
        _falling(rng, 17, 5, sessions),
        _falling(rng, 13, 4, sessions),
        _rising(rng, 32, 37, sessions),
    )


def _falling(rng: random.Random, start: int, end: int, sessions: int) -> list[int]:
    settle = max(1, sessions - 3)
    return [
        max(0, round(end + (start - end) * max(0.0, 1 - n / settle) ** 1.3) + rng.choice(NOISE))
        for n in range(sessions)
    ]


def _rising(rng: random.Random, start: int, end: int, sessions: int) -> list[int]:
    steps = max(1, sessions - 1)
    return [
        min(40, round(start + (end - start) * n / steps) + rng.choice(NOISE))
        for n in range(sessions)
    ]


def scored_course(
    rng: random.Random,
    episode: Episode,
    sessions: list[Encounter],
    course: Course,
    clinic: ClinicSettings,
) -> tuple[list[Response], list[Alert]]:
    """Item answers behind each total (PHQ-9 and GAD-7 before, the alliance check after each
    session), and the alerts the rules give for the latest of them (with the clinic's fitted
    bands, as a submission would)."""
    responses: list[Response] = []
    last: dict[str, tuple[Response, ScoreResult]] = {}
    for n, encounter in enumerate(sessions):
        phq = course.phq[n]
        item9 = 1 if phq >= 15 and rng.random() < 0.2 else 0
        phq_items = spread(rng, phq - item9, [f"item{i}" for i in range(1, 9)], 3)
        phq_items["item9"] = item9
        given = {
            "phq9": phq_items,
            "gad7": spread(rng, course.gad[n], [f"item{i}" for i in range(1, 8)], 3),
            CHECK.id: spread(rng, course.check[n], [i.link_id for i in CHECK.items], 10),
        }
        for instrument in (PHQ9, GAD7, CHECK):
            after = instrument.id == CHECK.id
            at = encounter.starts_at + timedelta(minutes=55 if after else -30)
            response, result = response_of(episode, encounter, instrument, given[instrument.id], at)
            responses.append(response)
            last[instrument.id] = (response, result)
    return responses, _alerts(episode, course, last, clinic)


def response_of(
    episode: Episode,
    encounter: Encounter,
    instrument: Instrument,
    answers: dict[str, int],
    at: datetime,
) -> tuple[Response, ScoreResult]:
    result = score(instrument, answers)
    response = Response(
        organisation_id=episode.organisation_id,
        client_id=episode.client_id,
        episode=episode,
        encounter=encounter,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        timing=Timing.AFTER if instrument.id == CHECK.id else Timing.BEFORE,
        source=Source.LINK,
        answers=answers,
        total=result.total,
        band=result.band or "",
        complete=result.complete,
        flags=result.flags,
        submitted_at=at,
    )
    return response, result


def check_in_scores(
    rng: random.Random, episode: Episode, encounter: Encounter, course: Course, at: datetime
) -> tuple[list[Response], list[Alert]]:
    """A follow-up check-in answered after discharge by someone who has slipped back: PHQ-9 at
    or above its cut-off and reliably worse than at the end of treatment, GAD-7 a little up but
    under both thresholds; the alert is what rules.follow_up_signals says about them."""
    phq_cutoff, phq_rc = _figures(PHQ9)
    gad_cutoff, gad_rc = _figures(GAD7)
    phq = min(27, max(phq_cutoff + 2, course.phq[-1] + phq_rc + 1))
    gad = max(0, min(course.gad[-1] + gad_rc - 2, gad_cutoff - 1))
    phq_items = spread(rng, phq, [f"item{i}" for i in range(1, 9)], 3)
    phq_items["item9"] = 0
    gad_items = spread(rng, gad, [f"item{i}" for i in range(1, 8)], 3)
    phq_response, _ = response_of(episode, encounter, PHQ9, phq_items, at)
    gad_response, _ = response_of(episode, encounter, GAD7, gad_items, at)
    signals = [(s, phq_response) for s in rules.follow_up_signals(PHQ9, course.phq, phq)]
    signals += [(s, gad_response) for s in rules.follow_up_signals(GAD7, course.gad, gad)]
    return [phq_response, gad_response], _open_alerts(episode, signals)


def _figures(instrument: Instrument) -> tuple[int, int]:
    """(caseness cut-off, reliable change) of an outcome measure that has both."""
    cutoff, rc = instrument.clinical_cutoff, instrument.reliable_change
    assert cutoff is not None
    assert rc is not None
    return cutoff.value, rc.value


def _alerts(
    episode: Episode,
    course: Course,
    last: dict[str, tuple[Response, ScoreResult]],
    clinic: ClinicSettings,
) -> list[Alert]:
    """What the alert rules say about the latest scores (one alert per kind, as in real use).
    The fitted bands (the demo fits them from its history first) come from the shared cache of
    alliance.trajectories.expected, as on the submission path."""
    thresholds = rules.Thresholds()
    signals: list[tuple[rules.Signal, Response]] = []
    phq_response, phq_result = last["phq9"]
    phq_band, gad_band = expected_for(clinic, PHQ9.id), expected_for(clinic, GAD7.id)
    signals += [(s, phq_response) for s in rules.risk_signals(PHQ9, phq_result)]
    phq_signals = rules.change_signals(PHQ9, course.phq, thresholds, phq_band)
    signals += [(s, phq_response) for s in phq_signals]
    gad_signals = rules.change_signals(GAD7, course.gad, thresholds, gad_band)
    signals += [(s, last["gad7"][0]) for s in gad_signals]
    signals += [(s, last[CHECK.id][0]) for s in rules.rupture_signals(course.check, thresholds)]
    return _open_alerts(episode, signals)


def _open_alerts(episode: Episode, signals: list[tuple[rules.Signal, Response]]) -> list[Alert]:
    alerts: dict[str, Alert] = {}
    for signal, response in signals:
        if signal.kind in alerts:
            continue
        alerts[signal.kind] = Alert(
            organisation_id=episode.organisation_id,
            client_id=episode.client_id,
            episode=episode,
            response=response,
            kind=signal.kind,
            priority=PRIORITY[Kind(signal.kind)],
            reason=signal.reason,
            facts=signal.facts,
            opened_at=response.submitted_at if response.submitted_at else timezone.now(),
        )
    return list(alerts.values())
