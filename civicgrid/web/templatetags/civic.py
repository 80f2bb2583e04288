"""Template helpers of the workbenches."""

from django import template

from civicgrid.people.pii import mask_numbers_in_text

register = template.Library()


@register.filter
def masked(text):
    """ID card and phone numbers in free text, masked (lists and exports never show them)."""
    return mask_numbers_in_text(str(text or ""))
