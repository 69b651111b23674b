"""Forms of the clinician's goal, moment and ending pages; the rules live in the actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from alliance.agency.endings import DEFAULT_FOLLOW_UP_MONTHS, PLAN_LABELS
from alliance.agency.models import GOAL_TEXT, MOMENT_TEXT, PLAN_TEXT, MomentKind
from alliance.clients.models import EndingReason


class GoalForm(forms.Form):
    text = forms.CharField(
        label="The goal, in the client's own words", max_length=GOAL_TEXT, strip=True
    )


class ReviseGoalForm(forms.Form):
    text = forms.CharField(label="New wording", max_length=GOAL_TEXT)
    reason = forms.CharField(label="Why it changed (optional)", max_length=300, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RetireGoalForm(forms.Form):
    reason = forms.CharField(label="Why it is retired", max_length=300)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RateGoalForm(forms.Form):
    rating = forms.IntegerField(label="Rating (0-10)", min_value=0, max_value=10)


class MomentForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=MomentKind.choices)
    text = forms.CharField(
        label="What happened", max_length=MOMENT_TEXT, widget=forms.Textarea(attrs={"rows": 2})
    )
    happened_on = forms.DateField(
        label="When",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        initial=timezone.localdate,
    )
    goal = forms.TypedChoiceField(
        label="Goal it relates to", coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: Any, goals: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["goal"].choices = [("", "None")] + [(pk, text[:60]) for pk, text in goals]  # type: ignore[attr-defined]


class PhaseForm(forms.Form):
    to = forms.CharField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = forms.CharField(label="Note (optional)", max_length=600, required=False)


class FollowUpForm(PhaseForm):
    discharged_on = forms.DateField(
        label="Discharged on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        initial=timezone.localdate,
    )
    reason = forms.ChoiceField(
        label="How therapy ended", choices=EndingReason.choices, initial=EndingReason.PLANNED
    )
    months = forms.CharField(
        label="Check-ins after discharge (months)",
        initial=", ".join(map(str, DEFAULT_FOLLOW_UP_MONTHS)),
        max_length=40,
        help_text="Each is a link to the same measures, sent on its day.",
    )


class ReviewForm(forms.Form):
    planned = forms.IntegerField(label="Planned sessions", min_value=1, max_value=200)
    note = forms.CharField(label="What was agreed", max_length=600, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RelapsePlanForm(forms.Form):
    warning_signs = forms.CharField(
        label=PLAN_LABELS["warning_signs"],
        max_length=PLAN_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    what_helps = forms.CharField(
        label=PLAN_LABELS["what_helps"],
        max_length=PLAN_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    who_to_contact = forms.CharField(
        label=PLAN_LABELS["who_to_contact"],
        max_length=PLAN_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    what_to_do = forms.CharField(
        label=PLAN_LABELS["what_to_do"],
        max_length=PLAN_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
