"""Changes to the needs profile, the care plan, consent, relationships, handoffs and reviews.

Each action checks access through alliance.clients.access or alliance.care.access, changes what
it must in one transaction and writes its audit entry there; refusals are audited too. Audit
details name objects and counts, never the client's or the team's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from alliance.accounts.actor import Actor
from alliance.accounts.models import Discipline, Membership, Role
from alliance.agency.actions import clean_text, current_episode
from alliance.audit.log import record
from alliance.care.access import (
    access_care_item,
    access_handoff,
    access_review,
    disciplines,
    live_consents,
)
from alliance.care.models import (
    DISCIPLINE_KEY,
    HANDOFF_TEXT,
    ITEM_TEXT,
    NEED_TEXT,
    REVIEW_TEXT,
    CareItem,
    CaseReview,
    ExtraDiscipline,
    Handoff,
    HandoffRead,
    ItemStatus,
    NeedShare,
    NeedsProfile,
    Relationship,
    RelationshipKind,
    ReviewStatus,
    SharingConsent,
)
from alliance.clients.access import access_client, known_id
from alliance.clients.actions import check_day
from alliance.clients.errors import ActionError, NotFound, StaleWrite, audit_refusals
from alliance.clients.models import CareTeamMember, Client, Episode, Phase

MAX_SHARES = 12


class NeedsConflict(StaleWrite):
    """Someone saved another version of the needs profile since this one was read."""

    def __init__(self, current: NeedsProfile | None) -> None:
        super().__init__()
        self.current = current


class ItemConflict(StaleWrite):
    """Someone changed the plan item since it was read; `current` is what they saved."""

    def __init__(self, current: CareItem) -> None:
        super().__init__()
        self.current = current


def _audit(actor: Actor, action: str, row: Any, **detail: object) -> None:
    """The entry of a change to one of the client's rows: what, which, never its words."""
    record(
        action,
        actor=actor,
        client_id=row.client_id,
        object_type=action.split(".")[0],
        object_id=row.pk,
        detail=detail or None,
    )


def long_text(value: str, limit: int, what: str) -> str:
    """Text kept with its line breaks (a recommendation reads as paragraphs)."""
    text = "\n".join(line.rstrip() for line in str(value).strip().splitlines())
    if "\x00" in text:
        raise ActionError(f"{what} contains a character that cannot be stored.")
    if not text:
        raise ActionError(f"{what} cannot be empty.")
    if len(text) > limit:
        raise ActionError(f"{what} can be at most {limit} characters.")
    return text


@dataclass(frozen=True)
class ShareIn:
    discipline: str
    percent: int
    owner_id: int | None = None
    need: str = ""


def care_team(client: Client) -> dict[int, CareTeamMember]:
    """The client's active care team, by membership id."""
    rows = CareTeamMember.objects.filter(client=client, ended_at__isnull=True).select_related(
        "membership__user"
    )
    return {m.membership_id: m for m in rows}


def current_needs(episode: Episode | None) -> NeedsProfile | None:
    if episode is None:
        return None
    return NeedsProfile.objects.filter(episode=episode).order_by("-version").first()


def _discipline_key(organisation_id: int, key: str) -> str:
    known = dict(disciplines(organisation_id))
    if key not in known:
        raise ActionError("Choose one of the clinic's disciplines.")
    return key


def _owner(team: dict[int, CareTeamMember], owner_id: int | None, discipline: str) -> int | None:
    """An owner must be on the client's care team, and of the discipline when it is built in."""
    if owner_id is None:
        return None
    place = team.get(owner_id)
    if place is None:
        raise ActionError("The owner must be on this client's care team; add them to it first.")
    theirs = place.discipline or place.membership.discipline
    if discipline in Discipline.values and theirs != discipline:
        name = place.membership.user.display_name
        label = Discipline(discipline).label
        raise ActionError(f"{name} does not work in {label}; choose someone who does, or none.")
    return owner_id


def _check_shares(
    organisation_id: int, team: dict[int, CareTeamMember], shares: list[ShareIn]
) -> None:
    if not shares:
        raise ActionError("Give at least one discipline a share of the client's needs.")
    if len(shares) > MAX_SHARES:
        raise ActionError(f"At most {MAX_SHARES} disciplines can share the needs.")
    seen: set[str] = set()
    for share in shares:
        _discipline_key(organisation_id, share.discipline)
        if share.discipline in seen:
            raise ActionError("Each discipline can appear once; put its whole share in one row.")
        seen.add(share.discipline)
        if not isinstance(share.percent, int) or not 0 < share.percent <= 100:
            raise ActionError("Each share is a whole percentage from 1 to 100.")
        _owner(team, share.owner_id, share.discipline)
    total = sum(s.percent for s in shares)
    if total != 100:
        raise ActionError(f"The shares must add up to 100 %; these add up to {total} %.")


@audit_refusals("needs.update")
def do_save_needs(
    actor: Actor,
    client_id: int,
    *,
    base_version: int,
    shares: list[ShareIn],
    reason: str,
    agreed_with_client: bool,
) -> NeedsProfile:
    """Save a new version of the open episode's needs profile, built on `base_version`
    (0 for the first); a version saved meanwhile by someone else is a NeedsConflict."""
    reason = clean_text(reason, 300, "The reason", required=base_version > 0) or "First profile"
    shares = [
        ShareIn(
            s.discipline,
            s.percent,
            s.owner_id,
            clean_text(s.need, NEED_TEXT, "A need", required=False),
        )
        for s in shares
    ]
    with transaction.atomic():
        client = access_client(actor, client_id, action="needs.update")
        episode = current_episode(client)
        _check_shares(client.organisation_id, care_team(client), shares)
        current = current_needs(episode)
        if (current.version if current else 0) != base_version:
            raise NeedsConflict(current)
        try:
            with transaction.atomic():
                profile = NeedsProfile.objects.create(
                    organisation_id=client.organisation_id,
                    client=client,
                    episode=episode,
                    version=base_version + 1,
                    agreed_with_client=agreed_with_client,
                    reason=reason,
                    changed_by=actor.membership,
                    changed_at=timezone.now(),
                )
        except IntegrityError:
            raise NeedsConflict(current_needs(episode)) from None
        NeedShare.objects.bulk_create(
            NeedShare(
                profile=profile,
                discipline=s.discipline,
                percent=s.percent,
                owner_id=s.owner_id,
                need=s.need,
            )
            for s in shares
        )
        unmet = sum(s.percent for s in shares if s.owner_id is None)
        _audit(
            actor,
            "needs.update",
            profile,
            version=profile.version,
            shares=len(shares),
            unmet_percent=unmet,
        )
    return profile


@dataclass(frozen=True)
class ItemIn:
    discipline: str
    need: str
    goal: str = ""
    action: str = ""
    owner_id: int | None = None
    due_on: date | None = None
    status: str = ItemStatus.PLANNED


def _item_fields(
    client: Client, team: dict[int, CareTeamMember], item: ItemIn
) -> dict[str, object]:
    discipline = _discipline_key(client.organisation_id, item.discipline)
    if item.status not in ItemStatus.values:
        raise ActionError("Choose a status: planned, under way, done or stopped.")
    if item.due_on is not None:
        check_day(item.due_on, "The due date")
    if item.owner_id is not None and item.owner_id not in team:
        raise ActionError("The owner must be on this client's care team; add them to it first.")
    return {
        "discipline": discipline,
        "need": clean_text(item.need, NEED_TEXT, "The need"),
        "goal": clean_text(item.goal, ITEM_TEXT, "The goal", required=False),
        "action": clean_text(item.action, ITEM_TEXT, "The action", required=False),
        "owner_id": item.owner_id,
        "due_on": item.due_on,
        "status": item.status,
    }


@audit_refusals("care_item.create")
def do_add_item(actor: Actor, client_id: int, item: ItemIn) -> CareItem:
    with transaction.atomic():
        client = access_client(actor, client_id, action="care_item.create")
        episode = current_episode(client)
        fields = _item_fields(client, care_team(client), item)
        now = timezone.now()
        created = CareItem.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            episode=episode,
            created_by=actor.membership,
            created_at=now,
            updated_by=actor.membership,
            updated_at=now,
            **fields,
        )
        _audit(actor, "care_item.create", created, discipline=created.discipline)
    return created


@audit_refusals("care_item.update")
def do_edit_item(
    actor: Actor, item_id: int, item: ItemIn, *, version: int, client_id: int | None = None
) -> CareItem:
    """Change a plan item read at `version`; a change saved meanwhile is a ItemConflict
    carrying the other writer's version, and nothing is overwritten."""
    with transaction.atomic():
        found = access_care_item(actor, item_id, action="care_item.update", client_id=client_id)
        fields = _item_fields(found.client, care_team(found.client), item)
        if found.version != version:
            raise ItemConflict(found)
        updated = CareItem.objects.filter(pk=found.pk, version=version).update(
            version=version + 1, updated_by=actor.membership, updated_at=timezone.now(), **fields
        )
        if updated != 1:
            raise ItemConflict(CareItem.objects.get(pk=found.pk))
        _audit(actor, "care_item.update", found, version=version + 1)
    found.refresh_from_db()
    return found


@audit_refusals("consent.create")
def do_add_consent(
    actor: Actor,
    client_id: int,
    *,
    discipline: str = "",
    provider_id: int | None = None,
    given_on: date | None = None,
) -> SharingConsent:
    """Record the client's consent to share their whole plan with a discipline or a provider."""
    given_on = given_on or timezone.localdate()
    check_day(given_on, "The date of consent")
    if given_on > timezone.localdate():
        raise ActionError("Consent cannot be dated in the future.")
    if bool(discipline) == (provider_id is not None):
        raise ActionError("Choose a discipline or a provider to share with (one of them).")
    with transaction.atomic():
        client = access_client(actor, client_id, action="consent.create")
        if discipline:
            _discipline_key(client.organisation_id, discipline)
        elif (
            not Membership.objects.filter(
                pk=known_id(provider_id or 0),
                organisation_id=client.organisation_id,
                is_active=True,
            )
            .exclude(role=Role.ADMIN)
            .exists()
        ):
            raise ActionError("Choose a clinician of this clinic to share with.")
        live = live_consents(client)
        if live.filter(discipline=discipline, provider_id=provider_id).exists():
            raise ActionError("That consent is already recorded.")
        consent = SharingConsent.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            discipline=discipline,
            provider_id=provider_id,
            given_on=given_on,
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
        )
        _audit(actor, "consent.create", consent)
    return consent


@audit_refusals("consent.withdraw")
def do_withdraw_consent(actor: Actor, client_id: int, consent_id: int) -> SharingConsent:
    with transaction.atomic():
        client = access_client(actor, client_id, action="consent.withdraw")
        consent = live_consents(client).filter(pk=known_id(consent_id)).first()
        if consent is None:
            raise NotFound("consent", consent_id)
        consent.withdrawn_at = timezone.now()
        consent.withdrawn_by = actor.membership
        consent.save(update_fields=["withdrawn_at", "withdrawn_by"])
        _audit(actor, "consent.withdraw", consent)
    return consent


@audit_refusals("relationship.create")
def do_add_relationship(
    actor: Actor, client_id: int, *, name: str, kind: str, role: str, trusted: bool = True
) -> Relationship:
    if kind not in RelationshipKind.values:
        raise ActionError("Choose what kind of relationship this is.")
    name = clean_text(name, 120, "The name")
    role = clean_text(role, NEED_TEXT, "The part they play")
    with transaction.atomic():
        client = access_client(actor, client_id, action="relationship.create")
        person = Relationship.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            name=name,
            kind=kind,
            role=role,
            trusted=trusted,
            added_by=actor.membership,
            added_at=timezone.now(),
        )
        _audit(actor, "relationship.create", person)
    return person


@audit_refusals("relationship.end")
def do_end_relationship(actor: Actor, client_id: int, relationship_id: int) -> Relationship:
    with transaction.atomic():
        client = access_client(actor, client_id, action="relationship.end")
        person = Relationship.objects.filter(
            client=client, pk=known_id(relationship_id), ended_at__isnull=True
        ).first()
        if person is None:
            raise NotFound("relationship", relationship_id)
        person.ended_at = timezone.now()
        person.save(update_fields=["ended_at"])
        _audit(actor, "relationship.end", person)
    return person


@audit_refusals("handoff.create")
def do_add_handoff(
    actor: Actor,
    client_id: int,
    *,
    recipient_id: int | None,
    situation: str,
    tried: str,
    ask: str,
) -> Handoff:
    situation = clean_text(situation, HANDOFF_TEXT, "The situation")
    tried = clean_text(tried, HANDOFF_TEXT, "What has been tried", required=False)
    ask = clean_text(ask, HANDOFF_TEXT, "What is asked")
    with transaction.atomic():
        client = access_client(actor, client_id, action="handoff.create")
        if recipient_id is not None:
            if recipient_id not in care_team(client):
                raise ActionError("Hand off to someone on this client's care team.")
            if recipient_id == actor.membership.pk:
                raise ActionError("A handoff goes to someone else.")
        handoff = Handoff.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            sender=actor.membership,
            recipient_id=recipient_id,
            situation=situation,
            tried=tried,
            ask=ask,
            created_at=timezone.now(),
        )
        _audit(actor, "handoff.create", handoff, to_team=recipient_id is None)
    return handoff


@audit_refusals("handoff.view")
def open_handoff(actor: Actor, handoff_id: int, *, client_id: int | None = None) -> Handoff:
    """Read a handoff; the first read by anyone but its sender leaves a read receipt."""
    with transaction.atomic():
        handoff = access_handoff(actor, handoff_id, client_id=client_id)
        if handoff.sender_id != actor.membership.pk:
            _, made = HandoffRead.objects.get_or_create(
                handoff=handoff, reader=actor.membership, defaults={"read_at": timezone.now()}
            )
            if made:
                _audit(actor, "handoff.read", handoff)
    return handoff


@audit_refusals("review.flag")
def do_flag_review(actor: Actor, client_id: int, *, question: str) -> CaseReview:
    """Flag the client to discuss with the consultant, with the question the team asks."""
    question = clean_text(question, ITEM_TEXT, "The question")
    with transaction.atomic():
        client = access_client(actor, client_id, action="review.flag")
        episode = current_episode(client)
        if CaseReview.objects.filter(episode=episode).exclude(status=ReviewStatus.CLOSED).exists():
            raise ActionError("This client is already flagged for review; add to that one.")
        try:
            with transaction.atomic():
                review = CaseReview.objects.create(
                    organisation_id=client.organisation_id,
                    client=client,
                    episode=episode,
                    question=question,
                    flagged_by=actor.membership,
                    flagged_at=timezone.now(),
                )
        except IntegrityError:
            raise ActionError(
                "This client is already flagged for review; add to that one."
            ) from None
        _audit(actor, "review.flag", review)
    return review


@audit_refusals("review.recommend")
def do_recommend(actor: Actor, review_id: int, *, recommendation: str, version: int) -> CaseReview:
    """The consultant's recommendation; it can be revised until the team acknowledges it."""
    body = long_text(recommendation, REVIEW_TEXT, "The recommendation")
    with transaction.atomic():
        review = access_review(actor, review_id, action="review.recommend")
        if actor.membership.role != Role.CONSULTANT:
            raise ActionError("Only a consultant records a recommendation.")
        if review.status == ReviewStatus.CLOSED:
            raise ActionError("This review is closed; the team has acknowledged it.")
        updated = CaseReview.objects.filter(pk=review.pk, version=version).update(
            version=version + 1,
            status=ReviewStatus.ANSWERED,
            recommendation=body,
            consultant=actor.membership,
            answered_at=timezone.now(),
        )
        if updated != 1:
            raise StaleWrite
        _audit(actor, "review.recommend", review)
    review.refresh_from_db()
    return review


@audit_refusals("review.acknowledge")
def do_acknowledge_review(
    actor: Actor, review_id: int, *, version: int, client_id: int | None = None
) -> CaseReview:
    """The care team has read the recommendation: the flag closes."""
    with transaction.atomic():
        client = None
        if client_id is not None:
            client = access_client(actor, client_id, action="review.acknowledge")
        review = access_review(actor, review_id, action="review.acknowledge")
        if client is not None and review.client_id != client.pk:
            raise NotFound("review", review_id)
        if (
            not CareTeamMember.objects.filter(
                client_id=review.client_id, membership_id=actor.membership.pk, ended_at__isnull=True
            ).exists()
            and actor.membership.role != Role.COORDINATOR
        ):
            raise ActionError("The client's care team or coordinator acknowledges the advice.")
        if review.status != ReviewStatus.ANSWERED:
            raise ActionError("There is no recommendation to acknowledge yet.")
        updated = CaseReview.objects.filter(pk=review.pk, version=version).update(
            version=version + 1,
            status=ReviewStatus.CLOSED,
            acknowledged_by=actor.membership,
            acknowledged_at=timezone.now(),
        )
        if updated != 1:
            raise StaleWrite
        _audit(actor, "review.acknowledge", review)
    review.refresh_from_db()
    return review


def do_add_discipline(actor: Actor, label: str) -> ExtraDiscipline:
    """A clinic admin adds a discipline of their own (e.g. occupational therapy)."""
    if not actor.membership.is_admin:
        raise ActionError("Only a clinic admin adds disciplines.")
    label = clean_text(label, 60, "The name")
    key = slugify(label).replace("-", "_")[:DISCIPLINE_KEY].strip("_")
    if not key:
        raise ActionError("Give the discipline a name with letters or digits.")
    known = disciplines(actor.organisation_id)
    if any(key == k or label.lower() == v.lower() for k, v in known):
        raise ActionError("The clinic already has that discipline.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                found = ExtraDiscipline.objects.create(
                    organisation_id=actor.organisation_id, key=key, label=label
                )
        except IntegrityError:
            raise ActionError("The clinic already has that discipline.") from None
        record("discipline.create", actor=actor, object_type="discipline", object_id=found.pk)
    return found


def open_episode(client: Client) -> Episode | None:
    return client.episodes.exclude(phase=Phase.CLOSED).first()
