"""The page where a user creates, lists and revokes their API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from alliance.accounts.actor import Actor
from alliance.accounts.models import ApiToken
from alliance.accounts.tokens import TokenError, do_create_token, do_revoke_token
from alliance.web.decorators import member_view


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="Which program will use it, e.g. 'EHR bridge' or 'reporting'"
    )


@member_view
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST" and request.POST.get("action") == "revoke":
        return _revoke(request, actor)
    form = TokenForm(request.POST or None)
    shown = ""
    if request.method == "POST" and form.is_valid():
        try:
            _, shown = do_create_token(actor, form.cleaned_data["name"])
        except TokenError as exc:
            form.add_error("name", str(exc))
        else:
            form = TokenForm()
    # The new token is in this response only: no redirect, so it is never kept in the session.
    context = {
        "form": form,
        "shown": shown,
        "tokens": ApiToken.objects.filter(membership=actor.membership),
    }
    return render(request, "accounts/api_tokens.html", context)


def _revoke(request: HttpRequest, actor: Actor) -> HttpResponse:
    raw = request.POST.get("token", "")
    try:
        row = do_revoke_token(
            actor, int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else 0
        )
    except TokenError:
        raise Http404("Not found") from None
    messages.success(request, f"Token {row.prefix}… is revoked; programs using it are refused.")
    return HttpResponseRedirect(reverse("api_tokens"))
