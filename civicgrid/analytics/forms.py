"""Forms of the report pages: filters, the monthly theme, notes, follow-up items."""

from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.cases.models import Category

from .models import Report

__all__ = ["CloseFollowUpForm", "FollowUpForm", "NotesForm", "ReportFilterForm", "ThemeForm"]


class ReportFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("kind"), required=False, choices=[("", _("All kinds")), *Report.Kind.choices]
    )
    region = forms.ChoiceField(label=_("area"), required=False)
    month = forms.CharField(
        label=_("month"),
        required=False,
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text=_("YYYY-MM"),
    )

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", _("All areas")), *regions]

    def clean_month(self):
        value = self.cleaned_data["month"].strip()
        if not value:
            return None
        try:
            year, month = (int(part) for part in value.split("-"))
            if not (2000 <= year <= 2100 and 1 <= month <= 12):
                raise ValueError
        except ValueError:
            raise forms.ValidationError(_("Give a month as YYYY-MM.")) from None
        return year, month


class ThemeForm(forms.Form):
    theme = forms.ModelChoiceField(
        label=_("theme"),
        queryset=Category.objects.filter(active=True).order_by("code"),
        help_text=_("A kind of problem analysed in depth: where, since when, who, how fast."),
    )


class NotesForm(forms.Form):
    notes = forms.CharField(
        label=_("analyst's notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class FollowUpForm(forms.Form):
    case = forms.CharField(label=_("case code"), required=False, max_length=24)
    topic = forms.CharField(label=_("topic"), required=False, max_length=200)

    def clean(self):
        data = super().clean()
        if not data.get("case") and not data.get("topic"):
            raise forms.ValidationError(_("Give a case code or a topic."))
        return data


class CloseFollowUpForm(forms.Form):
    outcome = forms.CharField(label=_("outcome"), max_length=2000)
