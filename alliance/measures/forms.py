"""The client's questionnaire form, built from the instruments a link asks for."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from django import forms

from alliance.measurement import Instrument, Item, load_instrument


def field_name(instrument_id: str, link_id: str) -> str:
    return f"{instrument_id}__{link_id}"


class AnswersForm(forms.Form):
    """One required radio group per item; values are the option scores."""

    def __init__(self, instrument_ids: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instruments: list[Instrument] = [load_instrument(i) for i in instrument_ids]
        for instrument in self.instruments:
            for number, item in enumerate(instrument.items, start=1):
                self.fields[field_name(instrument.id, item.link_id)] = forms.TypedChoiceField(
                    label=item.text,
                    choices=[(str(o.score), o.label) for o in item.options],
                    coerce=int,
                    widget=forms.RadioSelect,
                    # An unscored item (PHQ-9's "how difficult") may be left blank.
                    required=item.scored,
                    error_messages={"required": "Please choose an answer to this question."},
                )
                self.fields[field_name(instrument.id, item.link_id)].number = number  # type: ignore[attr-defined]

    def sections(self) -> list[tuple[Instrument, list[forms.BoundField]]]:
        return [
            (i, [self[field_name(i.id, item.link_id)] for item in i.items])
            for i in self.instruments
        ]

    def answers(self) -> dict[str, dict[str, int]]:
        data = self.cleaned_data
        answers: dict[str, dict[str, int]] = {}
        for instrument in self.instruments:
            given = answers.setdefault(instrument.id, {})
            for item in instrument.items:
                value = data.get(field_name(instrument.id, item.link_id))
                if isinstance(value, int):
                    given[item.link_id] = value
        return answers

    def required_count(self) -> int:
        return sum(1 for f in self.fields.values() if f.required)

    def risk_fields(self) -> list[str]:
        return [field_name(i.id, r.link_id) for i in self.instruments for r in i.risk_items]

    def endorsed_risk(self) -> bool:
        """True when a risk item was answered above its threshold (even if the form is invalid)."""
        for instrument in self.instruments:
            for risk in instrument.risk_items:
                raw = self.data.get(field_name(instrument.id, risk.link_id), "")
                text = str(raw)
                if text.isascii() and text.isdigit() and int(text) > risk.above:
                    return True
        return False


@cache
def item_scores(item: Item) -> frozenset[int]:
    return frozenset(o.score for o in item.options)


def complete_answers(
    instrument_ids: list[str], data: Mapping[str, str]
) -> dict[str, dict[str, int]] | None:
    """Every scored question answered with one of its scores: the answers; otherwise None.

    The same rules as AnswersForm, checked directly, because nearly every submission is complete
    and building a form of sixteen radio groups costs more than the rest of the request.
    """
    answers: dict[str, dict[str, int]] = {}
    for instrument in (load_instrument(i) for i in instrument_ids):
        given = answers.setdefault(instrument.id, {})
        for item in instrument.items:
            raw = data.get(field_name(instrument.id, item.link_id), "")
            if raw == "" and not item.scored:
                continue
            if not (raw.isascii() and raw.isdigit()) or int(raw) not in item_scores(item):
                return None
            given[item.link_id] = int(raw)
    return answers
