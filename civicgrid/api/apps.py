from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "civicgrid.api"
    label = "api"
    verbose_name = _("Integrations")

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from civicgrid.api.auth import forget_key, forget_user_keys
        from civicgrid.api.models import ApiKey

        # A saved key (revoked, edited) or user (deactivated) leaves this process's key cache
        # at once; other processes drop it within API_KEY_CACHE_SECONDS.
        def key_changed(sender, instance, **kwargs):
            forget_key(instance.pk)

        def user_changed(sender, instance, **kwargs):
            forget_user_keys(instance.pk)

        post_save.connect(key_changed, sender=ApiKey, weak=False, dispatch_uid="api-key-cache-key")
        post_delete.connect(
            key_changed, sender=ApiKey, weak=False, dispatch_uid="api-key-cache-key-del"
        )
        post_save.connect(
            user_changed,
            sender=settings.AUTH_USER_MODEL,
            weak=False,
            dispatch_uid="api-key-cache-user",
        )
        post_delete.connect(
            user_changed,
            sender=settings.AUTH_USER_MODEL,
            weak=False,
            dispatch_uid="api-key-cache-user-del",
        )
