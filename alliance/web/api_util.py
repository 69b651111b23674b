from __future__ import annotations

from django.http import HttpRequest

from alliance.accounts.actor import Actor


def actor_of(request: HttpRequest) -> Actor:
    """The Actor the API's authentication attached to the request."""
    actor = getattr(request, "auth", None)
    assert isinstance(actor, Actor)
    return actor
