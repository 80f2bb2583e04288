from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ row.counts|get_item:key }}``: a dict's value (empty when absent)."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
