from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    name = "civicgrid.mediation"
    label = "mediation"
    verbose_name = _("Dispute mediation")


# The labels of the permissions this app added to ``core.roles``, repeated here so that this
# app's catalogue carries their translations (makemessages reads only the app's own files).
PERMISSION_LABELS = (
    _("See disputes, mediation logs and statistics of an area"),
    _("Register disputes, visitors and 12348 calls"),
    _("Triage, route, refer, follow up and close disputes"),
    _("Mediate disputes one is assigned to"),
    _("Keep the registry of mediation organisations and mediators"),
)
