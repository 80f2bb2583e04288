from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.oncall.actions import DEPARTMENT_ROLES, MAX_PHOTOS
from civicgrid.oncall.models import StaffPosting
from civicgrid.oncall.selectors import GROUPINGS
from civicgrid.people.models import RoleAssignment


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    widget = MultipleFileInput(attrs={"accept": "image/*", "multiple": True})

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})
        return [super(MultiplePhotoField, self).clean(f, initial) for f in files]


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.person.name} · {obj.department.short_name or obj.department.name}"


class PostingForm(forms.Form):
    """Post a department's staff member (chosen through their department role) in a grid."""

    staff = StaffChoiceField(label=_("Staff member"), queryset=RoleAssignment.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=StaffPosting.Kind.choices)
    starts_on = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, grid, **kwargs):
        super().__init__(*args, **kwargs)
        # Staff of the departments that serve this grid (the county's and its township's).
        prefixes = [grid.code[:n] for n in (6, 9, 12) if n < len(grid.code)]
        self.fields["staff"].queryset = (
            RoleAssignment.objects.filter(
                role__in=DEPARTMENT_ROLES,
                active=True,
                department__active=True,
                department__region__code__in=prefixes,
                person__user__is_active=True,
            )
            .select_related("person", "department")
            .order_by("department__code", "person__name", "id")
        )


class EndPostingForm(forms.Form):
    ends_on = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class SummonForm(forms.Form):
    posting = forms.IntegerField(widget=forms.HiddenInput)
    request = forms.CharField(label=_("What is needed"), max_length=300, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class FinishForm(forms.Form):
    notes = forms.CharField(label=_("What you did"), widget=forms.Textarea(attrs={"rows": 3}))
    photos = MultiplePhotoField(label=_("Photos"), required=False)


class StatsForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    by = forms.ChoiceField(label=_("By"), choices=list(GROUPINGS.items()), required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data

    def period(self):
        today = timezone.localdate()
        start, end, by = today - timedelta(days=30), today, "department"
        if self.is_valid():
            start = self.cleaned_data["start"] or start
            end = self.cleaned_data["end"] or end
            by = self.cleaned_data["by"] or by
        return start, end, by
