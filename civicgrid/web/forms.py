from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.regions.models import Grid


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
