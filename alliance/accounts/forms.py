from __future__ import annotations

from typing import Any

from django import forms

from alliance.accounts.models import Discipline, Role, Team


class LoginForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Six-digit code",
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[A-Za-z0-9._-]{3,40}$",
        max_length=40,
        help_text="3 to 40 letters, digits, dots, dashes or underscores",
    )
    full_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False, max_length=254)
    role = forms.ChoiceField(choices=Role.choices)
    discipline = forms.ChoiceField(choices=[("", "—"), *Discipline.choices], required=False)
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput,
        help_text="At least 10 characters; they can change it later",
    )


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Refuses ids no database column can hold before they reach a query."""

    def clean(self, value: Any) -> Any:
        for raw in value if isinstance(value, list | tuple) else []:
            text = str(raw)
            if not (text.isascii() and text.isdigit()) or int(text) >= 2**63:
                raise forms.ValidationError("Select a valid choice.", code="invalid_choice")
        return super().clean(value)


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    discipline = forms.ChoiceField(choices=[("", "—"), *Discipline.choices], required=False)
    is_active = forms.BooleanField(required=False, label="Active")
    teams = BoundedModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, organisation_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["teams"].queryset = Team.objects.filter(organisation_id=organisation_id)  # type: ignore[attr-defined]


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)


class ClinicSettingsForm(forms.Form):
    crisis_contacts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=2000,
        help_text="Shown to a client the moment they answer a risk question above zero: "
        "who to call, day and night.",
    )
    link_hours = forms.IntegerField(min_value=1, max_value=24 * 14, label="Links stay open (hours)")
    reminder_hours = forms.IntegerField(
        min_value=1, max_value=24 * 13, label="Remind after (hours)"
    )
    rupture_floor = forms.IntegerField(
        min_value=1, max_value=40, label="Rupture: alliance check below (of 40)"
    )
    rupture_drop = forms.IntegerField(
        min_value=1, max_value=40, label="Rupture: drop below the client's average (points)"
    )
    not_on_track_session = forms.IntegerField(
        min_value=2, max_value=30, label="Not on track: from measured session"
    )
    target_weeks = forms.IntegerField(
        min_value=4, max_value=52, label="Registry: no reliable improvement after (weeks)"
    )
    contact_days = forms.IntegerField(
        min_value=3, max_value=90, label="Registry: no contact for (days)"
    )
    use_fitted_bands = forms.BooleanField(
        required=False,
        label="Not on track: use the band fitted from this clinic's episodes when there is one",
    )
    report_roles = forms.MultipleChoiceField(
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Who may run the outcome report",
        help_text="The report is de-identified: counts of 1 to 10 are never shown.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        link, remind = data.get("link_hours"), data.get("reminder_hours")
        if isinstance(link, int) and isinstance(remind, int) and remind >= link:
            self.add_error("reminder_hours", "Remind before the link expires.")
        return data
