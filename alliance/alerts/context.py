from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from alliance.alerts.models import Alert, Kind, Status
from alliance.clients.access import visible_clients


def risk_banner(request: HttpRequest) -> dict[str, Any]:
    """Open risk alerts stay on every page the care team opens until acknowledged."""
    actor = getattr(request, "actor", None)
    if actor is None or not actor.membership.is_clinical:
        return {}
    alerts = list(
        Alert.objects.filter(
            client__in=visible_clients(actor), kind=Kind.RISK, status=Status.OPEN
        ).values("pk", "client__display_name")[:5]
    )
    return {"open_risk_alerts": alerts}
