from __future__ import annotations

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
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    discipline = forms.ChoiceField(choices=[("", "—"), *Discipline.choices], required=False)
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput,
        help_text="At least 10 characters; they can change it later",
    )


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    discipline = forms.ChoiceField(choices=[("", "—"), *Discipline.choices], required=False)
    is_active = forms.BooleanField(required=False, label="Active")
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, organisation_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["teams"].queryset = Team.objects.filter(organisation_id=organisation_id)  # type: ignore[attr-defined]


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
