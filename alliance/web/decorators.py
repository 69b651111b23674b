"""View decorators that hand the view its Actor and turn NotFound into a plain 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from alliance.accounts.actor import Actor, require_actor
from alliance.clients.errors import NotFound

P = ParamSpec("P")
ActorView = Callable[Concatenate[HttpRequest, Actor, P], HttpResponse]


def _guarded(check: Callable[[Actor], bool]) -> Callable[[ActorView[P]], Callable[..., Any]]:
    def decorator(view: ActorView[P]) -> Callable[..., Any]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            actor = require_actor(request)
            if not check(actor):
                raise PermissionDenied("Your role does not open this page.")
            try:
                return view(request, actor, *args, **kwargs)
            except NotFound:
                raise Http404("Not found") from None

        return wrapper

    return decorator


clinical_view = _guarded(lambda actor: actor.membership.is_clinical)
admin_view = _guarded(lambda actor: actor.membership.is_admin)
member_view = _guarded(lambda actor: True)
