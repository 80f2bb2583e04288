"""Forms of the early-warning pages (input only; the actions validate and write)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.warning import workflow
from civicgrid.warning.models import Method, ReportingDay


class FilterForm(forms.Form):
    state = forms.ChoiceField(label=_("state"), required=False)
    category = forms.ChoiceField(label=_("category"), required=False)
    town = forms.ChoiceField(label=_("township"), required=False)
    since = forms.DateField(
        label=_("seen from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=_("seen until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, categories=(), towns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [
            ("", _("Open (new or acknowledged)")),
            ("all", _("All")),
            *workflow.STATE_LABELS.items(),
        ]
        self.fields["category"].choices = [("", _("All")), *categories]
        self.fields["town"].choices = [("", _("All")), *towns]


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        required=False,  # the action says when it is missing
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CampaignForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=100)
    start = forms.DateField(
        label=_("start"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("end"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    description = forms.CharField(
        label=_("description"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CaseForm(forms.Form):
    description = forms.CharField(
        label=_("description"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Leave empty for a description made from the signal."),
    )


class SettingForm(forms.Form):
    enabled = forms.BooleanField(label=_("enabled"), required=False)
    methods = forms.MultipleChoiceField(
        label=_("methods"), choices=Method.choices, widget=forms.CheckboxSelectMultiple
    )
    max_days = forms.IntegerField(label=_("longest cluster (days)"), min_value=1, max_value=30)
    max_cells = forms.IntegerField(label=_("largest cluster (grids)"), min_value=1, max_value=200)
    max_radius_km = forms.FloatField(
        label=_("largest cluster radius (km)"), min_value=0.1, max_value=50
    )
    threshold_days = forms.IntegerField(
        label=_("alarm threshold (recurrence interval, days)"), min_value=2, max_value=3650
    )
    min_cases = forms.IntegerField(label=_("fewest cases for a signal"), min_value=1, max_value=100)
    replicates = forms.IntegerField(label=_("Monte Carlo replicates"), min_value=99, max_value=9999)
    fast = forms.BooleanField(label=_("fast approximation"), required=False)
    history_days = forms.IntegerField(label=_("history used (days)"), min_value=28, max_value=730)


class ReportingDayForm(forms.Form):
    day = forms.DateField(label=_("day"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("kind"), choices=ReportingDay.Kind.choices)
    note = forms.CharField(label=_("note"), required=False, max_length=200)
