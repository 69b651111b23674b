"""Sign-in, two-factor, and the admin's changes to users, roles and teams; all audited."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import (
    ClinicSettings,
    Discipline,
    LoginFailure,
    Membership,
    Organisation,
    Role,
    SignInSession,
    Team,
    User,
    clinic_settings,
)
from alliance.audit.log import record
from alliance.audit.models import Outcome


class AccountError(Exception):
    """A change that cannot be made as asked; the message is shown to the user."""


# --- signing in -------------------------------------------------------------------------------


def _username_key(username: str) -> str:
    secret = settings.SECRET_KEY.encode()
    return hmac.new(secret, username.strip().lower().encode(), hashlib.sha256).hexdigest()


# However the window and limit are set, no account sees more than this many wrong passwords or
# codes checked in an hour. Refused attempts are not counted: hammering a throttled account
# does not lengthen its wait, and every throttle ends when its window has passed.
HOURLY_CEILING = 100
HOUR = timedelta(hours=1)


def is_throttled(username: str) -> bool:
    now = timezone.now()
    failures = LoginFailure.objects.filter(username_key=_username_key(username))
    window = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW)
    if failures.filter(at__gte=window).count() >= settings.LOGIN_FAILURE_LIMIT:
        return True
    return failures.filter(at__gte=now - HOUR).count() >= HOURLY_CEILING


def _lock_attempts(username: str) -> None:
    """Serialises the attempts on one username until the transaction ends, so that parallel
    requests cannot all pass the throttle before any has counted (SQLite's BEGIN IMMEDIATE
    already serialises every write transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_number(username)])


def _lock_number(username: str) -> int:
    return int(_username_key(username)[:15], 16)  # 60 bits: a positive bigint


def _claim_attempt(username: str, address: str) -> LoginFailure | None:
    """Counts the attempt as a failure before the password is checked (it is removed if the
    password is right); None, and nothing counted, while the username is throttled."""
    with transaction.atomic():
        _lock_attempts(username)
        if is_throttled(username):
            return None
        return LoginFailure.objects.create(
            username_key=_username_key(username), address=address, at=timezone.now()
        )


def check_password_login(request: HttpRequest, username: str, password: str) -> User | None:
    """The user if the name and password are right and sign-in is not throttled; else None."""
    address = request.META.get("REMOTE_ADDR", "")[:64]
    claim = _claim_attempt(username, address)
    if claim is None:
        record("login.throttled", outcome=Outcome.DENIED, detail={"username": username[:150]})
        return None
    user = authenticate(request, username=username, password=password)
    if isinstance(user, User):
        LoginFailure.objects.filter(pk=claim.pk).delete()
        return user
    _record_failure(username)
    return None


def has_active_membership(user: User) -> bool:
    return user.memberships.filter(is_active=True).exists()


def refuse_inactive(user: User) -> None:
    """Right password, but no active role in any clinic: audited, and no session is made."""
    record("login.refused", user=user, outcome=Outcome.DENIED, detail={"reason": "inactive"})


def _record_failure(username: str) -> None:
    with transaction.atomic():
        known = User.objects.filter(username=username).first()
        record(
            "login.failed",
            user=known,
            organisation_id=_first_org(known),
            outcome=Outcome.DENIED,
            detail={"username": username[:150]},
        )


def record_login(user: User, *, second_factor: bool) -> None:
    with transaction.atomic():
        LoginFailure.objects.filter(username_key=_username_key(user.username)).delete()
        # Each sign-in sweeps the sessions that have expired (anyone's), so the table holds
        # the sessions that can still be used and no more.
        SignInSession.objects.filter(expire_date__lt=timezone.now()).delete()
        record(
            "login",
            user=user,
            organisation_id=_first_org(user),
            detail={"second_factor": second_factor},
        )


def record_logout(user: User) -> None:
    record("logout", user=user, organisation_id=_first_org(user))


def _first_org(user: User | None) -> int | None:
    if user is None:
        return None
    membership = user.memberships.filter(is_active=True).order_by("pk").first()
    return membership.organisation_id if membership else None


# --- two-factor (TOTP, RFC 6238) --------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Alliance")


def _matching_step(secret: str, code: str) -> int | None:
    """The time step the code belongs to (allowing one step of clock drift), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = timezone.now()
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        if hmac.compare_digest(totp.at(at), code):
            return int(at.timestamp()) // 30
    return None


def verify_totp(user: User, code: str, *, address: str = "") -> bool:
    """Checks a sign-in code; each code is accepted once.

    A wrong code counts as a failed sign-in, so guessing codes is throttled like guessing
    passwords (a six-digit code falls to a few hundred thousand unthrottled tries). The check
    and the count happen under the username's lock and the user's row lock, so neither two
    parallel guesses nor two uses of one code can slip past each other.
    """
    with transaction.atomic():
        _lock_attempts(user.username)
        locked = User.objects.select_for_update().get(pk=user.pk)
        throttled = is_throttled(user.username)
        step = _matching_step(locked.totp_secret, code) if locked.has_totp else None
        accepted = not throttled and step is not None and step > locked.totp_last_step
        if accepted:
            User.objects.filter(pk=user.pk).update(totp_last_step=step)
        elif not throttled:
            LoginFailure.objects.create(
                username_key=_username_key(user.username), address=address, at=timezone.now()
            )
            record(
                "login.second_factor_failed",
                user=user,
                organisation_id=_first_org(user),
                outcome=Outcome.DENIED,
            )
    if throttled:
        record(
            "login.throttled",
            user=user,
            organisation_id=_first_org(user),
            outcome=Outcome.DENIED,
            detail={"username": user.username, "step": "code"},
        )
    return accepted


def do_enable_totp(user: User, secret: str, code: str) -> None:
    if user.has_totp:
        raise AccountError("Two-factor sign-in is already on; turn it off first to change phone.")
    step = _matching_step(secret, code)
    if step is None:
        raise AccountError("That code does not match. Check the time on your phone and try again.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            totp_secret=secret, totp_confirmed_at=timezone.now(), totp_last_step=step
        )
        record("totp.enable", user=user, organisation_id=_first_org(user))


def do_disable_totp(user: User, code: str) -> None:
    """Needs a current code, so a borrowed session cannot switch the second factor off."""
    if user.memberships.filter(role=Role.ADMIN, is_active=True).exists():
        raise AccountError("Clinic admins must keep two-factor sign-in on.")
    if not verify_totp(user, code):
        raise AccountError("That code is not right. Type the current code from your app.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(totp_secret="", totp_confirmed_at=None)
        record("totp.disable", user=user, organisation_id=_first_org(user))


# --- the admin's work: users, roles, teams ----------------------------------------------------


def _require_admin(actor: Actor) -> None:
    if not actor.membership.is_admin:
        raise AccountError("Only a clinic admin can manage users and teams.")


def do_create_user(
    actor: Actor,
    *,
    username: str,
    full_name: str,
    email: str,
    password: str,
    role: str,
    discipline: str,
) -> Membership:
    _require_admin(actor)
    _check_role(role, discipline)
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError("That username is taken.")
    first, _, last = full_name.strip().partition(" ")
    user = User(username=username, first_name=first, last_name=last, email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages)) from None
    user.set_password(password)
    with transaction.atomic():
        try:
            with transaction.atomic():  # the same username taken at the same moment
                user.save()
        except IntegrityError:
            raise AccountError("That username is taken.") from None
        membership = Membership.objects.create(
            user=user, organisation_id=actor.organisation_id, role=role, discipline=discipline
        )
        record(
            "user.create",
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            detail={"user": user.pk, "role": role, "discipline": discipline},
        )
    return membership


def do_change_role(
    actor: Actor, membership_id: int, *, role: str, discipline: str, is_active: bool
) -> Membership:
    _require_admin(actor)
    _check_role(role, discipline)
    with transaction.atomic():
        membership = _org_membership(actor, membership_id)
        if membership.pk == actor.membership.pk and (role != Role.ADMIN or not is_active):
            raise AccountError("You cannot remove your own admin role; ask another admin.")
        before = {
            "role": membership.role,
            "discipline": membership.discipline,
            "active": membership.is_active,
        }
        after = {"role": role, "discipline": discipline, "active": is_active}
        if after == before:
            return membership  # a save that changes nothing is not an event worth auditing
        membership.role = role
        membership.discipline = discipline
        membership.is_active = is_active
        membership.save(update_fields=["role", "discipline", "is_active"])
        record(
            "user.role_change",
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            detail={"before": before, "after": after},
        )
    return membership


def do_set_teams(actor: Actor, membership_id: int, team_ids: list[int]) -> Membership:
    _require_admin(actor)
    with transaction.atomic():
        membership = _org_membership(actor, membership_id)
        teams = list(Team.objects.filter(organisation_id=actor.organisation_id, pk__in=team_ids))
        if len(teams) != len(set(team_ids)):
            raise AccountError("Choose teams of your own organisation.")
        before = sorted(membership.teams.values_list("pk", flat=True))
        if before == sorted(t.pk for t in teams):
            return membership
        membership.teams.set(teams)
        record(
            "user.team_change",
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            detail={"before": before, "after": sorted(t.pk for t in teams)},
        )
    return membership


def do_create_team(actor: Actor, name: str) -> Team:
    _require_admin(actor)
    name = name.strip()
    if not name:
        raise AccountError("Give the team a name.")
    with transaction.atomic():
        if Team.objects.filter(organisation_id=actor.organisation_id, name__iexact=name).exists():
            raise AccountError("A team with that name already exists.")
        try:
            with transaction.atomic():
                team = Team.objects.create(organisation_id=actor.organisation_id, name=name)
        except IntegrityError:
            raise AccountError("A team with that name already exists.") from None
        record("team.create", actor=actor, object_type="team", object_id=team.pk)
    return team


SETTINGS_FIELDS = (
    "crisis_contacts",
    "link_hours",
    "reminder_hours",
    "rupture_floor",
    "rupture_drop",
    "not_on_track_session",
    "target_weeks",
    "contact_days",
    "report_roles",
    "use_fitted_bands",
)


def do_update_clinic_settings(actor: Actor, *, version: int, **values: object) -> ClinicSettings:
    _require_admin(actor)
    with transaction.atomic():
        current = clinic_settings(actor.organisation_id)
        changes = {k: v for k, v in values.items() if k in SETTINGS_FIELDS}
        before = {k: getattr(current, k) for k in changes}
        updated = ClinicSettings.objects.filter(
            organisation_id=actor.organisation_id, version=version
        ).update(version=F("version") + 1, **changes)
        if updated != 1:
            raise AccountError("Someone else changed the settings meanwhile. Reload and retry.")
        changed = sorted(k for k in changes if before[k] != changes[k])
        record(
            "settings.change",
            actor=actor,
            object_type="clinic_settings",
            object_id=actor.organisation_id,
            detail={"changed": changed},
        )
    return clinic_settings(actor.organisation_id)


def create_organisation_with_admin(
    *, name: str, slug: str, username: str, password: str, email: str = ""
) -> Membership:
    """Used by `alliance createadmin`: the first admin of a new or existing clinic."""
    try:
        validate_slug(slug)
    except ValidationError:
        raise AccountError(
            f"the slug {slug!r} is not valid; use letters, digits, dashes or underscores"
        ) from None
    with transaction.atomic():
        org, _ = Organisation.objects.get_or_create(slug=slug, defaults={"name": name})
        if User.objects.filter(username__iexact=username).exists():
            raise AccountError(f"the username {username!r} is taken")
        user = User(username=username, email=email)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise AccountError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        membership = Membership.objects.create(user=user, organisation=org, role=Role.ADMIN)
        record(
            "user.create",
            user=None,
            organisation_id=org.pk,
            object_type="membership",
            object_id=membership.pk,
            detail={"user": user.pk, "role": Role.ADMIN, "by": "command line"},
        )
    return membership


def _check_role(role: str, discipline: str) -> None:
    if role not in Role.values:
        raise AccountError("Choose a role.")
    if discipline and discipline not in Discipline.values:
        raise AccountError("Choose a discipline from the list.")
    if role == Role.CLINICIAN and not discipline:
        raise AccountError("A clinician needs a discipline.")


def _org_membership(actor: Actor, membership_id: int) -> Membership:
    membership = (
        Membership.objects.select_for_update()
        .filter(pk=membership_id, organisation_id=actor.organisation_id)
        .first()
    )
    if membership is None:
        raise AccountError("No such user in your organisation.")
    return membership
