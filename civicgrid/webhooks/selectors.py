"""Every read of webhook subscriptions and their delivery log.

Subscriptions are county configuration, like integration keys: whoever may configure cases
(``cases.configure``, the county centre) or a superuser sees and manages all of them.
"""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.webhooks.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "MANAGE_PERMISSION",
    "can_manage_webhooks",
    "check_webhook_manager",
    "deliveries_visible_to",
    "subscriptions_visible_to",
]

MANAGE_PERMISSION = "cases.configure"


def can_manage_webhooks(user) -> bool:
    return scope_for(user).has(MANAGE_PERMISSION)


def check_webhook_manager(user) -> None:
    if not can_manage_webhooks(user):
        raise ActionRefused(_("Only the county centre manages webhooks."))


def subscriptions_visible_to(user) -> QuerySet[WebhookSubscription]:
    if not can_manage_webhooks(user):
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.select_related("department", "created_by")


def deliveries_visible_to(user) -> QuerySet[WebhookDelivery]:
    if not can_manage_webhooks(user):
        return WebhookDelivery.objects.none()
    return WebhookDelivery.objects.select_related("subscription", "case")
