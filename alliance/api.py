"""The REST API root: authentication, error shapes, and the routers of each app."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import SessionAuth

from alliance.accounts.actor import Actor, actor_for
from alliance.accounts.api import router as accounts_router
from alliance.accounts.models import User
from alliance.clients.access import NotFound
from alliance.clients.actions import ActionError
from alliance.clients.api import router as clients_router


class ActorSessionAuth(SessionAuth):
    """The web session (with its CSRF check on changes), resolved to the acting membership."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        actor: Actor | None = getattr(request, "actor", None)
        if actor is None:
            actor = actor_for(user, request.session.get("membership_id"))
        return actor


api = NinjaAPI(
    title="Alliance API",
    version="1",
    description="Clients, episodes and encounters of the signed-in clinician's caseload.",
    auth=ActorSessionAuth(),
    urls_namespace="api",
    docs_url=None,  # the interactive docs page loads its scripts from a CDN: not here
)
api.add_router("/", accounts_router)
api.add_router("/", clients_router)


@api.exception_handler(NotFound)
def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(request, {"detail": "Not found"}, status=404)


@api.exception_handler(ActionError)
def action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


def schema() -> dict[str, Any]:
    return api.get_openapi_schema(path_prefix="/api/")
