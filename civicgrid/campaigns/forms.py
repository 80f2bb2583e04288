"""Forms of the campaign pages; the actions validate again and their messages land on the form."""

from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.campaigns.selectors import AREA_LEVELS

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class CampaignForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=100)
    category = forms.ModelChoiceField(None, label=_("case category of findings"))
    description = forms.CharField(
        label=_("description"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    start = forms.DateField(label=_("start"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("end"), widget=forms.DateInput(attrs={"type": "date"}))
    areas = forms.MultipleChoiceField(
        label=_("areas"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    grid_codes = forms.CharField(
        label=_("grid codes"),
        required=False,
        help_text=_("Optional: single grids, codes separated by spaces or commas."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    target_types = forms.CharField(
        label=_("target object types"),
        required=False,
        help_text=_("One per line, e.g. 车辆."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    checklist = forms.CharField(
        label=_("checklist"),
        required=False,
        help_text=_("What to check, one item per line."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    organiser = forms.ChoiceField(label=_("organised by"))

    def __init__(self, *args, areas, units, **kwargs):
        from civicgrid.cases.models import Category

        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(
            parent__isnull=False, active=True
        ).select_related("parent")
        self.fields["category"].label_from_instance = lambda c: f"{c.parent.name} › {c.name}"
        self.fields["areas"].choices = areas
        self.fields["organiser"].choices = units
        if len(units) == 1:
            self.fields["organiser"].widget = forms.HiddenInput()
            self.fields["organiser"].initial = units[0][0]

    def clean(self):
        data = super().clean()
        data["grid_list"] = [c for c in (data.get("grid_codes") or "").replace(",", " ").split()]
        data["target_type_list"] = _lines(data.get("target_types", ""))
        data["checklist_list"] = _lines(data.get("checklist", ""))
        if not data.get("areas") and not data["grid_list"]:
            self.add_error("areas", _("Choose the areas the campaign covers."))
        return data


class ProgressForm(forms.Form):
    by = forms.ChoiceField(
        label=_("per"),
        required=False,
        choices=[
            ("township", _("township")),
            ("village", _("village / community")),
            ("grid", _("grid")),
        ],
    )

    def level(self) -> str:
        if self.is_valid() and self.cleaned_data["by"] in AREA_LEVELS:
            return self.cleaned_data["by"]
        return "township"


class TargetForm(forms.Form):
    kind = forms.CharField(label=_("type"), max_length=40)
    label = forms.CharField(label=_("object"), max_length=100)
    address = forms.CharField(label=_("address"), max_length=200, required=False)
    grid = forms.ModelChoiceField(None, label=_("grid"))

    def __init__(self, *args, campaign, grids, **kwargs):
        super().__init__(*args, **kwargs)
        if campaign.target_types:
            self.fields["kind"] = forms.ChoiceField(
                label=_("type"), choices=[(t, t) for t in campaign.target_types]
            )
        self.fields["grid"].queryset = grids


class TargetImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: type, object, address, grid_code (or lat and lng); UTF-8 or GB18030."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        return upload


YES_NO = [("", "—"), ("yes", _("Yes")), ("no", _("No"))]


class CheckForm(forms.Form):
    """A check on a phone: the checklist as yes/no, hazard or not, and the hazard's case."""

    hazard = forms.TypedChoiceField(
        label=_("Result"),
        choices=[("no", _("No hazard")), ("yes", _("Hazard found"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        initial="no",
    )
    description = forms.CharField(
        label=_("Describe the hazard"),
        max_length=3800,
        required=False,
        help_text=_("It becomes a case of the campaign."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    notes = forms.CharField(
        label=_("notes"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    lat = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=-180, max_value=180)

    def __init__(self, *args, checklist, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = {}
        for index, item in enumerate(checklist):
            name = f"item_{index}"
            self.items[name] = item
            self.fields[name] = forms.ChoiceField(label=item, choices=YES_NO, required=False)
        # the checklist first, then the verdict
        order = [*self.items, "hazard", "description", "photo", "notes", "lat", "lng"]
        self.order_fields(order)

    def answers(self) -> dict:
        return {
            item: self.cleaned_data[name] == "yes"
            for name, item in self.items.items()
            if self.cleaned_data.get(name)
        }

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError(_("The location is incomplete."))
        if data.get("hazard") and not (data.get("description") or "").strip():
            self.add_error("description", _("Describe the hazard: it becomes a case."))
        return data
