from django.core.exceptions import PermissionDenied

__all__ = ["ActionRefused"]


class ActionRefused(PermissionDenied):
    """The actor may not do this here; the message says why (translated)."""
