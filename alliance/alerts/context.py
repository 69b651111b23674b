from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from alliance.alerts.actions import open_risk_alerts


def risk_banner(request: HttpRequest) -> dict[str, Any]:
    """Open risk alerts stay on every page the care team opens until acknowledged."""
    actor = getattr(request, "actor", None)
    if actor is None or not actor.membership.is_clinical:
        return {}
    return {"open_risk_alerts": open_risk_alerts(actor)}
