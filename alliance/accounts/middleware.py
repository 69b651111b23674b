"""Session lifetime, idle timeout, the two-factor rule for admins, and request.actor."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from alliance.accounts.actor import AllianceRequest
from alliance.accounts.models import User
from alliance.accounts.sessions import session_actor

SEEN_WRITE_INTERVAL = 60  # seconds: the idle clock is written at most once a minute
INACTIVE_MESSAGE = "Your account is not active in any clinic. Ask your clinic admin."
TWO_FACTOR_EXEMPT = ("/account/two-factor/", "/logout/", "/static/", "/healthz")


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AllianceRequest) -> HttpResponse:
        request.actor = None
        user = request.user
        if isinstance(user, User) and user.is_authenticated:
            expired = self._expired(request)
            if expired:
                return self._sign_out(request, user, expired)
            actor = session_actor(request, user)
            if actor is None:
                # Deactivated (or never given a role): the session ends on the next request.
                return self._sign_out(request, user, INACTIVE_MESSAGE)
            request.actor = actor
            needs_second_factor = actor is not None and actor.membership.is_admin
            if needs_second_factor and not user.has_totp and not _exempt(request.path):
                messages.warning(request, "Clinic admins must turn on two-factor sign-in first.")
                return HttpResponseRedirect(reverse("two_factor"))
        return self.get_response(request)

    def _sign_out(self, request: HttpRequest, user: User, message: str) -> HttpResponse:
        from alliance.accounts.actions import record_logout

        record_logout(user)
        logout(request)
        messages.info(request, message)
        return HttpResponseRedirect(reverse("login"))

    def _expired(self, request: HttpRequest) -> str:
        now = time.time()
        session = request.session
        if "signed_in_at" not in session:
            # A session started some other way than the login page still gets a lifetime.
            session["signed_in_at"] = now
        signed_in_at = float(session["signed_in_at"])
        seen_at = float(session.get("seen_at", now))
        if now - signed_in_at > settings.SESSION_MAX_AGE:
            return "Your session reached its time limit. Please sign in again."
        if now - seen_at > settings.SESSION_IDLE_TIMEOUT:
            minutes = settings.SESSION_IDLE_TIMEOUT // 60
            return f"You were signed out after {minutes} minutes without activity."
        if now - seen_at > SEEN_WRITE_INTERVAL or "seen_at" not in session:
            session["seen_at"] = now
        return ""


def _exempt(path: str) -> bool:
    return path.startswith(TWO_FACTOR_EXEMPT)
