"""Reads for API callers: the user's scope, narrowed further by the key they came with.

A key limited to a region reaches only cases there; a key limited to a department only cases
dispatched to it. A key without a service account reaches no cases at all.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from civicgrid.api.models import ApiKey
from civicgrid.cases.models import Assignment, Case
from civicgrid.cases.selectors import cases_visible_to

__all__ = ["access_case_for", "cases_for", "narrow_cases", "personal_tokens_of"]


def narrow_cases(cases: QuerySet[Case], key: ApiKey | None) -> QuerySet[Case]:
    if key is None:
        return cases
    if key.region_code:
        cases = cases.filter(region_code__startswith=key.region_code)
    if key.department_id:
        cases = cases.filter(
            pk__in=Assignment.objects.filter(department_id=key.department_id).values("case_id")
        )
    return cases


def cases_for(user, key: ApiKey | None = None) -> QuerySet[Case]:
    if user is None:
        return Case.objects.none()
    return narrow_cases(cases_visible_to(user), key)


def access_case_for(user, key: ApiKey | None, code: str) -> Case:
    """The case by its code (or id) if the caller may see it; otherwise 404 (no existence leak)."""
    code = str(code)
    lookup = Q(code=code)
    if code.isascii() and code.isdigit() and len(code) < 19:
        lookup |= Q(pk=int(code))
    case = (
        cases_for(user, key)
        .filter(lookup)
        .select_related("category", "grid", "merged_into")
        .first()
    )
    if case is None:
        raise Http404
    return case


def personal_tokens_of(user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(kind=ApiKey.Kind.PERSONAL, user=user).order_by("-created", "-id")
