from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.regions.models import Grid, Region

from .models import Member


class _GridChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.village.parent.name} · {obj.village.name} · {obj.name}"


class RegisterForm(forms.Form):
    """Registration as a co-governance member; the mobile number is proven by an SMS code."""

    name = forms.CharField(label=_("Your name"), max_length=50)
    phone = forms.CharField(label=_("Mobile number"), max_length=20)
    code = forms.CharField(label=_("Code from the SMS"), max_length=6, required=False)
    kind = forms.ChoiceField(label=_("I am a"), choices=Member.Kind.choices)
    platform = forms.CharField(
        label=_("Platform (for riders, couriers and drivers)"), max_length=40, required=False
    )
    town = forms.ModelChoiceField(
        label=_("Township where you mostly work or live"),
        queryset=Region.objects.filter(level=Region.Level.TOWN).order_by("code"),
    )
    grid = _GridChoice(
        label=_("Grid (optional)"),
        required=False,
        queryset=Grid.objects.filter(active=True)
        .exclude(kind=Grid.Kind.MICRO)
        .select_related("village__parent")
        .order_by("code"),
    )
    username = forms.CharField(label=_("User name for logging in"), max_length=30)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)
    password2 = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput, max_length=128
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Once a township is chosen, only its grids are offered.
        town = (self.data.get("town") if self.is_bound else None) or self.initial.get("town")
        if town and str(town).isdigit():
            region = Region.objects.filter(pk=int(town), level=Region.Level.TOWN).first()
            if region is not None:
                grids = self.fields["grid"].queryset.filter(code__startswith=region.code)
                self.fields["grid"].queryset = grids

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class LeaderboardForm(forms.Form):
    """Which board: a month, quarter or year, and an area (county or township)."""

    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year"))],
    )
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    number = forms.IntegerField(
        label=_("Month or quarter"), required=False, min_value=1, max_value=12
    )
    area = forms.ChoiceField(label=_("Area"), required=False)

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = list(areas)

    def clean(self):
        data = super().clean()
        if data.get("period") == "quarter" and (data.get("number") or 1) > 4:
            self.add_error("number", _("A quarter is 1 to 4."))
        return data

    def choice(self) -> tuple[str, int, int, str]:
        """(period, year, number, area) with defaults for what is missing or wrong."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        period = data.get("period") or "month"
        year = data.get("year") or today.year
        default = today.month if period == "month" else (today.month - 1) // 3 + 1
        number = data.get("number") or default
        area = data.get("area") or (self.fields["area"].choices or [("", "")])[0][0]
        return period, year, number, area


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class ProposeAwardForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    size = forms.IntegerField(label=_("Number of awards"), min_value=1, max_value=1000, initial=100)


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or platform"), max_length=50, required=False)
    kind = forms.ChoiceField(
        label=_("kind"), required=False, choices=[("", _("All kinds")), *Member.Kind.choices]
    )
    state = forms.ChoiceField(
        label=_("state"), required=False, choices=[("", _("All states")), *Member.State.choices]
    )
    region = forms.CharField(label=_("region code"), max_length=18, required=False)
