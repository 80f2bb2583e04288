from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.regions.models import Grid


def add_errors(form, exc) -> None:
    """An action's ValidationError shown on the form: by field where the form has it, else
    above the form (a plain error, or one about a field the form does not show)."""
    by_field = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, errors in by_field.items():
        form.add_error(field if field in form.fields else None, errors)


class GridFilterForm(forms.Form):
    """Filters of the grid list and its export; bad values become a message, not an error."""

    q = forms.CharField(label=_("Name or code"), max_length=50, required=False)
    kind = forms.ChoiceField(
        label=_("kind"),
        required=False,
        choices=[
            ("", _("All kinds")),
            (Grid.Kind.BASIC, _("Basic grid")),
            (Grid.Kind.DEDICATED, _("Dedicated grid")),
        ],
    )


class CaseFilterForm(forms.Form):
    """Filters of every case list and its exports; bad values are ignored with a message."""

    q = forms.CharField(label=_("Code or words"), max_length=50, required=False)
    state = forms.ChoiceField(label=_("state"), required=False)
    category = forms.CharField(label=_("category"), max_length=8, required=False)
    region = forms.CharField(label=_("region code"), max_length=18, required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    ordering = forms.ChoiceField(
        label=_("Order"),
        required=False,
        choices=[
            ("-created", _("Newest first")),
            ("created", _("Oldest first")),
            ("resolve_deadline", _("Deadline soonest")),
            ("-updated", _("Recently changed")),
        ],
    )

    def __init__(self, *args, **kwargs):
        from civicgrid.cases.workflow import STATE_LABELS

        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("All states")), *STATE_LABELS.items()]


class ReportForm(forms.Form):
    """A problem reported from the workbench (grid workers on a phone, operators on a call)."""

    description = forms.CharField(
        label=_("What is the problem?"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    category = forms.ModelChoiceField(None, label=_("category"), required=False)
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    grid = forms.ModelChoiceField(None, label=_("grid"), required=False)
    lat = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-180, max_value=180)
    address = forms.CharField(label=_("address"), max_length=200, required=False)
    urgent = forms.BooleanField(label=_("urgent"), required=False)
    channel = forms.ChoiceField(label=_("channel"))
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, grids, channels, **kwargs):
        from civicgrid.cases.models import Category

        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(
            parent__isnull=False, active=True
        ).select_related("parent")
        self.fields["category"].label_from_instance = lambda c: f"{c.parent.name} › {c.name}"
        self.fields["grid"].queryset = grids
        self.fields["channel"].choices = channels
        if len(channels) == 1:
            self.fields["channel"].widget = forms.HiddenInput()
            self.fields["channel"].initial = channels[0][0]

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError(_("The location is incomplete."))
        return data


class ResidentReportForm(forms.Form):
    """A resident's report without an account: a mobile number proven by an SMS code."""

    phone = forms.CharField(label=_("Mobile number"), max_length=20)
    code = forms.CharField(label=_("Code from the SMS"), max_length=6, required=False)
    name = forms.CharField(label=_("Your name (optional)"), max_length=50, required=False)
    description = forms.CharField(
        label=_("What is the problem?"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    address = forms.CharField(label=_("Where is it?"), max_length=200, required=False)
    lat = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-180, max_value=180)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class TrackForm(forms.Form):
    code = forms.CharField(label=_("Case code"), max_length=24)


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data


class JointOperationForm(forms.Form):
    """联合执法: plan an operation of several departments on some of the township's cases."""

    title = forms.CharField(label=_("title"), max_length=100)
    planned_for = forms.DateTimeField(
        label=_("date"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    place = forms.CharField(label=_("Place"), max_length=200)
    departments = forms.ModelMultipleChoiceField(None, label=_("Departments"))
    cases = forms.CharField(
        label=_("Case codes (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )

    def __init__(self, *args, town_code: str, **kwargs):
        from civicgrid.people.models import Department

        super().__init__(*args, **kwargs)
        self.fields["departments"].queryset = Department.objects.filter(
            active=True, region__code__in=[town_code, town_code[:6]]
        ).order_by("region__code", "code")

    def clean_cases(self):
        return [c.strip() for c in self.cleaned_data["cases"].split() if c.strip()]


class JointResultForm(forms.Form):
    results = forms.CharField(
        label=_("What the operation achieved"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
