"""Organisations (clinics), their teams, staff users and the role each holds in a clinic."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class Organisation(models.Model):
    """A clinic. Every row of client data belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A service team inside a clinic (e.g. 'Adult community team')."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=120)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="team_name_unique_in_org")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of staff. Clients have no accounts: they answer through one-time links."""

    totp_secret = models.CharField(max_length=64, blank=True)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)
    totp_last_step = models.BigIntegerField(default=0)  # refuses a code used twice

    @property
    def has_totp(self) -> bool:
        return self.totp_confirmed_at is not None

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class SignInSession(AbstractBaseSession):
    """A browser session, with the signed-in user's id in a column beside the signed data, so
    that one statement reads the session, its user and their role (alliance.accounts.sessions).
    The column is written from the data on every save and checked against it on every read."""

    user_id = models.BigIntegerField(null=True, db_index=True)

    @classmethod
    def get_session_store_class(cls) -> type:
        from alliance.accounts.sessions import SessionStore

        return SessionStore


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    COORDINATOR = "coordinator", "Care coordinator"
    CONSULTANT = "consultant", "Consultant / supervisor"
    ADMIN = "admin", "Clinic admin"


class Discipline(models.TextChoices):
    PSYCHOLOGY = "psychology", "Psychology / counselling"
    PSYCHIATRY = "psychiatry", "Psychiatry"
    PHYSICAL_HEALTH = "physical_health", "Physical health (GP / physician)"
    SOCIAL_WORK = "social_work", "Social work"
    NURSING = "nursing", "Nursing"
    PEER_SUPPORT = "peer_support", "Peer support"


class Membership(models.Model):
    """The role a user holds in one organisation; every action is taken as a membership."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    discipline = models.CharField(max_length=30, choices=Discipline.choices, blank=True)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"], name="one_membership_per_user_and_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.display_name} ({self.get_role_display()})"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_clinical(self) -> bool:
        return self.role != Role.ADMIN


class LoginFailure(models.Model):
    """A failed sign-in, kept for throttling. The username is stored as a keyed hash."""

    username_key = models.CharField(max_length=64, db_index=True)
    address = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(db_index=True)


DEFAULT_CRISIS_CONTACTS = (
    "If you feel you might act on thoughts of harming yourself, please get help now: call your "
    "local emergency number or go to the nearest emergency department. You can also tell your "
    "therapist at the start of your session."
)


def default_report_roles() -> list[str]:
    return [Role.ADMIN.value, Role.COORDINATOR.value, Role.CONSULTANT.value]


class ClinicSettings(models.Model):
    """What each clinic tunes: crisis contacts, link lifetimes and alert thresholds."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, primary_key=True, related_name="clinic_settings"
    )
    crisis_contacts = models.TextField(
        default=DEFAULT_CRISIS_CONTACTS,
        help_text="Shown to a client the moment they answer a risk question above zero.",
    )
    link_hours = models.PositiveSmallIntegerField(
        default=72, help_text="How long a measure link stays open (hours)."
    )
    reminder_hours = models.PositiveSmallIntegerField(
        default=24, help_text="When to remind a client who has not answered (hours after sending)."
    )
    rupture_floor = models.PositiveSmallIntegerField(
        default=30, help_text="Alliance check total (0-40) below which a rupture alert opens."
    )
    rupture_drop = models.PositiveSmallIntegerField(
        default=5,
        help_text="A drop of this many points below the client's own average also opens one.",
    )
    not_on_track_session = models.PositiveSmallIntegerField(
        default=4, help_text="From which measured session the not-on-track rule applies."
    )
    # Treat-to-target review points of collaborative care (Unutzer et al., JAMA 2002, IMPACT;
    # the AIMS Center's registry practice): no reliable improvement by week 10-12 means the
    # treatment is changed; no contact for two weeks means the client is followed up.
    target_weeks = models.PositiveSmallIntegerField(
        default=10, help_text="Registry: flag no reliable improvement after this many weeks."
    )
    contact_days = models.PositiveSmallIntegerField(
        default=14, help_text="Registry: flag no contact for this many days."
    )
    report_roles = models.JSONField(
        default=default_report_roles,
        help_text="Roles that may run the de-identified outcome report.",
    )
    # The fitted expected-recovery band in use per instrument ({"phq9": <TrajectoryFit id>}),
    # set by `alliance trajectories fit`; empty means the rule-based not-on-track method.
    trajectory_fits = models.JSONField(default=dict, blank=True)
    use_fitted_bands = models.BooleanField(
        default=True,
        help_text="Not on track: compare with the band fitted from this clinic's own episodes "
        "once one is fitted (otherwise the rule-based method).",
    )
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"Settings of {self.organisation}"


def clinic_settings(organisation_id: int) -> ClinicSettings:
    found, _ = ClinicSettings.objects.get_or_create(organisation_id=organisation_id)
    return found


class ApiToken(models.Model):
    """A program's key to the API, acting as one membership. Only its SHA-256 is stored."""

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What the token is for, e.g. 'EHR bridge'")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)  # the token's first characters, to tell them apart
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
