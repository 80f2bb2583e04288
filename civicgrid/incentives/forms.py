from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.incentives.models import Criterion, RewardTier


class TierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, tier):
        return f"{tier.get_criterion_display()} · ¥{tier.amount_min}–{tier.amount_max}"


class NominationForm(forms.Form):
    code = forms.CharField(label=_("Case or dispute code"), max_length=32)
    tier = TierChoiceField(label=_("Tier"), queryset=RewardTier.objects.none())
    amount = forms.IntegerField(label=_("Amount (yuan)"), min_value=1, max_value=1_000_000)
    evidence = forms.CharField(
        label=_("Outcome evidence"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text=_(
            "What the report led to: the hazard removed, the loss avoided, the case solved."
        ),
    )

    def __init__(self, *args, tiers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = tiers if tiers is not None else RewardTier.objects.none()


class DecisionForm(forms.Form):
    do = forms.ChoiceField(
        choices=[
            ("review", "review"),
            ("approve", "approve"),
            ("refuse", "refuse"),
            ("revoke", "revoke"),
        ]
    )
    text = forms.CharField(required=False, max_length=2000)
    amount = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    version = forms.IntegerField(required=False, min_value=1)


class WriteUpForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 3}))
    found = forms.CharField(label=_("What was found"), widget=forms.Textarea(attrs={"rows": 4}))
    handled = forms.CharField(
        label=_("How it was handled"), widget=forms.Textarea(attrs={"rows": 4})
    )
    lessons = forms.CharField(label=_("Lessons"), widget=forms.Textarea(attrs={"rows": 3}))


class LibraryFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=60)
    criterion = forms.ChoiceField(
        label=_("Criterion"), required=False, choices=[("", "—"), *Criterion.choices]
    )
    category = forms.ChoiceField(label=_("Category"), required=False, choices=[("", "—")])
    town = forms.ChoiceField(label=_("Township"), required=False, choices=[("", "—")])
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)

    def __init__(self, *args, towns=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town"].choices = [("", "—"), *towns]
        self.fields["category"].choices = [("", "—"), *categories]


class PeriodForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)
    month = forms.IntegerField(
        label=_("Month (empty = whole year)"), min_value=1, max_value=12, required=False
    )
    area = forms.ChoiceField(label=_("Area"), required=False, choices=[("", "—")])

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [("", "—"), *areas]

    def choice(self):
        today = timezone.localdate()
        if not self.is_valid():
            return today.year, today.month, ""
        data = self.cleaned_data
        if data["year"] is None:
            return today.year, (data["month"] or today.month), data["area"] or ""
        return data["year"], data["month"], data["area"] or ""


class BudgetForm(forms.Form):
    town_code = forms.ChoiceField(label=_("Township"))
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    amount = forms.IntegerField(label=_("Budget (yuan)"), min_value=0, max_value=100_000_000)

    def __init__(self, *args, towns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town_code"].choices = list(towns)


NOMINATOR_CHOICES = [
    ("handler", _("The case's handler")),
    ("command_room", _("The township command room")),
]


class SchemeVersionForm(forms.Form):
    """A new version of the reward scheme: one row of fields per criterion (a tier is kept
    when its box is ticked), prefilled from the version in force."""

    name = forms.CharField(label=_("Name"), max_length=100)
    version = forms.CharField(label=_("Version"), max_length=40)
    valid_from = forms.DateField(
        label=_("Valid from"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for value, label in Criterion.choices:
            self.fields[f"{value}_on"] = forms.BooleanField(label=label, required=False)
            self.fields[f"{value}_min"] = forms.IntegerField(
                label=_("Lowest amount (yuan)"), required=False, min_value=1, max_value=1_000_000
            )
            self.fields[f"{value}_max"] = forms.IntegerField(
                label=_("Highest amount (yuan)"), required=False, min_value=1, max_value=1_000_000
            )
            self.fields[f"{value}_who"] = forms.MultipleChoiceField(
                label=_("Who may nominate"),
                required=False,
                choices=NOMINATOR_CHOICES,
                widget=forms.CheckboxSelectMultiple,
            )

    def rows(self):
        """(criterion label, its four bound fields) for the template."""
        return [
            (label, [self[f"{value}_{part}"] for part in ("on", "min", "max", "who")])
            for value, label in Criterion.choices
        ]

    def clean(self):
        data = super().clean()
        tiers = []
        for value, _label in Criterion.choices:
            if not data.get(f"{value}_on"):
                continue
            low, high = data.get(f"{value}_min"), data.get(f"{value}_max")
            who = data.get(f"{value}_who") or []
            if low is None:
                self.add_error(f"{value}_min", _("Give the lowest amount."))
            if high is None:
                self.add_error(f"{value}_max", _("Give the highest amount."))
            if low is not None and high is not None and low > high:
                self.add_error(
                    f"{value}_max", _("The highest amount must not be below the lowest.")
                )
            if not who:
                self.add_error(f"{value}_who", _("Say who may nominate for this tier."))
            tiers.append(
                {"criterion": value, "amount_min": low, "amount_max": high, "nominators": who}
            )
        if not tiers:
            raise forms.ValidationError(_("A scheme needs at least one tier: tick a criterion."))
        data["tiers"] = tiers
        return data

    @classmethod
    def initial_from(cls, scheme) -> dict:
        if scheme is None:
            return {}
        initial = {"name": scheme.name}
        for tier in scheme.tiers.all():
            initial[f"{tier.criterion}_on"] = True
            initial[f"{tier.criterion}_min"] = tier.amount_min
            initial[f"{tier.criterion}_max"] = tier.amount_max
            initial[f"{tier.criterion}_who"] = list(tier.nominators)
        return initial
