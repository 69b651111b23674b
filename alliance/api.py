"""The REST API root: authentication, error shapes, and the routers of each app."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from alliance.accounts.actor import Actor
from alliance.accounts.api import router as accounts_router
from alliance.accounts.models import User
from alliance.accounts.sessions import session_actor
from alliance.accounts.tokens import actor_for_token
from alliance.agency.api import router as agency_router
from alliance.alerts.api import router as alerts_router
from alliance.audit.log import AuditWriteFailed
from alliance.care.api import router as care_router
from alliance.clients.api import router as clients_router
from alliance.clients.errors import ActionError, NotFound
from alliance.measures.api import router as measures_router
from alliance.reports.api import router as reports_router
from alliance.web.middleware import unaudited


class ActorSessionAuth(SessionAuth):
    """The web session (with its CSRF check on changes), resolved to the acting membership."""

    def __call__(self, request: HttpRequest) -> Actor | None:
        # Without a signed-in user a forged request has nothing to ride on: such a change gets
        # the 401 of every anonymous request, not a CSRF refusal.
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        actor: Actor | None = super().__call__(request)
        return actor

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        actor: Actor | None = getattr(request, "actor", None)
        if actor is None:
            actor = session_actor(request, user)
        return actor


class ActorTokenAuth(HttpBearer):
    """A program's API token (`Authorization: Bearer …`), resolved to its membership.

    No CSRF check: a browser never adds this header by itself. A token that is presented but
    unknown, revoked or inactive is refused outright rather than falling back to a session.
    """

    def authenticate(self, request: HttpRequest, token: str) -> Actor:
        actor = actor_for_token(token)
        if actor is None:
            raise AuthenticationError
        return actor


api = NinjaAPI(
    title="Alliance API",
    version="1",
    description=(
        "Clients, episodes, encounters, measures and alerts of the signed-in clinician's "
        "caseload. Authenticate with the web session (send the CSRF token on changes) or with "
        "a personal API token: `Authorization: Bearer <token>`."
    ),
    # The token goes first: the session check would refuse a token's POST for want of CSRF.
    auth=[ActorTokenAuth(), ActorSessionAuth()],
    urls_namespace="api",
    docs_url=None,  # the interactive docs page loads its scripts from a CDN: not here
)
api.add_router("/", accounts_router)
api.add_router("/", clients_router)
api.add_router("/", measures_router)
api.add_router("/", alerts_router)
api.add_router("/", agency_router)
api.add_router("/", care_router)
api.add_router("/", reports_router)


@api.exception_handler(NotFound)
def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(request, {"detail": "Not found"}, status=404)


@api.exception_handler(ActionError)
def action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """A path, query or body that does not validate: one message, as the schema promises
    (ninja's own answer puts a list of pydantic errors where `detail` is a string)."""
    return api.create_response(request, {"detail": _explain(exc.errors)}, status=422)


def _explain(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:5]:
        loc = [str(part) for part in error.get("loc", ())]
        # ninja's location repeats a parameter's name after its source: body.body.version
        where = ".".join(part for n, part in enumerate(loc) if n == 0 or part != loc[n - 1])
        parts.append(f"{where}: {error.get('msg', 'not valid')}")
    return "; ".join(parts)[:500] or "The request is not valid."


@api.exception_handler(AuditWriteFailed)
def audit_failed(request: HttpRequest, exc: AuditWriteFailed) -> HttpResponse:
    return unaudited(request, exc)  # 503 {"detail": …}: nothing was answered or changed


@api.exception_handler(AuthenticationError)
def unauthorised(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": "Unauthorized"}, status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


def schema() -> dict[str, Any]:
    return api.get_openapi_schema(path_prefix="/api/")
