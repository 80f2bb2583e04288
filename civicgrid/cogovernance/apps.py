from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CogovernanceConfig(AppConfig):
    name = "civicgrid.cogovernance"
    label = "cogovernance"
    verbose_name = _("Co-governance members")

    def ready(self):
        from civicgrid.cases.signals import case_action_recorded
        from civicgrid.cogovernance.actions import on_case_action

        case_action_recorded.connect(on_case_action, dispatch_uid="cogovernance-points")
