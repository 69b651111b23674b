"""Sign-in (password, then a TOTP code when the user has one), sign-out, and two-factor setup."""

from __future__ import annotations

import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts import actions, sessions
from alliance.accounts.forms import CodeForm, LoginForm
from alliance.accounts.middleware import INACTIVE_MESSAGE
from alliance.accounts.models import User

PENDING_SECONDS = 300  # how long a password stays good while the user finds their code


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("home")


def _finish_login(request: HttpRequest, user: User, *, second_factor: bool) -> HttpResponse:
    target = _safe_next(request)
    with transaction.atomic():  # last_login stands only with the sign-in's audit entry
        login(request, user, backend=sessions.BACKEND)
        request.session["signed_in_at"] = time.time()
        request.session["seen_at"] = time.time()
        actions.record_login(user, second_factor=second_factor)
    return HttpResponseRedirect(target)


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return HttpResponseRedirect(reverse("home"))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        user = actions.check_password_login(request, username, form.cleaned_data["password"])
        if user is None and actions.is_throttled(username):
            form.add_error(None, _throttled_message())
        elif user is None:
            form.add_error(None, "That username and password do not match.")
        elif not actions.has_active_membership(user):
            actions.refuse_inactive(user)
            form.add_error(None, INACTIVE_MESSAGE)
        elif user.has_totp:
            request.session["pending_user"] = user.pk
            request.session["pending_at"] = time.time()
            request.session["pending_next"] = _safe_next(request)
            return HttpResponseRedirect(reverse("login_code"))
        else:
            return _finish_login(request, user, second_factor=False)
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request)})


@require_http_methods(["GET", "POST"])
def login_code_view(request: HttpRequest) -> HttpResponse:
    pending = request.session.get("pending_user")
    started = float(request.session.get("pending_at", 0))
    user = User.objects.filter(pk=pending, is_active=True).first() if pending else None
    if user is None or time.time() - started > PENDING_SECONDS:
        messages.info(request, "Please sign in again.")
        return HttpResponseRedirect(reverse("login"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = request.META.get("REMOTE_ADDR", "")[:64]
        if actions.verify_totp(user, form.cleaned_data["code"], address=address):
            target = request.session.get("pending_next") or reverse("home")
            _forget_pending(request)
            response = _finish_login(request, user, second_factor=True)
            response["Location"] = target
            return response
        if actions.is_throttled(user.username):
            _forget_pending(request)
            messages.error(request, _throttled_message())
            return HttpResponseRedirect(reverse("login"))
        form.add_error("code", "That code is not right, or was already used. Try the next one.")
    return render(request, "accounts/login_code.html", {"form": form})


def _forget_pending(request: HttpRequest) -> None:
    for key in ("pending_user", "pending_at", "pending_next"):
        request.session.pop(key, None)


def _throttled_message() -> str:
    minutes = settings.LOGIN_FAILURE_WINDOW // 60
    return f"Too many failed attempts. Wait {minutes} minutes and try again."


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if isinstance(request.user, User) and request.user.is_authenticated:
        actions.record_logout(request.user)
    logout(request)
    messages.info(request, "You are signed out.")
    return HttpResponseRedirect(reverse("login"))


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if user.has_totp:
        return _two_factor_on(request, user)
    secret = request.session.get("totp_setup_secret") or actions.new_totp_secret()
    request.session["totp_setup_secret"] = secret
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_enable_totp(user, secret, form.cleaned_data["code"])
        except actions.AccountError as exc:
            form.add_error("code", str(exc))
        else:
            request.session.pop("totp_setup_secret", None)
            messages.success(request, "Two-factor sign-in is on.")
            return HttpResponseRedirect(reverse("home"))
    uri = actions.totp_uri(user, secret)
    qr_data_uri = segno.make(uri, error="m").svg_data_uri(scale=4)
    context = {"form": form, "secret": secret, "qr": qr_data_uri, "enabled": user.has_totp}
    return render(request, "accounts/two_factor.html", context)


def _two_factor_on(request: HttpRequest, user: User) -> HttpResponse:
    """With two-factor on, the page offers only to turn it off, which needs a current code."""
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_disable_totp(user, form.cleaned_data["code"])
        except actions.AccountError as exc:
            form.add_error("code", str(exc))
        else:
            messages.success(request, "Two-factor sign-in is off.")
            return HttpResponseRedirect(reverse("two_factor"))
    is_admin = user.memberships.filter(role="admin", is_active=True).exists()
    return render(
        request, "accounts/two_factor.html", {"form": form, "enabled": True, "is_admin": is_admin}
    )
