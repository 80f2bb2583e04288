from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CogovernanceConfig(AppConfig):
    name = "civicgrid.cogovernance"
    label = "cogovernance"
    verbose_name = _("Co-governance members")
