from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OncallConfig(AppConfig):
    name = "civicgrid.oncall"
    label = "oncall"
    verbose_name = _("Department staff in grids")

    def ready(self):
        from civicgrid.cases.signals import case_action_recorded
        from civicgrid.oncall.actions import cancel_summonses_of_closed_case

        case_action_recorded.connect(
            cancel_summonses_of_closed_case, dispatch_uid="oncall.cancel_on_close"
        )
