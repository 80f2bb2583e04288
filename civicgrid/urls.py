from django.contrib import admin
from django.urls import include, path

from civicgrid.api.rest import api
from civicgrid.core.auth import AdminThrottledAuthenticationForm

# The admin's login obeys the same lockout and says so in words (civicgrid/core/auth.py).
admin.site.login_form = AdminThrottledAuthenticationForm

# A database that cannot be reached answers 503 with Retry-After (civicgrid/core/outage.py).
handler500 = "civicgrid.core.outage.server_error"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("open311/v2/", include("civicgrid.open311.urls")),
    path("", include("civicgrid.web.urls")),
    path("", include("civicgrid.core.urls")),  # security page, second factor (issue 12)
    path("", include("civicgrid.people.urls")),  # access report, resident rights (issue 12)
    path("", include("civicgrid.inspection.urls")),
    path("", include("civicgrid.campaigns.urls")),
    path("", include("civicgrid.cogovernance.urls")),
    path("", include("civicgrid.oncall.urls")),
    path("", include("civicgrid.mediation.urls")),
    path("", include("civicgrid.incentives.urls")),
    path("", include("civicgrid.analytics.urls")),
    path("", include("civicgrid.warning.urls")),
    path("", include("civicgrid.datahub.urls")),
]
