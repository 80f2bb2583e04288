"""Forms of the visit pages; they parse and check input, the actions decide."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.inspection.models import Visit

ANSWER_CHOICES = [
    ("", _("Not checked")),
    ("normal", _("Normal")),
    ("attention", _("Needs attention")),
]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several photos in one input (the phone's camera or gallery)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class DueListForm(forms.Form):
    when = forms.ChoiceField(
        label=_("Due"),
        required=False,
        choices=[("today", _("Today")), ("week", _("This week"))],
    )
    lat = forms.FloatField(required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180)


class VisitForm(forms.Form):
    """A visit: the person seen or not, the rule's checklist, notes, photos, GPS, a problem."""

    outcome = forms.ChoiceField(
        label=_("The person"), choices=Visit.Outcome.choices, widget=forms.RadioSelect
    )
    notes = forms.CharField(
        label=_("notes"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = MultipleFileField(label=_("Photos"), required=False)
    lat = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-180, max_value=180)
    found_problem = forms.BooleanField(label=_("Found a problem: raise a case"), required=False)
    category = forms.ModelChoiceField(None, label=_("category"), required=False)
    description = forms.CharField(
        label=_("What is the problem?"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, checklist=(), **kwargs):
        from civicgrid.cases.models import Category

        super().__init__(*args, **kwargs)
        self.checklist = list(checklist)
        for index, item in enumerate(self.checklist):
            self.fields[f"answer_{index}"] = forms.ChoiceField(
                label=item, choices=ANSWER_CHOICES, required=False
            )
        self.fields["category"].queryset = Category.objects.filter(
            parent__isnull=False, active=True
        ).select_related("parent")
        self.fields["category"].label_from_instance = lambda c: f"{c.parent.name} › {c.name}"

    def answer_fields(self):
        return [self[f"answer_{i}"] for i in range(len(self.checklist))]

    def answers_given(self) -> dict:
        return {
            item: self.cleaned_data.get(f"answer_{i}") or None
            for i, item in enumerate(self.checklist)
        }

    def clean(self):
        data = super().clean()
        if data.get("found_problem") and not (data.get("description") or "").strip():
            self.add_error("description", _("Say what the problem is."))
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError(_("The location is incomplete."))
        return data


class PatrolForm(forms.Form):
    """A comprehensive walk: times, the track the page recorded, the houses passed."""

    started_at = forms.DateTimeField(
        label=_("started at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ended_at = forms.DateTimeField(
        label=_("ended at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    track = forms.CharField(
        label=_("track"),
        required=False,
        max_length=400_000,
        widget=forms.HiddenInput,
    )
    houses = forms.MultipleChoiceField(
        label=_("houses covered"), required=False, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(
        label=_("notes"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, houses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["houses"].choices = [(str(h.pk), h.address) for h in houses]

    def clean_track(self):
        text = (self.cleaned_data.get("track") or "").strip()
        if not text:
            return []
        try:
            return json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("The track was not understood.")) from None


GROUP_CHOICES = [
    ("worker", _("Worker")),
    ("grid", _("Grid")),
    ("village", _("Village / community")),
    ("township", _("Township")),
    ("key_group", _("Key group")),
]


class PeriodForm(forms.Form):
    by = forms.ChoiceField(label=_("Group by"), required=False, choices=GROUP_CHOICES)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, groups=GROUP_CHOICES, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["by"].choices = groups

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data
