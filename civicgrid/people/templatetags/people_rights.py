"""Links from a person's page to the pages about their data, for those who may open them."""

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from civicgrid.core.scoping import can

register = template.Library()


@register.simple_tag(takes_context=True)
def person_data_links(context, person) -> list[tuple[str, str]]:
    """[(label, url)] for "who looked at this data" and "personal data requests"."""
    user = context["request"].user
    code = person.region_code
    links = []
    if can(user, "audit.view", region_code=code) or can(
        user, "people.assign_role", region_code=code
    ):
        links.append(
            (_("Who looked at this person's data"), reverse("person_access", args=[person.pk]))
        )
    if can(user, "people.erase", region_code=code) or (
        can(user, "people.change", region_code=code)
        and can(user, "people.view_pii", region_code=code)
    ):
        links.append((_("Personal data requests"), reverse("person_rights", args=[person.pk])))
    return links
