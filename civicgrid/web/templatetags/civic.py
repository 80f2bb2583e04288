"""Template helpers of the workbenches."""

from django import template

from civicgrid.people.pii import mask_name, mask_numbers_in_text

register = template.Library()


@register.filter
def masked(text):
    """ID card and phone numbers in free text, masked (lists and exports never show them)."""
    return mask_numbers_in_text(str(text or ""))


@register.filter
def actor_label(step):
    """Who took a step: the user name, or what stands for nobody logged in."""
    from django.utils.translation import gettext as _

    if step.actor_id:
        return step.actor_name
    if step.actor_name == "anonymous":
        return _("a resident (no account)")
    return _("the system")


@register.filter
def masked_name(name):
    """张三 → 张*: the family name only, for roles that do not see personal data."""
    return mask_name(name)
