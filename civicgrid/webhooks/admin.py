from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicgrid.cases.workflow import ACTION_LABELS
from civicgrid.core.admin import ScopedAdmin
from civicgrid.webhooks.actions import (
    do_create_subscription,
    do_revoke_subscription,
    do_rotate_secret,
)
from civicgrid.webhooks.models import ALL_EVENTS, WebhookDelivery, WebhookSubscription
from civicgrid.webhooks.selectors import (
    MANAGE_PERMISSION,
    can_manage_webhooks,
    deliveries_visible_to,
    subscriptions_visible_to,
)


def _event_choices():
    return [(ALL_EVENTS, gettext_lazy("All events")), *ACTION_LABELS.items()]


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=_event_choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "target_url", "events", "region_code", "department"]


class _ManagersOnly:
    """Webhooks are county configuration: whoever manages them sees all of them."""

    def has_view_permission(self, request, obj=None):
        return can_manage_webhooks(request.user)

    def has_module_permission(self, request):
        return can_manage_webhooks(request.user)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(_ManagersOnly, ScopedAdmin):
    """Subscriptions are listed read-only; a new one is made by ``do_create_subscription`` and
    its signing secret is shown once, in the confirmation message."""

    view_permission = MANAGE_PERMISSION
    change_permission = MANAGE_PERMISSION
    form = SubscriptionForm
    list_display = [
        "name",
        "target_url",
        "events",
        "region_code",
        "department",
        "secret_prefix",
        "created",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "target_url"]
    raw_id_fields = ["department"]
    fields = ["name", "target_url", "events", "region_code", "department"]
    readonly_fields_existing = [
        "name",
        "target_url",
        "events",
        "region_code",
        "department",
        "secret_prefix",
        "created_by",
        "created",
        "secret_rotated_at",
        "revoked_at",
    ]
    actions = ["revoke", "rotate_secret"]

    def scoped_queryset(self, request):
        return subscriptions_visible_to(request.user)

    def has_add_permission(self, request):
        return can_manage_webhooks(request.user)

    def has_manage_permission(self, request):
        return can_manage_webhooks(request.user)

    def get_fields(self, request, obj=None):
        return self.readonly_fields_existing if obj is not None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields_existing if obj is not None else []

    def save_model(self, request, obj, form, change):
        subscription, secret = do_create_subscription(
            name=form.cleaned_data["name"],
            target_url=form.cleaned_data["target_url"],
            events=form.cleaned_data["events"],
            region_code=form.cleaned_data.get("region_code") or "",
            department=form.cleaned_data.get("department"),
            actor=request.user,
        )
        obj.pk = subscription.pk
        obj.created = subscription.created
        messages.warning(
            request,
            _("The signing secret is %(secret)s — copy it now; it will not be shown again.")
            % {"secret": secret},
        )

    @admin.action(
        description=gettext_lazy("Revoke the selected subscriptions"), permissions=["manage"]
    )
    def revoke(self, request, queryset):
        for subscription in queryset:
            do_revoke_subscription(subscription, actor=request.user)
        messages.success(request, _("The selected subscriptions receive nothing more."))

    @admin.action(
        description=gettext_lazy("Give the selected subscriptions a new signing secret"),
        permissions=["manage"],
    )
    def rotate_secret(self, request, queryset):
        for subscription in queryset.filter(revoked_at__isnull=True):
            subscription, secret = do_rotate_secret(subscription, actor=request.user)
            messages.warning(
                request,
                _("The new signing secret of “%(name)s” is %(secret)s — copy it now.")
                % {"name": subscription.name, "secret": secret},
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ManagersOnly, ScopedAdmin):
    """The delivery log, read-only."""

    view_permission = MANAGE_PERMISSION
    list_display = [
        "id",
        "created",
        "subscription",
        "event",
        "case",
        "status",
        "attempts",
        "last_status_code",
        "response_ms",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event", "subscription"]
    search_fields = ["case__code"]
    date_hierarchy = "created"

    def scoped_queryset(self, request):
        return deliveries_visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WebhookDelivery._meta.fields]
