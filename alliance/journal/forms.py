"""The journal's and the check-in's forms; every limit answers with a sentence, not a 413."""

from __future__ import annotations

from typing import Any

from django import forms

from alliance.accounts.actor import Actor
from alliance.clients.access import list_clients
from alliance.journal.access import Content
from alliance.journal.actions import (
    DELETE_ALL_WORDS,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TEXT,
    NOT_YOUR_CLIENT,
    Ratings,
)
from alliance.journal.models import SCORE_MAX, SCORE_MIN, Prompt, Rhythm


class EntryForm(forms.Form):
    prompt = forms.ChoiceField(
        choices=[("", "No prompt"), *Prompt.choices], required=False, label="Prompt"
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12}),
        max_length=MAX_TEXT,
        label="Entry",
        error_messages={
            "required": "Write something first.",
            "max_length": (
                f"An entry can hold at most {MAX_TEXT:,} characters; "
                "this one has %(show_value)d. Split it into two entries."
            ),
        },
    )
    tags = forms.CharField(
        required=False,
        label="Tags",
        help_text=f"Separated by commas; up to {MAX_TAGS}, each up to {MAX_TAG_LENGTH} characters.",
    )
    client = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="About a client (only you can see this link)",
        error_messages={"invalid_choice": NOT_YOUR_CLIENT},
    )

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = list_clients(actor).order_by("display_name", "pk")
        client_field = self.fields["client"]
        assert isinstance(client_field, forms.TypedChoiceField)
        client_field.choices = [("", "No client"), *((c.pk, c.display_name) for c in own)]
        # A browser would never send more; a larger body is a mistake we explain, not reject.
        self.fields["text"].widget.attrs.pop("maxlength", None)

    def clean_tags(self) -> list[str]:
        raw: str = self.cleaned_data.get("tags") or ""
        tags = list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"Use at most {MAX_TAGS} tags; this has {len(tags)}.")
        long = [t for t in tags if len(t) > MAX_TAG_LENGTH]
        if long:
            raise forms.ValidationError(
                f"A tag can be at most {MAX_TAG_LENGTH} characters; shorten {long[0][:20]!r}…"
            )
        return tags

    def content(self) -> Content:
        data = self.cleaned_data
        return Content(
            text=data["text"],
            prompt=data["prompt"] or "",
            tags=tuple(data["tags"]),
            client_ref=data["client"],
        )

    @classmethod
    def initial_from(cls, content: Content) -> dict[str, Any]:
        return {
            "text": content.text,
            "prompt": content.prompt,
            "tags": ", ".join(content.tags),
            "client": content.client_ref or "",
        }


class EditEntryForm(EntryForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class DeleteAllForm(forms.Form):
    confirm = forms.CharField(
        label=f"Type “{DELETE_ALL_WORDS}” to confirm",
        error_messages={"required": f"Type “{DELETE_ALL_WORDS}” to confirm."},
    )

    def clean_confirm(self) -> str:
        typed: str = self.cleaned_data["confirm"]
        if typed.strip().casefold() != DELETE_ALL_WORDS:
            raise forms.ValidationError(f"Type “{DELETE_ALL_WORDS}” exactly to confirm.")
        return typed


def _rating(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=SCORE_MIN,
        max_value=SCORE_MAX,
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": SCORE_MIN, "max": SCORE_MAX, "step": 1}),
        error_messages={
            "required": "Give a number from 0 to 10.",
            "invalid": "Give a whole number from 0 to 10.",
            "min_value": "Give a number from 0 to 10.",
            "max_value": "Give a number from 0 to 10.",
        },
    )


class CheckinForm(forms.Form):
    energy = _rating("Energy", "0 = empty, 10 = full of energy")
    load = _rating("Emotional load", "0 = light, 10 = very heavy")
    meaning = _rating("Sense of meaning in the work", "0 = none, 10 = a great deal")
    support = _rating("Support received", "0 = none, 10 = well supported")

    def ratings(self) -> Ratings:
        d = self.cleaned_data
        return Ratings(d["energy"], d["load"], d["meaning"], d["support"])


class PreferenceForm(forms.Form):
    rhythm_days = forms.TypedChoiceField(
        choices=Rhythm.choices, coerce=int, label="Remind me to check in"
    )
    prompts_on = forms.BooleanField(
        required=False, label="Show a gentle note when my load stays heavy"
    )
