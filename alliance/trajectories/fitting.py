"""`alliance trajectories fit`: the clinic's own expected-recovery bands, fitted from its own
finished episodes, stored, and put to use by the not-on-track alert.

The data: every finished episode of the clinic (treatment ended, two or more attended therapy
sessions) with two or more scores on the instrument in treatment (follow-up check-ins left out).
Its scores in time order are measured sessions 1, 2, ...; the first is the intake score, the
covariate, and the later ones are the observations (alliance/trajectories/lmm.py). The rows
stream from one SQL statement into NumPy arrays; no episode object is built.

Below MIN_EPISODES finished episodes the fit is refused and the rule-based method stays on:
Finch, Lambert & Schaalje (2001) fitted thousands of patients; 200 is the least this project
accepts for a per-clinic curve (the issue's floor), and docs/validity.md shows how the alarm
behaves at that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from alliance.accounts.models import ClinicSettings, Organisation, clinic_settings
from alliance.audit.log import record
from alliance.clients.models import Attendance, EncounterKind
from alliance.measurement import load_instrument
from alliance.trajectories.bands import band_table
from alliance.trajectories.lmm import fit_growth_model
from alliance.trajectories.models import TrajectoryFit

MIN_EPISODES = 200
SESSIONS = tuple(range(2, 21))  # bands are stored for measured sessions 2-20
LOWER_Q, UPPER_Q = 0.10, 0.90
FITTED = ("phq9", "gad7")

# One row per score in treatment of a finished episode, in order within each episode.
ROWS = """
SELECT r.episode_id, r.total
FROM measures_response r
JOIN clients_episode e ON e.id = r.episode_id
LEFT JOIN clients_encounter n ON n.id = r.encounter_id
WHERE e.organisation_id = %s AND e.ended_on IS NOT NULL
  AND r.instrument_id = %s AND r.complete AND r.total IS NOT NULL
  AND (n.kind IS NULL OR n.kind <> %s)
  AND (SELECT COUNT(*) FROM clients_encounter x WHERE x.episode_id = e.id
       AND x.kind = %s AND x.attendance = %s) >= 2
ORDER BY r.episode_id, r.submitted_at, r.id
"""


class TooLittleData(ValueError):
    """Not enough finished episodes to fit; the message says how many there are."""


@dataclass(frozen=True)
class Data:
    group: np.ndarray[Any, Any]
    session: np.ndarray[Any, Any]
    score: np.ndarray[Any, Any]
    intake: np.ndarray[Any, Any]
    episodes: int


def read_data(organisation_id: int, instrument_id: str) -> Data:
    """The clinic's observations as arrays, read in chunks from the cursor."""
    groups: list[int] = []
    sessions: list[int] = []
    scores: list[float] = []
    intakes: list[float] = []
    episodes = 0
    current, count, intake = None, 0, 0.0
    params: list[int | str] = [
        organisation_id,
        instrument_id,
        EncounterKind.FOLLOW_UP.value,
        EncounterKind.THERAPY.value,
        Attendance.ATTENDED.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(ROWS, params)
        while chunk := cursor.fetchmany(10_000):
            for episode_id, total in chunk:
                if episode_id != current:
                    current, count, intake = episode_id, 0, float(total)
                count += 1
                if count == 1:
                    continue
                if count == 2:
                    episodes += 1
                groups.append(episode_id)
                sessions.append(count)
                scores.append(float(total))
                intakes.append(intake)
    return Data(
        np.asarray(groups, dtype=np.int64),
        np.asarray(sessions, dtype=np.float64),
        np.asarray(scores, dtype=np.float64),
        np.asarray(intakes, dtype=np.float64),
        episodes,
    )


def fit_clinic(
    organisation: Organisation, instrument_id: str, *, min_episodes: int = MIN_EPISODES
) -> TrajectoryFit:
    """Fit, store and switch the clinic's not-on-track alert to the new band."""
    instrument = load_instrument(instrument_id)
    if instrument_id not in FITTED:
        raise TooLittleData(f"expected-recovery bands are fitted for {', '.join(FITTED)} only")
    data = read_data(organisation.pk, instrument_id)
    if data.episodes < min_episodes:
        raise TooLittleData(
            f"{organisation.name} has {data.episodes} finished episodes with two or more "
            f"{instrument_id} scores; at least {min_episodes} are needed to fit bands. "
            "The rule-based not-on-track method stays on."
        )
    fit = fit_growth_model(data.group, data.session, data.score, data.intake)
    intakes = range(instrument.min_total, instrument.max_total + 1)
    table = band_table(
        fit,
        intakes,
        SESSIONS,
        lower=LOWER_Q,
        upper=UPPER_Q,
        min_total=instrument.min_total,
        max_total=instrument.max_total,
    )
    rows: dict[str, list[list[float]]] = {}
    for line in table:
        rows.setdefault(str(int(line["intake"])), []).append(
            [line["lower"], line["expected"], line["upper"]]
        )
    with transaction.atomic():
        stored = TrajectoryFit.objects.create(
            organisation=organisation,
            instrument_id=instrument_id,
            fitted_at=timezone.now(),
            episodes=data.episodes,
            observations=int(data.score.size),
            model=fit.to_json(),
            bands={
                "sessions": list(SESSIONS),
                "lower_q": LOWER_Q,
                "upper_q": UPPER_Q,
                "rows": rows,
            },
        )
        settings = clinic_settings(organisation.pk)
        fits = dict(settings.trajectory_fits or {})
        fits[instrument_id] = stored.pk
        ClinicSettings.objects.filter(pk=settings.pk).update(trajectory_fits=fits)
        record(
            "trajectory.fit",
            organisation_id=organisation.pk,
            object_type="trajectory_fit",
            object_id=stored.pk,
            detail={
                "instrument": instrument_id,
                "episodes": data.episodes,
                "observations": int(data.score.size),
                "converged": fit.converged,
            },
        )
    return stored
