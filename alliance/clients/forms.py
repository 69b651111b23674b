from __future__ import annotations

from django import forms
from django.utils import timezone

from alliance.accounts.models import Team
from alliance.clients.models import Attendance, CareRole, EncounterKind, EndingReason


class ClientForm(forms.Form):
    display_name = forms.CharField(
        max_length=120, help_text="A pseudonymous name to show on screens, e.g. 'Robin K.'"
    )
    record_number = forms.RegexField(
        regex=r"^[A-Za-z0-9/_.-]{1,40}$",
        max_length=40,
        help_text="Your clinic's own record number (letters, digits, / _ . -)",
    )
    email = forms.EmailField(
        required=False, max_length=254, help_text="For sending measure links (optional)"
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, *args: object, organisation_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = Team.objects.filter(organisation_id=organisation_id)


class CareTeamAddForm(forms.Form):
    membership = forms.TypedChoiceField(coerce=int, label="Colleague")
    care_role = forms.ChoiceField(choices=CareRole.choices, label="Role on the team")

    def __init__(self, *args: object, colleagues: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["membership"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = colleagues


class EpisodeForm(forms.Form):
    opened_on = forms.DateField(
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    planned_sessions = forms.IntegerField(
        min_value=1,
        max_value=200,
        required=False,
        help_text="Planned with the ending in view; revisit it",
    )


class CloseEpisodeForm(forms.Form):
    closed_on = forms.DateField(
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.ChoiceField(choices=EndingReason.choices, label="Ending")
    version = forms.IntegerField(widget=forms.HiddenInput)


class EncounterForm(forms.Form):
    starts_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    kind = forms.ChoiceField(choices=EncounterKind.choices, initial=EncounterKind.THERAPY)


class AttendanceForm(forms.Form):
    attendance = forms.ChoiceField(choices=Attendance.choices)
    version = forms.IntegerField(widget=forms.HiddenInput)
