from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "civicgrid.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from civicgrid.core import auth  # noqa: F401  (login attempts are recorded by signals)
