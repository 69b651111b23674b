"""Reading the care plan, handoffs and case reviews: each read checks access and is audited.

A care-plan item is seen by its own discipline, its owner and its writer; the rest of the
care team sees it only while the client's consent to share with their discipline, or with
them by name, is in force. Consent is read on every request, so a withdrawal takes effect on
the very next one. A handoff is seen by its sender and its recipient (or the whole care team
when it is addressed to the team). A consultant sees the clients flagged for review in their
teams through the review alone.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from alliance.accounts.actor import Actor
from alliance.accounts.models import Discipline, Role
from alliance.audit.log import record
from alliance.audit.models import Outcome
from alliance.care.models import CareItem, CaseReview, ExtraDiscipline, Handoff, SharingConsent
from alliance.clients.access import known_id, visible_clients
from alliance.clients.errors import NotFound
from alliance.clients.models import CareTeamMember, Client


def disciplines(organisation_id: int) -> list[tuple[str, str]]:
    """The built-in disciplines, then the clinic's own."""
    extra = ExtraDiscipline.objects.filter(organisation_id=organisation_id).order_by("label")
    return [*Discipline.choices, *((d.key, d.label) for d in extra)]


def discipline_of(actor: Actor, client: Client) -> str:
    """The discipline the actor works in for this client: their place on its care team first."""
    place = (
        CareTeamMember.objects.filter(
            client=client, membership_id=actor.membership.pk, ended_at__isnull=True
        )
        .exclude(discipline="")
        .values_list("discipline", flat=True)
        .first()
    )
    return place or actor.membership.discipline


def live_consents(client: Client) -> QuerySet[SharingConsent]:
    return SharingConsent.objects.filter(client=client, withdrawn_at__isnull=True)


def shared_with(actor: Actor, client: Client, discipline: str) -> bool:
    """Has the client agreed that this actor (by discipline or by name) sees the whole plan?"""
    mine = Q(provider_id=actor.membership.pk)
    if discipline:
        mine |= Q(discipline=discipline, provider__isnull=True)
    return live_consents(client).filter(mine).exists()


def care_items(actor: Actor, client: Client) -> tuple[QuerySet[CareItem], int]:
    """The plan items of a client the actor already has access to, and how many are withheld.

    The caller has read the client through an access_* function (which wrote the audit entry).
    """
    rows = CareItem.objects.filter(client=client)
    discipline = discipline_of(actor, client)
    if shared_with(actor, client, discipline):
        return rows, 0
    me = actor.membership.pk
    own = Q(owner_id=me) | Q(created_by_id=me)
    if discipline:
        own |= Q(discipline=discipline)
    seen = rows.filter(own)
    return seen, rows.exclude(own).count()


def access_care_item(
    actor: Actor, item_id: int, *, action: str = "care_item.view", client_id: int | None = None
) -> CareItem:
    rows = CareItem.objects.filter(client__in=visible_clients(actor))
    if client_id is not None:
        rows = rows.filter(client_id=known_id(client_id))
    item = rows.select_related("client", "episode").filter(pk=known_id(item_id)).first()
    if item is not None:
        seen, _ = care_items(actor, item.client)
        if not seen.filter(pk=item.pk).exists():
            item = None  # not shared with this actor: it does not exist for them
    if item is None:
        _denied(actor, action, "care_item", item_id)
    assert item is not None
    record(
        action, actor=actor, client_id=item.client_id, object_type="care_item", object_id=item.pk
    )
    return item


def visible_handoffs(actor: Actor) -> QuerySet[Handoff]:
    me = actor.membership.pk
    return Handoff.objects.filter(client__in=visible_clients(actor)).filter(
        Q(sender_id=me) | Q(recipient_id=me) | Q(recipient__isnull=True)
    )


def access_handoff(
    actor: Actor, handoff_id: int, *, action: str = "handoff.view", client_id: int | None = None
) -> Handoff:
    rows = visible_handoffs(actor)
    if client_id is not None:
        rows = rows.filter(client_id=known_id(client_id))
    handoff = (
        rows.select_related("client", "sender__user", "recipient__user")
        .filter(pk=known_id(handoff_id))
        .first()
    )
    if handoff is None:
        _denied(actor, action, "handoff", handoff_id)
    assert handoff is not None
    record(
        action,
        actor=actor,
        client_id=handoff.client_id,
        object_type="handoff",
        object_id=handoff.pk,
    )
    return handoff


def visible_reviews(actor: Actor) -> QuerySet[CaseReview]:
    """Reviews of the actor's clients; a consultant also sees those of their teams' clients."""
    if not actor.membership.is_clinical:
        return CaseReview.objects.none()
    of_mine = Q(client__in=visible_clients(actor))
    if actor.membership.role == Role.CONSULTANT:
        in_my_teams = Exists(
            actor.membership.teams.through.objects.filter(
                membership_id=actor.membership.pk, team_id=OuterRef("client__team_id")
            )
        )
        return CaseReview.objects.filter(organisation_id=actor.organisation_id).filter(
            of_mine | in_my_teams
        )
    return CaseReview.objects.filter(of_mine)


def access_review(actor: Actor, review_id: int, *, action: str = "review.view") -> CaseReview:
    review = (
        visible_reviews(actor)
        .select_related("client", "episode", "flagged_by__user", "consultant__user")
        .filter(pk=known_id(review_id))
        .first()
    )
    if review is None:
        _denied(actor, action, "review", review_id)
    assert review is not None
    record(
        action, actor=actor, client_id=review.client_id, object_type="review", object_id=review.pk
    )
    return review


def _denied(actor: Actor, action: str, object_type: str, object_id: int) -> None:
    record(
        action, actor=actor, object_type=object_type, object_id=object_id, outcome=Outcome.DENIED
    )
    raise NotFound(object_type, object_id)
