"""The REST API ``/api/v1/`` (django-ninja): the same selectors and actions as the web app.

OpenAPI 3 at ``/api/v1/openapi.json``, interactive docs at ``/api/v1/docs`` (served from the
app's own static files). Authentication: ``Authorization: Bearer <personal token or key>``,
``X-Api-Key``, or the web session (with CSRF on writes).
"""

from ninja import NinjaAPI

from civicgrid.api.rest import account, cases, places
from civicgrid.api.rest.errors import install_error_handlers
from civicgrid.api.rest.security import AUTH, PrincipalThrottle

__all__ = ["api"]

api = NinjaAPI(
    title="civicgrid API",
    version="1.0.0",
    description=(
        "Cases, the 派—办—馈—评 workflow, categories, regions, grids and departments. "
        'Every error is `{"error": {"code", "message", "fields"}}`; lists are paged with '
        "`page` and `page_size`."
    ),
    auth=AUTH,
    throttle=[PrincipalThrottle()],
    urls_namespace="api-1.0.0",
)
install_error_handlers(api)
api.add_router("", account.router)
api.add_router("", cases.router)
api.add_router("", places.router)
