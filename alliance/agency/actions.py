"""Clinician-side changes to goals, moments, thank-yous and the client's own view.

Each action checks access through alliance.clients.access or alliance.agency.access, changes
what it must in one transaction, and writes its audit entry there; refusals are audited too.
Audit details never carry the client's words.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.agency.access import access_goal, access_thanks
from alliance.agency.models import (
    GOAL_TEXT,
    MAX_GOALS,
    MOMENT_TEXT,
    Author,
    ChangeKind,
    ClientView,
    CollectionChoice,
    Goal,
    GoalChange,
    GoalRating,
    GoalStatus,
    KeptThanks,
    Moment,
    MomentKind,
    Visibility,
)
from alliance.audit.log import record
from alliance.clients.access import access_client
from alliance.clients.actions import bump_version, check_day
from alliance.clients.errors import ActionError, NotFound, audit_refusals
from alliance.clients.models import Client, Episode, Phase

# Phases in which goals and moments are still being written (follow-up keeps rating them).
ACTIVE_PHASES = (Phase.ENGAGEMENT, Phase.WORKING, Phase.ENDING, Phase.FOLLOW_UP)


def clean_text(value: str, limit: int, what: str, *, required: bool = True) -> str:
    text = " ".join(str(value).split())
    if "\x00" in text:
        raise ActionError(f"{what} contains a character that cannot be stored.")
    if required and not text:
        raise ActionError(f"{what} cannot be empty.")
    if len(text) > limit:
        raise ActionError(f"{what} can be at most {limit} characters.")
    return text


def current_episode(client: Client) -> Episode:
    episode = client.episodes.filter(phase__in=ACTIVE_PHASES).first()
    if episode is None:
        raise ActionError("This client has no open episode; open one first.")
    return episode


def check_rating(rating: object) -> int:
    if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating <= 10:
        raise ActionError("A goal rating is a whole number from 0 to 10.")
    return rating


def add_goal(
    episode: Episode, text: str, *, written_by: str, by: Actor | None, at: datetime | None = None
) -> Goal:
    """Write a goal into an episode (the caller holds the transaction and has checked access)."""
    text = clean_text(text, GOAL_TEXT, "A goal")
    active = Goal.objects.filter(episode=episode, status=GoalStatus.ACTIVE).count()
    if active >= MAX_GOALS:
        raise ActionError(f"Up to {MAX_GOALS} goals at a time; retire one to add another.")
    at = at or timezone.now()
    goal = Goal.objects.create(
        organisation_id=episode.organisation_id,
        client_id=episode.client_id,
        episode=episode,
        text=text,
        written_by=written_by,
        created_by=by.membership if by else None,
        created_at=at,
    )
    GoalChange.objects.create(
        organisation_id=episode.organisation_id,
        goal=goal,
        kind=ChangeKind.CREATED,
        text=text,
        at=at,
        by=by.membership if by else None,
    )
    return goal


@audit_refusals("goal.create")
def do_add_goal(actor: Actor, client_id: int, *, text: str) -> Goal:
    with transaction.atomic():
        client = access_client(actor, client_id, action="goal.create")
        goal = add_goal(current_episode(client), text, written_by=Author.CLINICIAN, by=actor)
        record(
            "goal.create", actor=actor, client_id=client.pk, object_type="goal", object_id=goal.pk
        )
    return goal


@audit_refusals("goal.revise")
def do_revise_goal(
    actor: Actor,
    goal_id: int,
    *,
    text: str,
    reason: str,
    version: int,
    client_id: int | None = None,
) -> Goal:
    text = clean_text(text, GOAL_TEXT, "A goal")
    reason = clean_text(reason, 300, "The reason", required=False)
    with transaction.atomic():
        goal = access_goal(actor, goal_id, action="goal.revise", client_id=client_id)
        if goal.status != GoalStatus.ACTIVE:
            raise ActionError("This goal is retired; write a new one instead.")
        if text == goal.text:
            raise ActionError("The new wording is the same as the old one.")
        bump_version(Goal, goal.pk, version, text=text)
        _changed(actor, goal, "goal.revise", ChangeKind.REVISED, text, reason, timezone.now())
    return goal


@audit_refusals("goal.retire")
def do_retire_goal(
    actor: Actor, goal_id: int, *, reason: str, version: int, client_id: int | None = None
) -> Goal:
    reason = clean_text(reason, 300, "The reason for retiring it")
    with transaction.atomic():
        goal = access_goal(actor, goal_id, action="goal.retire", client_id=client_id)
        if goal.status != GoalStatus.ACTIVE:
            raise ActionError("This goal is already retired.")
        now = timezone.now()
        bump_version(
            Goal, goal.pk, version, status=GoalStatus.RETIRED, retired_at=now, retired_reason=reason
        )
        _changed(actor, goal, "goal.retire", ChangeKind.RETIRED, goal.text, reason, now)
    return goal


@audit_refusals("goal.rate")
def do_rate_goal(
    actor: Actor, goal_id: int, *, rating: int, client_id: int | None = None
) -> GoalRating:
    """The client's rating, given in session and entered by the clinician with them."""
    rating = check_rating(rating)
    with transaction.atomic():
        goal = access_goal(actor, goal_id, action="goal.rate", client_id=client_id)
        if goal.status != GoalStatus.ACTIVE:
            raise ActionError("A retired goal is no longer rated.")
        if goal.episode.phase == Phase.CLOSED:
            raise ActionError("This episode is closed.")
        row = GoalRating.objects.create(
            organisation_id=goal.organisation_id,
            client_id=goal.client_id,
            episode_id=goal.episode_id,
            goal=goal,
            rating=rating,
            rated_at=timezone.now(),
            source=Author.CLINICIAN,
        )
        record(
            "goal.rate",
            actor=actor,
            client_id=goal.client_id,
            object_type="goal",
            object_id=goal.pk,
        )
    return row


@audit_refusals("moment.create")
def do_add_moment(
    actor: Actor,
    client_id: int,
    *,
    kind: str,
    text: str,
    happened_on: date,
    goal_id: int | None = None,
) -> Moment:
    if kind not in MomentKind.values:
        raise ActionError("Choose a small victory or a breakthrough.")
    text = clean_text(text, MOMENT_TEXT, "The note")
    check_day(happened_on, "The date")
    if happened_on > timezone.localdate():
        raise ActionError("A moment cannot be in the future.")
    with transaction.atomic():
        client = access_client(actor, client_id, action="moment.create")
        episode = current_episode(client)
        if happened_on < episode.opened_on:
            raise ActionError("The date is before this episode began.")
        goal = None
        if goal_id is not None:
            goal = Goal.objects.filter(pk=goal_id, episode=episode).first()
            if goal is None:
                raise ActionError("Choose one of this episode's goals, or none.")
        moment = Moment.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            episode=episode,
            kind=kind,
            text=text,
            happened_on=happened_on,
            goal=goal,
            written_by=Author.CLINICIAN,
            created_by=actor.membership,
            visibility=Visibility.TEAM,
            created_at=timezone.now(),
        )
        record(
            "moment.create",
            actor=actor,
            client_id=client.pk,
            object_type="moment",
            object_id=moment.pk,
            detail={"kind": kind},
        )
    return moment


@audit_refusals("client.own_view")
def do_set_client_view(actor: Actor, client_id: int, *, enabled: bool) -> ClientView:
    with transaction.atomic():
        client = access_client(actor, client_id, action="client.own_view")
        view, _ = ClientView.objects.update_or_create(
            client=client,
            defaults={
                "organisation_id": client.organisation_id,
                "enabled": enabled,
                "changed_at": timezone.now(),
                "changed_by": actor.membership,
            },
        )
        record(
            "client.own_view",
            actor=actor,
            client_id=client.pk,
            object_type="client",
            object_id=client.pk,
            detail={"enabled": enabled},
        )
    return view


def client_view_enabled(client_id: int) -> bool:
    return ClientView.objects.filter(client_id=client_id, enabled=True).exists()


# ---- The gratitude collection: it belongs to the clinician's account, not the record --------


def collection_on(actor: Actor) -> bool:
    choice = CollectionChoice.objects.filter(user=actor.user).first()
    return choice is None or choice.enabled


def initials(name: str) -> str:
    letters = [part[0].upper() for part in name.replace("-", " ").split() if part[:1].isalpha()]
    return ".".join(letters[:3]) + "." if letters else "—"


def _source(thanks_id: int) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"thanks:{thanks_id}".encode(), hashlib.sha256).hexdigest()


@audit_refusals("thanks.keep")
def do_keep_thanks(actor: Actor, thanks_id: int) -> KeptThanks:
    with transaction.atomic():
        if not collection_on(actor):
            raise ActionError("Your gratitude collection is turned off.")
        thanks = access_thanks(actor, thanks_id, action="thanks.keep")
        at = timezone.localtime(thanks.created_at).date().replace(day=1)
        kept, _ = KeptThanks.objects.get_or_create(
            user=actor.user,
            source=_source(thanks.pk),
            defaults={
                "message": thanks.message,
                "initials": initials(thanks.client.display_name),
                "received": at,
                "kept_at": timezone.now(),
            },
        )
        # The audit names the thank-you kept, not what the collection now holds.
        record(
            "thanks.keep",
            actor=actor,
            client_id=thanks.client_id,
            object_type="thanks",
            object_id=thanks.pk,
        )
    return kept


def do_forget_kept(actor: Actor, kept_id: int) -> None:
    with transaction.atomic():
        deleted, _ = KeptThanks.objects.filter(user=actor.user, pk=kept_id).delete()
        if not deleted:
            raise NotFound("kept thanks", kept_id)
        record("thanks.forget", actor=actor, object_type="kept_thanks", object_id=kept_id)


def do_set_collection(actor: Actor, *, enabled: bool, clear: bool = False) -> None:
    """Turn the collection on or off; turning it off can also clear what it holds."""
    with transaction.atomic():
        CollectionChoice.objects.update_or_create(user=actor.user, defaults={"enabled": enabled})
        removed = 0
        if not enabled and clear:
            removed, _ = KeptThanks.objects.filter(user=actor.user).delete()
        record(
            "thanks.collection",
            actor=actor,
            object_type="user",
            object_id=actor.user.pk,
            detail={"enabled": enabled, "removed": removed},
        )


def _changed(
    actor: Actor, goal: Goal, action: str, kind: str, text: str, reason: str, at: datetime
) -> None:
    """Keep the step in the goal's history, audit it (no words), and re-read the goal."""
    GoalChange.objects.create(
        organisation_id=goal.organisation_id,
        goal=goal,
        kind=kind,
        text=text,
        reason=reason,
        at=at,
        by=actor.membership,
    )
    record(action, actor=actor, client_id=goal.client_id, object_type="goal", object_id=goal.pk)
    goal.refresh_from_db()
