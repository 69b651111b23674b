"""Consented stories: offered by the client from their link, reviewed and de-identified by their
care team, shown in the outcome report without any name, and removed on withdrawal.

Every read and change is audited; entries carry the story's id and status, never its words.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.audit.log import record
from alliance.clients.access import access_client
from alliance.clients.actions import bump_version
from alliance.clients.errors import ActionError, NotFound, audit_refusals
from alliance.clients.models import Client
from alliance.measures.models import MeasureLink
from alliance.reports.models import STORY_TEXT, Story, StoryStatus
from alliance.reports.query import Query, Scope

SHOWN_IN_REPORT = 6


def _words(text: str, what: str) -> str:
    words = " ".join(text.split())
    if not words:
        raise ActionError(f"Write {what} first.")
    if len(words) > STORY_TEXT:
        raise ActionError(f"Keep it to {STORY_TEXT} characters (this is {len(words)}).")
    return words


# --- the client, by their link -----------------------------------------------------------------


def link_stories(link: MeasureLink) -> list[Story]:
    rows = list(
        Story.objects.filter(client_id=link.client_id).exclude(status=StoryStatus.WITHDRAWN)
    )
    record(
        "story.list",
        organisation_id=link.organisation_id,
        client_id=link.client_id,
        object_type="story",
        detail={"stories": len(rows), "by": "client"},
    )
    return rows


def offer_story(link: MeasureLink, text: str, *, consent: bool) -> Story:
    words = _words(text, "a few words")
    if not consent:
        raise ActionError("Tick the box to say you agree, or leave this page without sending.")
    with transaction.atomic():
        story = Story.objects.create(
            organisation_id=link.organisation_id,
            client_id=link.client_id,
            episode_id=link.encounter.episode_id,
            words=words,
            consented_at=timezone.now(),
        )
        record(
            "story.offer",
            organisation_id=link.organisation_id,
            client_id=link.client_id,
            object_type="story",
            object_id=story.pk,
        )
    return story


def withdraw_by_client(link: MeasureLink, story_id: int) -> None:
    with transaction.atomic():
        story = (
            Story.objects.select_for_update()
            .filter(pk=story_id, client_id=link.client_id)
            .exclude(status=StoryStatus.WITHDRAWN)
            .first()
        )
        if story is None:
            raise NotFound("story", story_id)
        _withdraw(story)
        record(
            "story.withdraw",
            organisation_id=link.organisation_id,
            client_id=link.client_id,
            object_type="story",
            object_id=story.pk,
            detail={"by": "client"},
        )


def _withdraw(story: Story) -> None:
    """Withdrawal removes the words, the shared version with them."""
    Story.objects.filter(pk=story.pk).update(
        status=StoryStatus.WITHDRAWN,
        words="",
        shared_text="",
        withdrawn_at=timezone.now(),
        version=story.version + 1,
    )


# --- the care team ------------------------------------------------------------------------------


def client_stories(client: Client) -> list[Story]:
    """The client's stories (the caller has read the client through access_client)."""
    return list(Story.objects.filter(client_id=client.pk).select_related("reviewed_by__user"))


def _story_of(client: Client, story_id: int) -> Story:
    story = Story.objects.filter(pk=story_id, client_id=client.pk).first()
    if story is None:
        raise NotFound("story", story_id)
    return story


@audit_refusals("story.review")
def do_review(
    actor: Actor,
    client_id: int,
    story_id: int,
    *,
    decision: str,
    text: str,
    checked: bool,
    version: int,
) -> Story:
    """Share the de-identified words (the reviewer confirms they removed what identifies), or
    decline to use the story."""
    if decision not in ("share", "decline"):
        raise ActionError("Choose to share the story or not to use it.")
    with transaction.atomic():
        client = access_client(actor, client_id, action="story.review")
        story = _story_of(client, story_id)
        if story.status == StoryStatus.WITHDRAWN:
            raise ActionError("This story was withdrawn; it cannot be shared.")
        changes: dict[str, object] = {
            "reviewed_by": actor.membership,
            "reviewed_at": timezone.now(),
        }
        if decision == "share":
            changes["shared_text"] = _words(text, "the words to share")
            if not checked:
                raise ActionError(
                    "Confirm that names, places, dates and anything else that could identify "
                    "the client are removed."
                )
            changes["status"] = StoryStatus.SHARED
        else:
            changes.update(status=StoryStatus.DECLINED, shared_text="")
        bump_version(Story, story.pk, version, **changes)
        record(
            "story.review",
            actor=actor,
            client_id=client.pk,
            object_type="story",
            object_id=story.pk,
            detail={"status": changes["status"]},
        )
    story.refresh_from_db()
    return story


@audit_refusals("story.withdraw")
def do_withdraw_for_client(actor: Actor, client_id: int, story_id: int) -> None:
    """The clinician withdraws a story at the client's request (their link may have expired)."""
    with transaction.atomic():
        client = access_client(actor, client_id, action="story.withdraw")
        story = _story_of(client, story_id)
        if story.status == StoryStatus.WITHDRAWN:
            raise ActionError("This story is already withdrawn.")
        _withdraw(story)
        record(
            "story.withdraw",
            actor=actor,
            client_id=client.pk,
            object_type="story",
            object_id=story.pk,
            detail={"by": "care team"},
        )


# --- the report ---------------------------------------------------------------------------------


def shared_stories(scope: Scope, query: Query) -> list[str]:
    """The newest shared stories of the report's scope: their de-identified words only.

    `scope` is the one access_report gave the run (audited as report.run / export): the clinic,
    and the teams the actor may report on (None: the whole clinic, a clinic admin's view).
    """
    rows = Story.objects.filter(organisation_id=scope.organisation_id, status=StoryStatus.SHARED)
    if scope.teams is not None:
        rows = rows.filter(client__team_id__in=list(scope.teams))
    if query.team is not None:
        rows = rows.filter(client__team_id=query.team)
    return list(
        rows.order_by("-reviewed_at", "-pk").values_list("shared_text", flat=True)[:SHOWN_IN_REPORT]
    )
