"""Opaque bearer secrets (measure links, API tokens): 256 random bits, shown once, stored only
as their SHA-256, so a copy of the database opens nothing."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits; measure links need at least 128


def new_token() -> tuple[str, str]:
    """A new token and the hash to store in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str, *, shortest: int = 20) -> bool:
    """Cheap shape check before a lookup: URL-safe base64 of a sensible length."""
    return shortest <= len(token) <= 100 and all(c.isalnum() or c in "-_" for c in token)
