from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OncallConfig(AppConfig):
    name = "civicgrid.oncall"
    label = "oncall"
    verbose_name = _("Department staff in grids")
