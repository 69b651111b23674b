"""Invented scores for the demo clinic: trajectories that improve, stall or worsen, alliance
ratings with the odd dip, and the alerts the real rules give for them.

The numbers are made up to show the product; they are not data about anyone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.utils import timezone

from alliance.alerts import rules
from alliance.alerts.models import PRIORITY, Alert, Kind
from alliance.clients.models import Attendance, Encounter, Episode, Phase
from alliance.measurement import load_instrument, score
from alliance.measures.models import Response, Source, Timing

PHQ9 = load_instrument("phq9")
GAD7 = load_instrument("gad7")
CHECK = load_instrument("alliance-session-check")
BATCH = 2000


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


def add_scores(rng: random.Random, episodes: list[Episode], encounters: list[Encounter]) -> None:
    """Responses for every attended session of open episodes, and the alerts they raise."""
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
        made, raised = _episode_scores(rng, episode, sessions)
        responses += made
        alerts += raised
    Response.objects.bulk_create(responses, batch_size=BATCH)
    for alert in alerts:  # the response each alert points at now has its id
        alert.response_id = alert.response.pk if alert.response else None
    Alert.objects.bulk_create(alerts, batch_size=BATCH)


def _episode_scores(
    rng: random.Random, episode: Episode, sessions: list[Encounter]
) -> tuple[list[Response], list[Alert]]:
    kind = rng.choices(["improving", "stalled", "worsening"], weights=[65, 25, 10])[0]
    phq = _course(rng, rng.randint(9, 22), len(sessions), kind, 27)
    gad = [max(0, min(21, round(v * 0.75 + rng.gauss(0, 1.5)))) for v in phq]
    base = rng.uniform(30, 38)
    dip_at = rng.randrange(len(sessions)) if rng.random() < 0.15 else -1
    check = [
        max(0, min(40, round(base + rng.gauss(0, 1.5) - (9 if n == dip_at else 0))))
        for n in range(len(sessions))
    ]
    responses: list[Response] = []
    last: dict[str, tuple[Response, Any]] = {}
    for n, encounter in enumerate(sessions):
        item9 = 1 if phq[n] >= 15 and rng.random() < 0.2 else 0
        phq_items = spread(rng, phq[n] - item9, [f"item{i}" for i in range(1, 9)], 3)
        phq_items["item9"] = item9
        given = {
            "phq9": phq_items,
            "gad7": spread(rng, gad[n], [f"item{i}" for i in range(1, 8)], 3),
            CHECK.id: spread(rng, check[n], [i.link_id for i in CHECK.items], 10),
        }
        for instrument in (PHQ9, GAD7, CHECK):
            result = score(instrument, given[instrument.id])
            after = instrument.id == CHECK.id
            response = Response(
                organisation_id=episode.organisation_id,
                client_id=episode.client_id,
                episode=episode,
                encounter=encounter,
                instrument_id=instrument.id,
                instrument_version=instrument.version,
                timing=Timing.AFTER if after else Timing.BEFORE,
                source=Source.LINK,
                answers=given[instrument.id],
                total=result.total,
                band=result.band or "",
                complete=result.complete,
                flags=result.flags,
                submitted_at=encounter.starts_at + timedelta(minutes=55 if after else -30),
            )
            responses.append(response)
            last[instrument.id] = (response, result)
    return responses, _alerts(episode, phq, gad, check, last)


def _alerts(
    episode: Episode,
    phq: list[int],
    gad: list[int],
    check: list[int],
    last: dict[str, tuple[Response, Any]],
) -> list[Alert]:
    """What the alert rules say about the latest scores (one alert per kind, as in real use)."""
    thresholds = rules.Thresholds()
    signals: list[tuple[rules.Signal, Response]] = []
    phq_response, phq_result = last["phq9"]
    signals += [(s, phq_response) for s in rules.risk_signals(PHQ9, phq_result)]
    signals += [(s, phq_response) for s in rules.change_signals(PHQ9, phq, thresholds)]
    gad_signals = rules.change_signals(GAD7, gad, thresholds)
    signals += [(s, last["gad7"][0]) for s in gad_signals]
    signals += [(s, last[CHECK.id][0]) for s in rules.rupture_signals(check, thresholds)]
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
