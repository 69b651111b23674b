"""What the client adds on their link page beside the questionnaires: ratings of their goals,
a new goal in their own words, a small victory or breakthrough, and a thank-you.

`read` gathers what the page shows; `parse` checks what was sent (an error for each field, the
same way the questionnaires do); the writer it returns runs inside the submission's
transaction, after the link is claimed, so these land with the answers or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.utils import timezone

from alliance.agency.actions import add_goal, clean_text
from alliance.agency.models import (
    MAX_GOALS,
    MOMENT_TEXT,
    THANKS_TEXT,
    Author,
    CheckIn,
    CheckInStatus,
    Goal,
    GoalRating,
    GoalStatus,
    Moment,
    MomentKind,
    Thanks,
    Visibility,
)
from alliance.clients.errors import ActionError
from alliance.clients.models import CareRole, CareTeamMember, EncounterKind, Episode
from alliance.measures.actions import GOAL_PROGRESS, Extras
from alliance.measures.models import MeasureLink

TEAM = "team"


class LinkPage:
    """What the extra sections of one link's page need, each read only when first used (a
    submission with no extras reads nothing more)."""

    def __init__(self, link: MeasureLink) -> None:
        self.link = link
        self.ask_ratings = GOAL_PROGRESS in link.instruments
        self.follow_up = link.encounter.kind == EncounterKind.FOLLOW_UP

    @cached_property
    def goals(self) -> list[Goal]:
        episode_id = self.link.encounter.episode_id
        return list(Goal.objects.filter(episode_id=episode_id, status=GoalStatus.ACTIVE))

    @property
    def can_add_goal(self) -> bool:
        return len(self.goals) < MAX_GOALS

    @cached_property
    def members(self) -> list[CareTeamMember]:
        return list(
            CareTeamMember.objects.filter(client_id=self.link.client_id, ended_at__isnull=True)
            .select_related("membership__user")
            .order_by("pk")
        )

    @property
    def team(self) -> list[tuple[str, str]]:
        """(value, label) for the thank-you's addressee."""
        return [(TEAM, "The whole care team")] + [
            (str(m.membership_id), m.membership.user.display_name) for m in self.members
        ]

    @cached_property
    def therapist_id(self) -> int | None:
        if self.link.encounter.clinician_id:
            return self.link.encounter.clinician_id
        lead = next((m for m in self.members if m.care_role == CareRole.LEAD), None)
        return lead.membership_id if lead else None

    @property
    def therapist_name(self) -> str:
        found = next((m for m in self.members if m.membership_id == self.therapist_id), None)
        return found.membership.user.display_name if found else "your therapist"

    @property
    def rating_fields(self) -> list[tuple[str, Goal]]:
        return [(f"goal-{g.pk}", g) for g in self.goals] if self.ask_ratings else []


def read(link: MeasureLink) -> LinkPage:
    return LinkPage(link)


@dataclass
class Parsed:
    ratings: dict[int, int] = field(default_factory=dict)
    new_goal: str = ""
    moment: tuple[str, str, str, int | None] | None = None  # kind, text, visibility, goal
    thanks: tuple[str, int | None] | None = None  # message, addressee (None: team)


def parse(page: LinkPage, data: Mapping[str, str]) -> tuple[Parsed, dict[str, str]]:
    """The client's extras, and an error message per field name for what cannot be taken."""
    parsed, errors = Parsed(), {}
    for name, goal in page.rating_fields:
        raw = data.get(name, "")
        if raw.isascii() and raw.isdigit() and 0 <= int(raw) <= 10:
            parsed.ratings[goal.pk] = int(raw)
        else:
            errors[name] = "Please choose how far along you are, from 0 to 10."
    try:
        new_goal = clean_text(data.get("new_goal", ""), 300, "A goal", required=False)
        if new_goal and not page.can_add_goal:
            raise ActionError(f"You have {MAX_GOALS} goals already; talk to your therapist.")
        parsed.new_goal = new_goal
    except ActionError as exc:
        errors["new_goal"] = str(exc)
    text = data.get("moment_text", "")
    if text.strip():
        try:
            kind = data.get("moment_kind", MomentKind.VICTORY)
            if kind not in MomentKind.values:
                raise ActionError("Choose a small victory or a breakthrough.")
            visibility = data.get("moment_visibility", Visibility.TEAM)
            if visibility not in Visibility.values:
                raise ActionError("Choose who can read this note.")
            goal_raw = data.get("moment_goal", "")
            goal_id = None
            if goal_raw:
                ids = {str(g.pk): g.pk for g in page.goals}
                if goal_raw not in ids:
                    raise ActionError("Choose one of your goals, or none.")
                goal_id = ids[goal_raw]
            note = clean_text(text, MOMENT_TEXT, "Your note")
            parsed.moment = (kind, note, visibility, goal_id)
        except ActionError as exc:
            errors["moment_text"] = str(exc)
    message = data.get("thanks_text", "")
    if message.strip():
        try:
            to_raw = data.get("thanks_to", TEAM)
            addressees = {value for value, _ in page.team}
            if to_raw not in addressees:
                raise ActionError("Choose who your message is for.")
            words = clean_text(message, THANKS_TEXT, "Your message")
            parsed.thanks = (words, None if to_raw == TEAM else int(to_raw))
        except ActionError as exc:
            errors["thanks_text"] = str(exc)
    return parsed, errors


def writer(page: LinkPage, parsed: Parsed) -> Extras | None:
    """Store the parsed extras for a claimed link; returns what the audit entry may say. None
    when there is nothing to store: no goal asked about, nothing written, not a check-in."""
    if not (
        page.ask_ratings or parsed.new_goal or parsed.moment or parsed.thanks or page.follow_up
    ):
        return None

    def write(link: MeasureLink, now: datetime) -> dict[str, object]:
        episode = Episode(
            pk=link.encounter.episode_id,
            organisation_id=link.organisation_id,
            client_id=link.client_id,
        )
        common = {
            "organisation_id": link.organisation_id,
            "client_id": link.client_id,
            "episode_id": link.encounter.episode_id,
        }
        GoalRating.objects.bulk_create(
            GoalRating(
                **common,
                goal_id=goal_id,
                encounter_id=link.encounter_id,
                link=link,
                rating=rating,
                rated_at=now,
                source=Author.CLIENT,
            )
            for goal_id, rating in parsed.ratings.items()
        )
        detail: dict[str, object] = {"goal_ratings": len(parsed.ratings)}
        if parsed.new_goal:
            try:
                goal = add_goal(episode, parsed.new_goal, written_by=Author.CLIENT, by=None, at=now)
                detail["goal_added"] = goal.pk
            except ActionError:  # the handful filled up since the page was read
                detail["goal_added"] = None
        if parsed.moment:
            kind, text, visibility, goal_id = parsed.moment
            Moment.objects.create(
                **common,
                kind=kind,
                text=text,
                happened_on=timezone.localdate(now),
                goal_id=goal_id,
                written_by=Author.CLIENT,
                visibility=visibility if page.therapist_id else Visibility.TEAM,
                therapist_id=page.therapist_id,
                link=link,
                created_at=now,
            )
            detail["moment"] = kind
        if parsed.thanks:
            message, to = parsed.thanks
            Thanks.objects.create(**common, to_id=to, message=message, link=link, created_at=now)
            detail["thanks"] = "team" if to is None else "clinician"
        if page.follow_up:
            CheckIn.objects.filter(encounter_id=link.encounter_id).update(
                status=CheckInStatus.ANSWERED
            )
        return detail

    return write
