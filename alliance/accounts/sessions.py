"""Sessions that bring their user and role along: one statement before a signed-in view runs.

With Django's database sessions a signed-in request reads the session, then the auth backend
reads the user, then the session policy reads the membership: three round trips on every page.
Here the session row keeps the signed-in user's id in a column (written from the signed data at
every save), and `SessionStore.load` reads the session, that user and their first active
membership with its clinic in one joined statement.

What the statement brought is used only where it answers the same question the ordinary path
would: the user only when the id in the decoded data is the column's, and the membership only
when the session names no chosen membership (the rule of `actor_for`). Everything Django checks
still runs on it: the backend path, `user_can_authenticate`, the session's auth hash.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from alliance.accounts.actor import Actor, actor_for
from alliance.accounts.models import Membership, Organisation, SignInSession, User
from alliance.rows import all_columns, execute, quote, table

BACKEND = "alliance.accounts.sessions.SignInBackend"
CHOSEN_MEMBERSHIP = "membership_id"  # a session that names one skips the joined membership

_USER = all_columns(User)
_MEMBERSHIP = all_columns(Membership)
_ORGANISATION = all_columns(Organisation)
# The store whose user the backend may take, while django.contrib.auth.get_user runs.
_reading: ContextVar[SessionStore | None] = ContextVar("session_reading", default=None)


@dataclass(frozen=True)
class SignedIn:
    user: User
    membership: Membership | None  # the user's first active membership, if they have one


class SessionStore(DatabaseStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._signed_in: SignedIn | None = None
        self._verified = False  # Django's get_user accepted the user the load read

    @classmethod
    def get_model_class(cls) -> type[SignInSession]:
        return SignInSession

    def create_model_instance(self, data: dict[str, Any]) -> SignInSession:
        instance = super().create_model_instance(data)
        assert isinstance(instance, SignInSession)  # get_model_class's
        instance.user_id = _user_id(data)
        return instance

    def load(self) -> dict[str, Any]:
        self._signed_in, self._verified = None, False
        expires = SignInSession._meta.get_field("expire_date")
        now = expires.get_db_prep_value(timezone.now(), connection)
        rows = execute(_statement(connection.vendor), [True, self.session_key, now])
        if not rows:
            self._session_key = None
            return {}
        session_data, user_id, *columns = rows[0]
        data: dict[str, Any] = self.decode(session_data)
        if user_id is not None and user_id == _user_id(data) and columns[0] is not None:
            self._signed_in = _signed_in(columns)
        return data

    def clear(self) -> None:
        self._signed_in = None
        self._verified = False
        super().clear()

    def _read_for(self, user_id: object) -> SignedIn | None:
        """What the load read, if the session's data names this user id (for the backend,
        before Django has checked the session against the user)."""
        signed_in = self._signed_in
        if signed_in is None or _user_pk(user_id) != signed_in.user.pk:
            return None
        return signed_in

    def _checked(self, user: object) -> None:
        """Django's get_user gave `user`: if it is the user the load read, every check on it
        has passed (backend, active, session hash)."""
        self._verified = self._signed_in is not None and user is self._signed_in.user

    def signed_in(self, user_id: object) -> SignedIn | None:
        """What the load read for this user id, once Django has accepted that very user."""
        return self._read_for(user_id) if self._verified else None


def _signed_in(columns: list[Any]) -> SignedIn:
    users, memberships = len(_USER), len(_MEMBERSHIP)
    user = _USER.load(columns[:users])
    membership_values = columns[users : users + memberships]
    if membership_values[0] is None:
        return SignedIn(user=user, membership=None)
    membership = _MEMBERSHIP.load(membership_values)
    membership.organisation = _ORGANISATION.load(columns[users + memberships :])
    membership.user = user
    return SignedIn(user=user, membership=membership)


@cache
def _statement(vendor: str) -> str:
    """The session, its user, and the user's first active membership (as `actor_for` picks it)
    with its organisation; the joined parts are NULL where there is none."""
    pk = quote("id")
    return (
        f"SELECT s.{quote('session_data')}, s.{quote('user_id')}, {_USER.select('u')}, "  # noqa: S608
        f"{_MEMBERSHIP.select('m')}, {_ORGANISATION.select('o')} "
        f"FROM {table(SignInSession)} s "
        f"LEFT JOIN {table(User)} u ON u.{pk} = s.{quote('user_id')} "
        f"LEFT JOIN {table(Membership)} m ON m.{pk} = ("
        f"SELECT MIN(f.{pk}) FROM {table(Membership)} f "
        f"WHERE f.{quote('user_id')} = s.{quote('user_id')} AND f.{quote('is_active')} = %s) "
        f"LEFT JOIN {table(Organisation)} o ON o.{pk} = m.{quote('organisation_id')} "
        f"WHERE s.{quote('session_key')} = %s AND s.{quote('expire_date')} > %s"
    )


def _user_pk(value: object) -> int | None:
    try:
        pk = User._meta.pk.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return None
    return pk if isinstance(pk, int) else None


def _user_id(data: dict[str, Any]) -> int | None:
    return _user_pk(data.get(auth.SESSION_KEY))


class SignInBackend(ModelBackend):
    """Django's ModelBackend, taking the user the session's statement already read when that
    is the user asked for (and, like ModelBackend, only a user who may sign in)."""

    def get_user(self, user_id: Any) -> User | None:
        store = _reading.get()
        signed_in = store._read_for(user_id) if store is not None else None
        if signed_in is None:
            found: User | None = super().get_user(user_id)
            return found
        return signed_in.user if self.user_can_authenticate(signed_in.user) else None


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, with `request.user` resolved where SignInBackend can see the session's store."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))  # type: ignore[assignment]


def _user(request: HttpRequest) -> Any:
    store = request.session
    ours = store if isinstance(store, SessionStore) else None
    token = _reading.set(ours)
    try:
        user = auth.get_user(request)
    finally:
        _reading.reset(token)
    if ours is not None:
        ours._checked(user)
    return user


def session_actor(request: HttpRequest, user: User) -> Actor | None:
    """The actor of a signed-in request: from the session's own statement when it read this
    user's membership, otherwise as `actor_for` finds it."""
    session = request.session
    chosen = session.get(CHOSEN_MEMBERSHIP)
    signed_in = session.signed_in(user.pk) if isinstance(session, SessionStore) else None
    if chosen is not None or signed_in is None:
        return actor_for(user, chosen)
    if signed_in.membership is None:
        return None
    membership = signed_in.membership
    membership.user = user
    return Actor(user=user, membership=membership)
