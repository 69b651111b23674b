"""Who is acting: a signed-in user in the role they hold in one organisation."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from alliance.accounts.models import Membership, User


@dataclass(frozen=True)
class Actor:
    user: User
    membership: Membership

    @property
    def organisation_id(self) -> int:
        return self.membership.organisation_id


def actor_for(user: User, membership_id: int | None = None) -> Actor | None:
    """The actor for a user: the chosen membership, or their first active one."""
    memberships = Membership.objects.filter(user=user, is_active=True).select_related(
        "organisation"
    )
    if membership_id is not None:
        memberships = memberships.filter(pk=membership_id)
    membership = memberships.order_by("pk").first()
    if membership is None:
        return None
    return Actor(user=user, membership=membership)


class AllianceRequest(HttpRequest):
    """A request after SessionPolicyMiddleware: it knows who is acting, if anyone."""

    actor: Actor | None


def require_actor(request: HttpRequest) -> Actor:
    actor: Actor | None = getattr(request, "actor", None)
    if actor is None:
        raise PermissionDenied("You are not a member of a clinic.")
    return actor
