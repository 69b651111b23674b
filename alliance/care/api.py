"""The needs profile, care plan, consent, relationships, handoffs, registry and case reviews
over the API: the same actions and access checks as the pages."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from alliance.audit.log import record
from alliance.care import actions
from alliance.care.access import care_items, visible_handoffs, visible_reviews
from alliance.care.models import (
    DISCIPLINE_KEY,
    HANDOFF_TEXT,
    ITEM_TEXT,
    NEED_TEXT,
    REVIEW_TEXT,
    CareItem,
    CaseReview,
    Handoff,
    NeedsProfile,
    Relationship,
    ReviewStatus,
    SharingConsent,
)
from alliance.care.registry import FLAGS, registry
from alliance.clients.access import access_client
from alliance.clients.schemas import NOT_FOUND, REFUSED, ErrorOut
from alliance.web.api_util import actor_of

router = Router(tags=["whole-person care"])
ID = Field(None, ge=1, le=2**63 - 1)


class ShareSchema(Schema):
    discipline: str = Field(..., min_length=1, max_length=DISCIPLINE_KEY)
    percent: int = Field(..., ge=1, le=100)
    owner_id: int | None = ID
    need: str = Field("", max_length=NEED_TEXT)


class NeedsOut(Schema):
    version: int
    agreed_with_client: bool
    reason: str
    changed_at: datetime | None
    shares: list[ShareSchema]
    unmet_percent: int


class NeedsIn(Schema):
    base_version: int = Field(..., ge=0, le=2**31 - 1)
    reason: str = Field("", max_length=300)
    agreed_with_client: bool = False
    shares: list[ShareSchema] = Field(..., min_length=1, max_length=actions.MAX_SHARES)


class NeedsConflictOut(Schema):
    detail: str
    current: NeedsOut


class ItemIn(Schema):
    discipline: str = Field(..., min_length=1, max_length=DISCIPLINE_KEY)
    need: str = Field(..., min_length=1, max_length=NEED_TEXT)
    goal: str = Field("", max_length=ITEM_TEXT)
    action: str = Field("", max_length=ITEM_TEXT)
    owner_id: int | None = ID
    due_on: date | None = None
    status: str = Field("planned", pattern="^(planned|under_way|done|stopped)$")


class ItemEditIn(ItemIn):
    version: int = Field(..., ge=1, le=2**31 - 1)


class ItemOut(Schema):
    id: int
    episode_id: int
    discipline: str
    need: str
    goal: str
    action: str
    owner_id: int | None
    due_on: date | None
    status: str
    version: int
    updated_at: datetime


class CarePlanOut(Schema):
    items: list[ItemOut]
    withheld: int = Field(..., description="Items of other disciplines not shared with you")


class ItemConflictOut(Schema):
    detail: str
    current: ItemOut


class ConsentIn(Schema):
    discipline: str = Field("", max_length=DISCIPLINE_KEY)
    provider_id: int | None = ID
    given_on: date | None = None


class ConsentOut(Schema):
    id: int
    discipline: str
    provider_id: int | None
    given_on: date
    recorded_at: datetime
    withdrawn_at: datetime | None


class RelationshipIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    kind: str = Field(..., pattern="^(family|friend|provider|community|other)$")
    role: str = Field(..., min_length=1, max_length=NEED_TEXT)
    trusted: bool = True


class RelationshipOut(Schema):
    id: int
    name: str
    kind: str
    role: str
    trusted: bool
    added_at: datetime


class HandoffIn(Schema):
    recipient_id: int | None = ID
    situation: str = Field(..., min_length=1, max_length=HANDOFF_TEXT)
    tried: str = Field("", max_length=HANDOFF_TEXT)
    ask: str = Field(..., min_length=1, max_length=HANDOFF_TEXT)


class HandoffOut(Schema):
    id: int
    sender_id: int
    recipient_id: int | None
    situation: str
    tried: str
    ask: str
    created_at: datetime


class RegistryRowOut(Schema):
    client_id: int
    display_name: str
    record_number: str
    episode_id: int
    phase: str
    weeks_in_treatment: int
    last_contact: datetime | None
    phq9_intake: int | None
    phq9_latest: int | None
    gad7_intake: int | None
    gad7_latest: int | None
    reliable_improvement: bool
    missed_measures: int
    unmet_percent: int | None
    discuss: bool
    flags: list[str]


class ReviewIn(Schema):
    question: str = Field(..., min_length=1, max_length=ITEM_TEXT)


class RecommendIn(Schema):
    recommendation: str = Field(..., min_length=1, max_length=REVIEW_TEXT)
    version: int = Field(..., ge=1, le=2**31 - 1)


class VersionIn(Schema):
    version: int = Field(..., ge=1, le=2**31 - 1)


class ReviewOut(Schema):
    id: int
    client_id: int
    episode_id: int
    question: str
    status: str
    flagged_at: datetime
    recommendation: str
    answered_at: datetime | None
    acknowledged_at: datetime | None
    version: int


def _needs_out(profile: NeedsProfile | None) -> NeedsOut:
    if profile is None:
        return NeedsOut(
            version=0,
            agreed_with_client=False,
            reason="",
            changed_at=None,
            shares=[],
            unmet_percent=0,
        )
    shares = [
        ShareSchema(discipline=s.discipline, percent=s.percent, owner_id=s.owner_id, need=s.need)
        for s in profile.shares.all()
    ]
    return NeedsOut(
        version=profile.version,
        agreed_with_client=profile.agreed_with_client,
        reason=profile.reason,
        changed_at=profile.changed_at,
        shares=shares,
        unmet_percent=sum(s.percent for s in shares if s.owner_id is None),
    )


@router.get(
    "/clients/{client_id}/needs",
    response={200: NeedsOut, **NOT_FOUND},
    summary="The open episode's needs profile (version 0 with no shares before the first)",
)
def needs(request: HttpRequest, client_id: int) -> NeedsOut:
    client = access_client(actor_of(request), client_id, action="needs.view")
    return _needs_out(actions.current_needs(actions.open_episode(client)))


@router.post(
    "/clients/{client_id}/needs",
    response={201: NeedsOut, 400: ErrorOut, 409: NeedsConflictOut, **NOT_FOUND},
    summary="Save a new version of the needs profile, built on base_version",
    description="Shares must add up to 100; an owner must be on the client's care team and of "
    "the share's discipline. 409 when another version was saved since base_version.",
)
def needs_save(
    request: HttpRequest, client_id: int, body: NeedsIn
) -> Status[NeedsOut] | Status[NeedsConflictOut]:
    shares = [actions.ShareIn(s.discipline, s.percent, s.owner_id, s.need) for s in body.shares]
    try:
        profile = actions.do_save_needs(
            actor_of(request),
            client_id,
            base_version=body.base_version,
            shares=shares,
            reason=body.reason,
            agreed_with_client=body.agreed_with_client,
        )
    except actions.NeedsConflict as exc:
        return Status(409, NeedsConflictOut(detail=str(exc), current=_needs_out(exc.current)))
    return Status(201, _needs_out(profile))


def _item_in(body: ItemIn) -> actions.ItemIn:
    return actions.ItemIn(
        discipline=body.discipline,
        need=body.need,
        goal=body.goal,
        action=body.action,
        owner_id=body.owner_id,
        due_on=body.due_on,
        status=body.status,
    )


@router.get(
    "/clients/{client_id}/care-items",
    response={200: CarePlanOut, **NOT_FOUND},
    summary="The care-plan items shared with you, and how many are withheld",
)
def care_plan(request: HttpRequest, client_id: int) -> CarePlanOut:
    actor = actor_of(request)
    client = access_client(actor, client_id, action="care_plan.view")
    rows, withheld = care_items(actor, client)
    return CarePlanOut(items=[ItemOut.from_orm(i) for i in rows], withheld=withheld)


@router.post(
    "/clients/{client_id}/care-items",
    response={201: ItemOut, 400: ErrorOut, **NOT_FOUND},
    summary="Add an item to the shared care plan",
)
def care_item_add(request: HttpRequest, client_id: int, body: ItemIn) -> Status[CareItem]:
    return Status(201, actions.do_add_item(actor_of(request), client_id, _item_in(body)))


@router.post(
    "/care-items/{item_id}",
    response={200: ItemOut, 400: ErrorOut, 409: ItemConflictOut, **NOT_FOUND},
    summary="Change a care-plan item read at `version`",
    description="409 with the item as it now stands when someone changed it meanwhile: "
    "nothing is overwritten.",
)
def care_item_edit(
    request: HttpRequest, item_id: int, body: ItemEditIn
) -> Status[CareItem] | Status[ItemConflictOut]:
    try:
        item = actions.do_edit_item(
            actor_of(request), item_id, _item_in(body), version=body.version
        )
    except actions.ItemConflict as exc:
        current = ItemOut.from_orm(exc.current)
        return Status(409, ItemConflictOut(detail=str(exc), current=current))
    return Status(200, item)


@router.get(
    "/clients/{client_id}/consents",
    response={200: list[ConsentOut], **NOT_FOUND},
    summary="The client's consents to share their plan, withdrawn ones included",
)
def consents(request: HttpRequest, client_id: int) -> list[SharingConsent]:
    client = access_client(actor_of(request), client_id, action="consent.list")
    return list(SharingConsent.objects.filter(client=client).order_by("recorded_at", "pk"))


@router.post(
    "/clients/{client_id}/consents",
    response={201: ConsentOut, 400: ErrorOut, **NOT_FOUND},
    summary="Record consent to share the whole plan with a discipline or a provider (one)",
)
def consent_add(request: HttpRequest, client_id: int, body: ConsentIn) -> Status[SharingConsent]:
    consent = actions.do_add_consent(
        actor_of(request),
        client_id,
        discipline=body.discipline,
        provider_id=body.provider_id,
        given_on=body.given_on,
    )
    return Status(201, consent)


@router.post(
    "/clients/{client_id}/consents/{consent_id}/withdraw",
    response={200: ConsentOut, **NOT_FOUND},
    summary="Withdraw a consent: sharing stops from the next request",
)
def consent_withdraw(request: HttpRequest, client_id: int, consent_id: int) -> SharingConsent:
    return actions.do_withdraw_consent(actor_of(request), client_id, consent_id)


@router.get(
    "/clients/{client_id}/relationships",
    response={200: list[RelationshipOut], **NOT_FOUND},
    summary="The people the client trusts or has history with",
)
def relationships(request: HttpRequest, client_id: int) -> list[Relationship]:
    client = access_client(actor_of(request), client_id, action="relationship.list")
    return list(Relationship.objects.filter(client=client, ended_at__isnull=True))


@router.post(
    "/clients/{client_id}/relationships",
    response={201: RelationshipOut, 400: ErrorOut, **NOT_FOUND},
    summary="Add someone in the client's life, with the part they play",
)
def relationship_add(
    request: HttpRequest, client_id: int, body: RelationshipIn
) -> Status[Relationship]:
    person = actions.do_add_relationship(
        actor_of(request),
        client_id,
        name=body.name,
        kind=body.kind,
        role=body.role,
        trusted=body.trusted,
    )
    return Status(201, person)


@router.get(
    "/clients/{client_id}/handoffs",
    response={200: list[HandoffOut], **NOT_FOUND},
    summary="Handoffs you sent, received, or that went to the whole care team",
)
def handoffs(request: HttpRequest, client_id: int) -> list[Handoff]:
    actor = actor_of(request)
    client = access_client(actor, client_id, action="handoff.list")
    return list(visible_handoffs(actor).filter(client=client)[:200])


@router.post(
    "/clients/{client_id}/handoffs",
    response={201: HandoffOut, 400: ErrorOut, **NOT_FOUND},
    summary="Hand off to a care-team member, or write a note to the whole care team",
)
def handoff_add(request: HttpRequest, client_id: int, body: HandoffIn) -> Status[Handoff]:
    handoff = actions.do_add_handoff(
        actor_of(request),
        client_id,
        recipient_id=body.recipient_id,
        situation=body.situation,
        tried=body.tried,
        ask=body.ask,
    )
    return Status(201, handoff)


@router.get(
    "/registry",
    response={200: list[RegistryRowOut], **REFUSED},
    summary="Every client in treatment on your teams, with treat-to-target flags",
    description=f"Flags: {', '.join(FLAGS)}. Filter with `flag`; most flags first.",
)
def registry_rows(
    request: HttpRequest, flag: str = "", limit: int = 100, offset: int = 0
) -> list[RegistryRowOut]:
    found = registry(actor_of(request), only=flag if flag in FLAGS else "")
    limit = min(max(limit, 1), 500)
    offset = min(max(offset, 0), 10**6)
    return [
        RegistryRowOut(
            client_id=r.pk,
            display_name=r.name,
            record_number=r.record,
            episode_id=r.episode_id,
            phase=r.phase,
            weeks_in_treatment=r.weeks,
            last_contact=r.last_contact,
            phq9_intake=r.scores["phq9"][0],
            phq9_latest=r.scores["phq9"][1],
            gad7_intake=r.scores["gad7"][0],
            gad7_latest=r.scores["gad7"][1],
            reliable_improvement=r.improved,
            missed_measures=r.missed,
            unmet_percent=None if r.profile_version is None else r.unmet,
            discuss=r.discuss,
            flags=r.flags,
        )
        for r in found.rows[offset : offset + limit]
    ]


@router.get(
    "/reviews",
    response={200: list[ReviewOut], **REFUSED},
    summary="Clients flagged for consultant review (for a consultant, in their teams)",
)
def reviews(request: HttpRequest) -> list[CaseReview]:
    actor = actor_of(request)
    rows = list(visible_reviews(actor).exclude(status=ReviewStatus.CLOSED)[:200])
    record("review.list", actor=actor, object_type="review", detail={"reviews": len(rows)})
    return rows


@router.post(
    "/clients/{client_id}/reviews",
    response={201: ReviewOut, 400: ErrorOut, **NOT_FOUND},
    summary="Flag the client to discuss with the consultant",
)
def review_flag(request: HttpRequest, client_id: int, body: ReviewIn) -> Status[CaseReview]:
    return Status(201, actions.do_flag_review(actor_of(request), client_id, question=body.question))


@router.post(
    "/reviews/{review_id}/recommendation",
    response={200: ReviewOut, 400: ErrorOut, **NOT_FOUND},
    summary="The consultant's recommendation (consultants only)",
)
def review_recommend(request: HttpRequest, review_id: int, body: RecommendIn) -> CaseReview:
    return actions.do_recommend(
        actor_of(request), review_id, recommendation=body.recommendation, version=body.version
    )


@router.post(
    "/reviews/{review_id}/acknowledge",
    response={200: ReviewOut, 400: ErrorOut, **NOT_FOUND},
    summary="The care team acknowledges the recommendation: the flag closes",
)
def review_acknowledge(request: HttpRequest, review_id: int, body: VersionIn) -> CaseReview:
    return actions.do_acknowledge_review(actor_of(request), review_id, version=body.version)


__all__ = ["router"]
