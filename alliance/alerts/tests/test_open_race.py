"""Two submissions of one episode raise the same kind of alert at once: one alert, refreshed."""

from __future__ import annotations

from django.utils import timezone

from alliance.accounts.models import User, clinic_settings
from alliance.alerts.actions import Scored, apply, assess
from alliance.alerts.models import Alert, Kind, Status
from alliance.audit.models import AuditEntry
from alliance.measurement import load_instrument, score
from alliance.measures.models import Response
from alliance.notify.models import Message


def _risky(world) -> Scored:
    instrument = load_instrument("phq9")
    answers = {item.link_id: 0 for item in instrument.items}
    answers["item9"] = 2
    result = score(instrument, answers)
    response = Response.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        encounter=world.own_encounter,
        instrument_id="phq9",
        instrument_version=instrument.version,
        timing="before",
        source="link",
        answers=answers,
        total=result.total,
        band=result.band or "",
        complete=True,
        flags=result.flags,
        submitted_at=timezone.now(),
    )
    return Scored(response, instrument, result)


def test_an_alert_opened_meanwhile_is_refreshed_not_doubled(world):
    Alert.objects.all().delete()
    User.objects.filter(pk=world.clinician.user_id).update(email="lead@clinic.invalid")
    scored = _risky(world)
    # Read before the other submission committed: no risk alert open yet.
    findings = assess(world.own_episode.pk, [scored], clinic_settings(world.org.pk))
    assert findings.open_ids == {}
    other = Alert.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        kind=Kind.RISK,
        priority=1,
        status=Status.ACKNOWLEDGED,
        opened_at=timezone.now(),
        reason="opened by the other submission",
    )

    apply(findings)

    [alert] = Alert.objects.filter(episode=world.own_episode, kind=Kind.RISK)
    assert alert.pk == other.pk
    assert alert.status == Status.OPEN  # a new risk answer opens it again
    assert "answered 2" in alert.reason
    assert AuditEntry.objects.filter(action="alert.refresh", object_id=str(other.pk)).exists()
    assert not AuditEntry.objects.filter(action="alert.open").exists()
    # The care team still hears of it.
    assert Message.objects.filter(kind="alert.risk", to="lead@clinic.invalid").count() == 1
