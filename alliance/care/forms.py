"""Forms of the care-plan pages. Choices that depend on the client (disciplines, the care
team) are passed in; the actions check them again."""

from __future__ import annotations

from typing import Any

from django import forms

from alliance.care.models import (
    HANDOFF_TEXT,
    ITEM_TEXT,
    NEED_TEXT,
    REVIEW_TEXT,
    ItemStatus,
    RelationshipKind,
)

Choices = list[tuple[str, str]]


class DateInput(forms.DateInput):
    input_type = "date"


class CareItemForm(forms.Form):
    discipline = forms.ChoiceField()
    need = forms.CharField(
        max_length=NEED_TEXT, help_text="The need, as the client and team put it"
    )
    goal = forms.CharField(max_length=ITEM_TEXT, required=False)
    action = forms.CharField(max_length=ITEM_TEXT, required=False, label="Action (who does what)")
    owner = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    due_on = forms.DateField(required=False, widget=DateInput, label="Due")
    status = forms.ChoiceField(choices=ItemStatus.choices, initial=ItemStatus.PLANNED)
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, disciplines: Choices, team: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["discipline"].choices = disciplines  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", "Nobody yet"), *team]  # type: ignore[attr-defined]


class ConsentForm(forms.Form):
    share_with = forms.ChoiceField(label="The client agrees to share their whole plan with")
    given_on = forms.DateField(widget=DateInput, label="Agreed on")

    def __init__(self, *args: Any, choices: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["share_with"].choices = choices  # type: ignore[attr-defined]


class RelationshipForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. Dr Ortiz, or 'my sister Jo'")
    kind = forms.ChoiceField(choices=RelationshipKind.choices)
    role = forms.CharField(max_length=NEED_TEXT, label="The part they play")
    trusted = forms.BooleanField(required=False, initial=True, label="The client trusts them")


class HandoffForm(forms.Form):
    recipient = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="To")
    situation = forms.CharField(max_length=HANDOFF_TEXT, widget=forms.Textarea(attrs={"rows": 2}))
    tried = forms.CharField(
        max_length=HANDOFF_TEXT,
        required=False,
        label="What has been tried",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    ask = forms.CharField(
        max_length=HANDOFF_TEXT, label="What is asked", widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, team: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = [("", "The whole care team"), *team]  # type: ignore[attr-defined]


class ReviewForm(forms.Form):
    question = forms.CharField(
        max_length=ITEM_TEXT,
        label="The question for the consultant",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RecommendForm(forms.Form):
    recommendation = forms.CharField(
        max_length=REVIEW_TEXT, widget=forms.Textarea(attrs={"rows": 6})
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class DisciplineForm(forms.Form):
    label = forms.CharField(max_length=60, label="Name", help_text="e.g. Occupational therapy")
