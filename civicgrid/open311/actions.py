"""Taking a service request from an Open311 client: a case through ``do_report_case``."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.api.models import ApiKey
from civicgrid.cases.actions import do_report_case
from civicgrid.cases.models import Case, Category
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.open311.models import ServiceRequest

__all__ = ["do_submit_service_request"]

MAX_DESCRIPTION = 4000


def do_submit_service_request(
    *,
    api_key: ApiKey,
    category: Category,
    description: str,
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    address_id: str = "",
    media_url: str = "",
    account_id: str = "",
    device_id: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    photos=(),
    idempotency_key: str | None = None,
) -> Case:
    """Report a case as the key's service account (or anonymously) on the Open311 channel.

    The media URL is kept as text, never fetched. A retry with the same idempotency key from
    the same key returns the first case. A key limited to an area refuses places outside it.
    """
    if api_key is None or api_key.revoked_at is not None:
        raise ActionRefused(_("This API key does not work."))
    text = (description or "").strip()
    if media_url:
        extra = f"\n\nmedia_url: {media_url}"
        if len(text) + len(extra) <= MAX_DESCRIPTION:
            text += extra
    if not address and address_id:
        address = f"address_id: {address_id}"
    scoped_key = f"open311:{api_key.pk}:{idempotency_key}" if idempotency_key else None
    with transaction.atomic():
        case = do_report_case(
            actor=api_key.user,
            channel=Case.Channel.OPEN311,
            description=text,
            category=category,
            lat=lat,
            lng=lng,
            address=address,
            photos=photos,
            idempotency_key=scoped_key,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
        )
        if api_key.region_code and not case.region_code.startswith(api_key.region_code):
            raise ActionRefused(
                _("This API key may only report places inside area %(code)s.")
                % {"code": api_key.region_code}
            )
        _link, created = ServiceRequest.objects.get_or_create(
            case=case,
            defaults={
                "api_key": api_key,
                "account_id": account_id,
                "device_id": device_id,
                "address_id": address_id,
                "media_url": media_url,
                "created": timezone.now(),
            },
        )
        if created:
            record_event(
                "open311.request.submit",
                actor=api_key.user,
                target=case,
                scope_code=case.region_code,
                after={"api_key": api_key.pk, "api_key_prefix": api_key.prefix},
            )
    return case
