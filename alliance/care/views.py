"""The care plan page, handoffs, the registry and consultant case review.
Thin: each view reads through access_* and changes through actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership, Role
from alliance.audit.log import record
from alliance.care import actions
from alliance.care.access import (
    access_care_item,
    access_review,
    care_items,
    disciplines,
    visible_handoffs,
    visible_reviews,
)
from alliance.care.forms import (
    CareItemForm,
    ConsentForm,
    DisciplineForm,
    HandoffForm,
    RecommendForm,
    RelationshipForm,
    ReviewForm,
    VersionForm,
)
from alliance.care.models import (
    CareItem,
    CaseReview,
    ItemStatus,
    NeedsProfile,
    Relationship,
    ReviewStatus,
    SharingConsent,
)
from alliance.care.registry import FLAGS, SORTS, as_csv, registry
from alliance.charts.data import chart_data
from alliance.charts.views import figures_of
from alliance.clients.access import access_client, known_id
from alliance.clients.errors import ActionError
from alliance.clients.models import Client, Episode
from alliance.web.decorators import admin_view, clinical_view

Choices = list[tuple[str, str]]


def _plan_url(client_id: int, anchor: str = "") -> str:
    return reverse("care_plan", args=[client_id]) + (f"#{anchor}" if anchor else "")


def _back(request: HttpRequest, url: str, ok: str) -> HttpResponse:
    messages.success(request, ok)
    return HttpResponseRedirect(url)


@dataclass
class ShareRow:
    discipline: str
    label: str
    percent: int
    need: str
    owner: Membership | None
    mine: bool


@dataclass
class Conflict:
    """Two versions of one thing, shown side by side: what was saved, and what you sent."""

    what: str
    theirs: list[tuple[str, str]]
    yours: list[tuple[str, str]]
    by: str
    at: Any


def _team_choices(team: dict[int, Any]) -> Choices:
    out = []
    for pk, place in team.items():
        discipline = place.get_discipline_display() or place.membership.get_discipline_display()
        suffix = f" ({discipline})" if discipline else ""
        out.append((str(pk), f"{place.membership.user.display_name}{suffix}"))
    return sorted(out, key=lambda c: c[1])


def _share_rows(profile: NeedsProfile | None, labels: dict[str, str], me: int) -> list[ShareRow]:
    if profile is None:
        return []
    return [
        ShareRow(
            s.discipline,
            labels.get(s.discipline, s.discipline),
            s.percent,
            s.need,
            s.owner,
            s.owner_id == me,
        )
        for s in profile.shares.select_related("owner__user")
    ]


def _consent_choices(client: Client, labels: Choices) -> Choices:
    people = Membership.objects.filter(
        organisation_id=client.organisation_id, is_active=True
    ).exclude(role=Role.ADMIN)
    return [(f"d:{k}", f"Discipline: {v}") for k, v in labels] + sorted(
        (f"p:{m.pk}", f"Provider: {m.user.display_name}") for m in people.select_related("user")
    )


def _render_plan(
    request: HttpRequest, actor: Actor, client_id: int, *, status: int = 200, **extra: Any
) -> HttpResponse:
    client = access_client(actor, client_id, action="care_plan.view")
    edited: dict[int, CareItemForm] = extra.pop("item_forms_errors", {})
    if "conflict_form" in extra:
        edited[extra["conflict_item"]] = extra["conflict_form"]
    episode: Episode | None = actions.open_episode(client)
    labels = disciplines(client.organisation_id)
    label_of = dict(labels)
    team = actions.care_team(client)
    team_choices = _team_choices(team)
    profile = actions.current_needs(episode)
    shares = _share_rows(profile, label_of, actor.membership.pk)
    items, withheld = care_items(actor, client)
    item_rows = list(items.select_related("owner__user", "updated_by__user"))
    handoffs = list(
        visible_handoffs(actor)
        .filter(client=client)
        .select_related("sender__user", "recipient__user")
        .prefetch_related("reads__reader__user")[:30]
    )
    review = (
        CaseReview.objects.filter(client=client)
        .exclude(status=ReviewStatus.CLOSED)
        .select_related("flagged_by__user", "consultant__user")
        .first()
    )
    context: dict[str, Any] = {
        "client": client,
        "episode": episode,
        "labels": labels,
        "label_of": label_of,
        "team": team_choices,
        "profile": profile,
        "history": list(
            NeedsProfile.objects.filter(episode=episode).select_related("changed_by__user")[:10]
        )
        if episode
        else [],
        "shares": shares,
        "my_shares": [s for s in shares if s.mine],
        "unmet": [s for s in shares if s.owner is None],
        "unmet_percent": sum(s.percent for s in shares if s.owner is None),
        "share_slots": _share_slots(shares, labels),
        "items": item_rows,
        "withheld": withheld,
        "item_rows": [
            (
                i,
                edited.get(i.pk)
                or CareItemForm(
                    initial=_item_initial(i),
                    disciplines=labels,
                    team=team_choices,
                    prefix=f"i{i.pk}",
                ),
            )
            for i in item_rows
        ],
        "item_form": CareItemForm(disciplines=labels, team=team_choices),
        "consents": list(
            SharingConsent.objects.filter(client=client)
            .select_related("provider__user", "recorded_by__user")
            .order_by("withdrawn_at", "-recorded_at")[:50]
        ),
        "consent_form": ConsentForm(
            choices=_consent_choices(client, labels), initial={"given_on": timezone.localdate()}
        ),
        "people": list(Relationship.objects.filter(client=client, ended_at__isnull=True)),
        "person_form": RelationshipForm(),
        "handoffs": handoffs,
        "handoff_form": HandoffForm(
            team=[c for c in team_choices if c[0] != str(actor.membership.pk)]
        ),
        "review": review,
        "review_form": ReviewForm(),
        "me": actor.membership.pk,
        "today": timezone.localdate(),
    }
    context.update(extra)
    return render(request, "care/plan.html", context, status=status)


def _share_slots(shares: list[ShareRow], labels: Choices) -> list[dict[str, Any]]:
    """The needs form's rows: the current shares, then empty rows up to the maximum."""
    slots: list[dict[str, Any]] = [
        {
            "discipline": s.discipline,
            "percent": s.percent,
            "owner": s.owner.pk if s.owner else "",
            "need": s.need,
        }
        for s in shares
    ]
    while len(slots) < min(len(labels), actions.MAX_SHARES):
        slots.append({"discipline": "", "percent": "", "owner": "", "need": ""})
    return slots


def _item_initial(item: CareItem) -> dict[str, Any]:
    return {
        "discipline": item.discipline,
        "need": item.need,
        "goal": item.goal,
        "action": item.action,
        "owner": item.owner_id or "",
        "due_on": item.due_on,
        "status": item.status,
        "version": item.version,
    }


@clinical_view
@require_http_methods(["GET"])
def care_plan(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    return _render_plan(request, actor, client_id)


def _parse_shares(data: QueryDict) -> list[actions.ShareIn]:
    shares = []
    for n in range(actions.MAX_SHARES):
        discipline = data.get(f"share-{n}-discipline", "").strip()
        percent = data.get(f"share-{n}-percent", "").strip()
        if not discipline and not percent:
            continue
        if not discipline:
            raise ActionError("Choose a discipline for every share you give a percentage.")
        if not (percent.isascii() and percent.isdigit() and len(percent) <= 3):
            raise ActionError("Each share is a whole percentage from 1 to 100.")
        owner = data.get(f"share-{n}-owner", "").strip()
        if owner and not (owner.isascii() and owner.isdigit() and len(owner) <= 18):
            raise ActionError("Choose an owner from the care team, or nobody yet.")
        shares.append(
            actions.ShareIn(
                discipline,
                int(percent),
                int(owner) if owner else None,
                data.get(f"share-{n}-need", ""),
            )
        )
    return shares


@clinical_view
@require_POST
def needs_save(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    data = request.POST
    raw_version = data.get("base_version", "")
    try:
        if not (raw_version.isascii() and raw_version.isdigit() and len(raw_version) <= 9):
            raise ActionError("The form is out of date; reload the page.")
        shares = _parse_shares(data)
        actions.do_save_needs(
            actor,
            client_id,
            base_version=int(raw_version),
            shares=shares,
            reason=data.get("reason", ""),
            agreed_with_client=data.get("agreed") == "on",
        )
    except actions.NeedsConflict as exc:
        current = exc.current
        return _render_plan(
            request,
            actor,
            client_id,
            status=409,
            needs_conflict=Conflict(
                "the needs profile",
                [(s.discipline, f"{s.percent} %") for s in current.shares.all()] if current else [],
                [(s.discipline, f"{s.percent} %") for s in _parse_shares(data)],
                current.changed_by.user.display_name if current and current.changed_by else "",
                current.changed_at if current else None,
            ),
        )
    except ActionError as exc:
        return _render_plan(request, actor, client_id, status=400, needs_error=str(exc))
    return _back(request, _plan_url(client_id, "needs"), "Needs profile saved as a new version.")


def _item_in(form: CareItemForm) -> actions.ItemIn:
    d = form.cleaned_data
    return actions.ItemIn(
        discipline=d["discipline"],
        need=d["need"],
        goal=d["goal"],
        action=d["action"],
        owner_id=d["owner"],
        due_on=d["due_on"],
        status=d["status"],
    )


def _team_of(actor: Actor, client_id: int) -> tuple[Choices, Choices]:
    """The choices a plan-item form validates against (read without a second audit entry:
    the action reads the client through access_client itself)."""
    client = Client.objects.filter(pk=known_id(client_id)).first()
    if client is None:
        return [], []
    return disciplines(client.organisation_id), _team_choices(actions.care_team(client))


@clinical_view
@require_POST
def care_item_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    labels, team = _team_of(actor, client_id)
    form = CareItemForm(request.POST, disciplines=labels, team=team)
    if not form.is_valid():
        access_client(actor, client_id, action="care_item.create")  # not found before invalid
        return _render_plan(request, actor, client_id, status=400, item_form=form)
    try:
        actions.do_add_item(actor, client_id, _item_in(form))
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_plan(request, actor, client_id, status=400, item_form=form)
    return _back(request, _plan_url(client_id, "plan"), "Plan item added.")


@clinical_view
@require_POST
def care_item_edit(
    request: HttpRequest, actor: Actor, client_id: int, item_id: int
) -> HttpResponse:
    labels, team = _team_of(actor, client_id)
    form = CareItemForm(request.POST, disciplines=labels, team=team, prefix=f"i{item_id}")
    if not form.is_valid() or form.cleaned_data.get("version") is None:
        item = access_care_item(actor, item_id, action="care_item.update", client_id=client_id)
        if form.is_valid():
            form.add_error(None, "The form is out of date; reload the page.")
        return _render_plan(
            request, actor, client_id, status=400, item_forms_errors={item.pk: form}
        )
    try:
        actions.do_edit_item(
            actor,
            item_id,
            _item_in(form),
            version=form.cleaned_data["version"],
            client_id=client_id,
        )
    except actions.ItemConflict as exc:
        theirs = exc.current
        mine = CareItemForm(
            initial={**form.cleaned_data, "version": theirs.version},
            disciplines=labels,
            team=team,
            prefix=f"i{item_id}",
        )
        return _render_plan(
            request,
            actor,
            client_id,
            status=409,
            item_conflict=Conflict(
                "this plan item",
                _item_view(_item_initial(theirs), dict(labels), dict(team)),
                _item_view(form.cleaned_data, dict(labels), dict(team)),
                theirs.updated_by.user.display_name if theirs.updated_by else "",
                theirs.updated_at,
            ),
            conflict_item=theirs.pk,
            conflict_form=mine,
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_plan(
            request, actor, client_id, status=400, item_forms_errors={item_id: form}
        )
    return _back(request, _plan_url(client_id, f"item-{item_id}"), "Plan item saved.")


def _item_view(
    values: dict[str, Any], labels: dict[str, str], team: dict[str, str]
) -> list[tuple[str, str]]:
    due = values.get("due_on")
    owner = values.get("owner")
    return [
        ("Discipline", labels.get(values.get("discipline", ""), "")),
        ("Need", values.get("need", "")),
        ("Goal", values.get("goal", "")),
        ("Action", values.get("action", "")),
        ("Owner", team.get(str(owner), "Nobody yet") if owner else "Nobody yet"),
        ("Due", due.strftime("%-d %b %Y") if isinstance(due, date) else ""),
        ("Status", dict(ItemStatus.choices).get(values.get("status", ""), "")),
    ]


@clinical_view
@require_POST
def consent_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    client = Client.objects.filter(pk=known_id(client_id)).first()
    labels = disciplines(client.organisation_id) if client else []
    form = ConsentForm(request.POST, choices=_consent_choices(client, labels) if client else [])
    if not form.is_valid():
        access_client(actor, client_id, action="consent.create")
        return _render_plan(request, actor, client_id, status=400, consent_form=form)
    kind, _, value = form.cleaned_data["share_with"].partition(":")
    try:
        actions.do_add_consent(
            actor,
            client_id,
            discipline=value if kind == "d" else "",
            provider_id=int(value) if kind == "p" else None,
            given_on=form.cleaned_data["given_on"],
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_plan(request, actor, client_id, status=400, consent_form=form)
    return _back(request, _plan_url(client_id, "consent"), "Consent recorded.")


@clinical_view
@require_POST
def consent_withdraw(
    request: HttpRequest, actor: Actor, client_id: int, consent_id: int
) -> HttpResponse:
    actions.do_withdraw_consent(actor, client_id, consent_id)
    return _back(
        request, _plan_url(client_id, "consent"), "Consent withdrawn: sharing stopped from now."
    )


@clinical_view
@require_POST
def relationship_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    form = RelationshipForm(request.POST)
    if not form.is_valid():
        access_client(actor, client_id, action="relationship.create")
        return _render_plan(request, actor, client_id, status=400, person_form=form)
    try:
        actions.do_add_relationship(actor, client_id, **form.cleaned_data)
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_plan(request, actor, client_id, status=400, person_form=form)
    return _back(
        request, _plan_url(client_id, "people"), "Added to the people in the client's life."
    )


@clinical_view
@require_POST
def relationship_end(
    request: HttpRequest, actor: Actor, client_id: int, relationship_id: int
) -> HttpResponse:
    actions.do_end_relationship(actor, client_id, relationship_id)
    return _back(request, _plan_url(client_id, "people"), "Removed from the plan.")


@clinical_view
@require_POST
def handoff_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    _, team = _team_of(actor, client_id)
    form = HandoffForm(request.POST, team=team)
    if not form.is_valid():
        access_client(actor, client_id, action="handoff.create")
        return _render_plan(request, actor, client_id, status=400, handoff_form=form)
    try:
        actions.do_add_handoff(
            actor,
            client_id,
            recipient_id=form.cleaned_data["recipient"],
            situation=form.cleaned_data["situation"],
            tried=form.cleaned_data["tried"],
            ask=form.cleaned_data["ask"],
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_plan(request, actor, client_id, status=400, handoff_form=form)
    return _back(request, _plan_url(client_id, "handoffs"), "Handoff sent.")


@clinical_view
@require_http_methods(["GET"])
def handoff_page(
    request: HttpRequest, actor: Actor, client_id: int, handoff_id: int
) -> HttpResponse:
    handoff = actions.open_handoff(actor, handoff_id, client_id=client_id)
    people = Relationship.objects.filter(client_id=handoff.client_id, ended_at__isnull=True)
    reads = handoff.reads.select_related("reader__user").order_by("read_at")
    return render(
        request,
        "care/handoff.html",
        {"handoff": handoff, "client": handoff.client, "people": people, "reads": reads},
    )


@clinical_view
@require_POST
def review_flag(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    form = ReviewForm(request.POST)
    if not form.is_valid():
        access_client(actor, client_id, action="review.flag")
        return _render_plan(request, actor, client_id, status=400, review_form=form)
    try:
        actions.do_flag_review(actor, client_id, question=form.cleaned_data["question"])
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_plan(request, actor, client_id, status=400, review_form=form)
    return _back(request, _plan_url(client_id, "review"), "Flagged to discuss with the consultant.")


@clinical_view
@require_POST
def review_acknowledge(
    request: HttpRequest, actor: Actor, client_id: int, review_id: int
) -> HttpResponse:
    form = VersionForm(request.POST)
    if not form.is_valid():
        access_client(actor, client_id, action="review.acknowledge")
        return _render_plan(
            request,
            actor,
            client_id,
            status=400,
            review_error="The form is out of date; reload the page.",
        )
    try:
        actions.do_acknowledge_review(
            actor, review_id, version=form.cleaned_data["version"], client_id=client_id
        )
    except ActionError as exc:
        return _render_plan(request, actor, client_id, status=400, review_error=str(exc))
    return _back(
        request, _plan_url(client_id, "review"), "Recommendation acknowledged; the flag is closed."
    )


# --- registry ---------------------------------------------------------------------------------


def _registry_args(request: HttpRequest) -> dict[str, str]:
    sort = request.GET.get("sort", "flags")
    only = request.GET.get("flag", "")
    return {
        "sort": sort if sort in SORTS else "flags",
        "only": only if only in FLAGS else "",
        "query": request.GET.get("q", "").strip()[:60],
    }


REGISTRY_PAGE = 100


@clinical_view
@require_http_methods(["GET"])
def registry_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    args = _registry_args(request)
    found = registry(actor, **args)
    number = request.GET.get("page", "1")
    page = max(min(int(number), 10_000), 1) if number.isascii() and number.isdigit() else 1
    start = (page - 1) * REGISTRY_PAGE
    context = {
        "found": found,
        "rows": found.rows[start : start + REGISTRY_PAGE],
        "page": page,
        "has_next": len(found.rows) > start + REGISTRY_PAGE,
        "flag_counts": [(k, label, found.counts[k]) for k, label in FLAGS.items()],
        "sorts": SORTS,
        **args,
    }
    return render(request, "care/registry.html", context)


@clinical_view
@require_http_methods(["GET"])
def registry_csv(request: HttpRequest, actor: Actor) -> HttpResponse:
    found = registry(actor, **_registry_args(request), action="registry.export")
    response = HttpResponse(as_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="registry.csv"'
    return response


# --- consultant review ------------------------------------------------------------------------


@clinical_view
@require_http_methods(["GET"])
def reviews_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    rows = list(
        visible_reviews(actor)
        .exclude(status=ReviewStatus.CLOSED)
        .select_related("client", "flagged_by__user", "consultant__user")
        .order_by("status", "flagged_at", "pk")[:200]
    )
    record("review.list", actor=actor, object_type="review", detail={"reviews": len(rows)})
    return render(
        request,
        "care/reviews.html",
        {"rows": rows, "is_consultant": actor.membership.role == Role.CONSULTANT},
    )


def _render_review(
    request: HttpRequest, actor: Actor, review_id: int, *, status: int = 200, **extra: Any
) -> HttpResponse:
    review = access_review(actor, review_id)
    client = review.client
    found = chart_data(actor, client, review.episode_id)
    labels = dict(disciplines(client.organisation_id))
    items, withheld = care_items(actor, client)
    context: dict[str, Any] = {
        "review": review,
        "client": client,
        "episode": review.episode,
        "found": found,
        "figures": figures_of(found),
        "sessions": sum(1 for e in found.encounters if e.attendance == "attended"),
        "weeks": max((timezone.localdate() - review.episode.opened_on).days // 7, 0),
        "team": actions.care_team(client).values(),
        "shares": _share_rows(actions.current_needs(review.episode), labels, actor.membership.pk),
        "label_of": labels,
        "items": list(items.select_related("owner__user")),
        "withheld": withheld,
        "people": list(Relationship.objects.filter(client=client, ended_at__isnull=True)),
        "is_consultant": actor.membership.role == Role.CONSULTANT,
        "form": RecommendForm(
            initial={"recommendation": review.recommendation, "version": review.version}
        ),
    }
    context.update(extra)
    return render(request, "care/review.html", context, status=status)


@clinical_view
@require_http_methods(["GET"])
def review_page(request: HttpRequest, actor: Actor, review_id: int) -> HttpResponse:
    return _render_review(request, actor, review_id)


@clinical_view
@require_POST
def review_recommend(request: HttpRequest, actor: Actor, review_id: int) -> HttpResponse:
    form = RecommendForm(request.POST)
    if not form.is_valid():
        return _render_review(request, actor, review_id, status=400, form=form)
    try:
        actions.do_recommend(
            actor,
            review_id,
            recommendation=form.cleaned_data["recommendation"],
            version=form.cleaned_data["version"],
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_review(request, actor, review_id, status=400, form=form)
    return _back(
        request,
        reverse("review", args=[review_id]),
        "Recommendation recorded; the care team will see it.",
    )


# --- the clinic's own disciplines ---------------------------------------------------------------


@admin_view
@require_http_methods(["GET", "POST"])
def disciplines_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = DisciplineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_add_discipline(actor, form.cleaned_data["label"])
        except ActionError as exc:
            form.add_error("label", str(exc))
        else:
            return _back(request, reverse("manage_disciplines"), "Discipline added.")
    context = {"form": form, "disciplines": disciplines(actor.organisation_id)}
    return render(request, "care/disciplines.html", context, status=400 if form.errors else 200)
