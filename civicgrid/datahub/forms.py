"""Forms of the data hub pages: upload, the column mapping (built from the file's header),
the import confirmation."""

from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.datahub.fields import fields_of
from civicgrid.datahub.models import Datum, OnDuplicate, Target

__all__ = ["ImportForm", "MappingForm", "UploadForm"]


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (CSV or .xlsx)"))
    source = forms.ChoiceField(label=_("Source"), required=False)
    source_name = forms.CharField(label=_("or a new source named"), max_length=100, required=False)
    target = forms.ChoiceField(
        label=_("holding"), required=False, choices=[("", "—"), *Target.choices]
    )

    def __init__(self, *args, sources=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", _("— a new source —"))] + [
            (str(s.pk), f"{s.name} · {s.get_target_display()}") for s in sources
        ]

    def clean(self):
        data = super().clean()
        if not data.get("source") and not (data.get("source_name") and data.get("target")):
            raise forms.ValidationError(
                _("Choose a saved source, or name a new one and say what it holds.")
            )
        return data


class MappingForm(forms.Form):
    """One column choice and one default value per field of the target."""

    name = forms.CharField(label=_("Source name"), max_length=100)
    on_duplicate = forms.ChoiceField(
        label=_("A row matching an existing record"), choices=OnDuplicate.choices
    )
    datum = forms.ChoiceField(label=_("Coordinates are in"), choices=Datum.choices)

    def __init__(self, *args, target: str, header: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.specs = fields_of(target)
        columns = [("", _("— not in the file —"))] + [(h, h) for h in header if h]
        for spec in self.specs:
            self.fields[f"col_{spec.name}"] = forms.ChoiceField(
                label=spec.label, choices=columns, required=False
            )
            if spec.kind not in {"id_number", "phone"}:
                self.fields[f"def_{spec.name}"] = forms.CharField(
                    label=_("default"), max_length=100, required=False
                )

    def rows(self):
        """(field spec, column field, default field or None) for the template."""
        for spec in self.specs:
            default = self[f"def_{spec.name}"] if f"def_{spec.name}" in self.fields else None
            yield spec, self[f"col_{spec.name}"], default

    def mapping(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "on_duplicate": data["on_duplicate"],
            "datum": data["datum"],
            "columns": {s.name: data.get(f"col_{s.name}") for s in self.specs},
            "defaults": {s.name: data.get(f"def_{s.name}") for s in self.specs},
        }


class ImportForm(forms.Form):
    skip_bad = forms.BooleanField(
        label=_("Skip the rows with problems and import the others"), required=False
    )
