"""API tokens for programs: 256 random bits, shown once, stored only as their SHA-256.

A token acts as the membership that created it, with that membership's role and teams, so a
program sees exactly what its owner sees. It stops working when it is revoked or when the
membership or user is deactivated.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import ApiToken
from alliance.audit.log import record
from alliance.opaque import looks_like_token, new_token, token_hash

PREFIX_LENGTH = 8
USE_WRITE_INTERVAL = timedelta(minutes=1)  # last_used_at is written at most once a minute
MAX_ACTIVE_TOKENS = 20  # per membership: a program each, not one per request


class TokenError(Exception):
    """A token cannot be created or revoked as asked; the message is shown to the user."""


def looks_like_api_token(token: str) -> bool:
    return looks_like_token(token, shortest=40)


def do_create_token(actor: Actor, name: str) -> tuple[ApiToken, str]:
    """A new token for the actor's membership; the token itself is returned this once."""
    name = name.strip()
    if not name:
        raise TokenError("Give the token a name that says which program uses it.")
    with transaction.atomic():
        active = ApiToken.objects.filter(membership=actor.membership, revoked_at__isnull=True)
        if active.count() >= MAX_ACTIVE_TOKENS:
            raise TokenError(f"You have {MAX_ACTIVE_TOKENS} tokens; revoke one you no longer use.")
        token, hashed = new_token()
        row = ApiToken.objects.create(
            membership=actor.membership,
            name=name[:80],
            token_hash=hashed,
            prefix=token[:PREFIX_LENGTH],
            created_at=timezone.now(),
        )
        record(
            "token.create",
            actor=actor,
            object_type="api_token",
            object_id=row.pk,
            detail={"prefix": row.prefix},
        )
    return row, token


def do_revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (revoking it again changes nothing)."""
    with transaction.atomic():
        row = (
            ApiToken.objects.select_for_update()
            .filter(pk=token_id, membership=actor.membership)
            .first()
        )
        if row is None:
            raise TokenError("No such token.")
        if row.revoked_at is None:
            row.revoked_at = timezone.now()
            row.save(update_fields=["revoked_at"])
            record(
                "token.revoke",
                actor=actor,
                object_type="api_token",
                object_id=row.pk,
                detail={"prefix": row.prefix},
            )
    return row


def actor_for_token(token: str) -> Actor | None:
    """The actor a presented token stands for, or None if it is unknown, revoked or inactive."""
    if not looks_like_api_token(token):
        return None
    row = (
        ApiToken.objects.select_related("membership__user", "membership__organisation")
        .filter(
            token_hash=token_hash(token),
            revoked_at__isnull=True,
            membership__is_active=True,
            membership__user__is_active=True,
        )
        .first()
    )
    if row is None:
        return None
    _note_use(row)
    return Actor(user=row.membership.user, membership=row.membership)


def _note_use(row: ApiToken) -> None:
    now = timezone.now()
    stale = now - USE_WRITE_INTERVAL
    if row.last_used_at is not None and row.last_used_at > stale:
        return
    # Conditional, so concurrent requests write once and never move the time backwards.
    ApiToken.objects.filter(pk=row.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
    ).update(last_used_at=now)
