"""The one place that decides what a user may see and do (MISSION G1).

A user's role assignments become grants: a set of permissions held over a region subtree
(a code prefix: ``330281`` ⊃ ``330281001`` ⊃ ``330281001001`` ⊃ a 15-digit grid code) and/or
for a department. ``restrict`` filters a queryset by them and ``can`` checks one object; every
selector, admin page and command uses these two.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db.models import Q, QuerySet

from civicgrid.core.roles import ROLE_PERMISSIONS

__all__ = [
    "Grant",
    "Scope",
    "acts_for_unit",
    "ancestor_codes",
    "departments_of",
    "can",
    "forget_scope",
    "restrict",
    "scope_for",
]

_CACHE_ATTR = "_civicgrid_scope"


@dataclass(frozen=True)
class Grant:
    role: str
    permissions: frozenset[str]
    prefix: str  # a region/grid code; "" = everywhere (administrators only)
    department_id: int | None


@dataclass(frozen=True)
class Scope:
    grants: tuple[Grant, ...]
    superuser: bool = False

    def has(self, permission: str) -> bool:
        return self.superuser or any(permission in g.permissions for g in self.grants)

    def prefixes(self, permission: str) -> list[str]:
        return [g.prefix for g in self.grants if permission in g.permissions]

    @property
    def roles(self) -> list[str]:
        return sorted({g.role for g in self.grants})


_EMPTY = Scope(grants=())


def scope_for(user) -> Scope:
    """Grants of an active user, read once per user object (a request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return _EMPTY
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    RoleAssignment = apps.get_model("people", "RoleAssignment")
    rows = RoleAssignment.objects.filter(person__user=user, active=True).values_list(
        "role", "scope_code", "department_id"
    )
    grants = []
    for role, scope_code, department_id in rows:
        # Only an administrator's assignment has the empty scope (everywhere); the action
        # that assigns roles guarantees it.
        grants.append(
            Grant(role, ROLE_PERMISSIONS.get(role, frozenset()), scope_code, department_id)
        )
    scope = Scope(grants=tuple(grants), superuser=user.is_superuser)
    setattr(user, _CACHE_ATTR, scope)
    return scope


def forget_scope(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def restrict(
    queryset: QuerySet,
    user,
    permission: str,
    *,
    region_field: str | None = None,
    department_field: str | None = None,
    include_ancestors: bool = False,
    department_grants: bool = True,
) -> QuerySet:
    """The rows of ``queryset`` that ``user`` may touch with ``permission``.

    ``include_ancestors`` also admits rows at the regions above the user's places (a county
    department serves every township in it). ``department_grants=False`` ignores the grants
    a person holds for a department: rows reached only through places (a department's
    staff hold ``cases.view`` over their department's whole area, for the cases routed to
    them — not for everything else placed there).
    """
    scope = scope_for(user)
    if scope.superuser:
        return queryset
    condition = Q()
    matched = False
    for grant in scope.grants:
        if permission not in grant.permissions:
            continue
        if not department_grants and grant.department_id is not None:
            continue
        if department_field and grant.department_id is not None:
            # A department's staff reach rows through their department, not their area.
            if "__" in department_field:
                # Through a to-many relation: a subquery, so rows are not repeated.
                ids = queryset.model._base_manager.filter(
                    **{department_field: grant.department_id}
                ).values("pk")
                condition |= Q(pk__in=ids)
            else:
                condition |= Q(**{department_field: grant.department_id})
            matched = True
        elif region_field:
            if grant.prefix == "":
                return queryset
            condition |= Q(**{f"{region_field}__startswith": grant.prefix})
            if include_ancestors:
                condition |= Q(**{f"{region_field}__in": ancestor_codes(grant.prefix)})
            matched = True
    return queryset.filter(condition) if matched else queryset.none()


def acts_for_unit(user, permission: str, level_role_levels: set[str], unit_code: str) -> bool:
    """Does ``user`` hold ``permission`` in a role placed exactly at ``unit_code``?

    Acting *for* a unit (a grid, a village, a township command room, the county centre) needs
    a role at that unit, not merely above or below it: a county operator may see a township's
    case but the township command room dispatches it.
    """
    from civicgrid.core.roles import ROLE_LEVEL

    scope = scope_for(user)
    if scope.superuser:
        return True
    return any(
        permission in g.permissions
        and (
            g.prefix == ""
            or (g.prefix == unit_code and ROLE_LEVEL.get(g.role) in level_role_levels)
        )
        for g in scope.grants
    )


def departments_of(user, permission: str) -> set[int]:
    """The departments ``user`` acts for with ``permission``."""
    return {
        g.department_id
        for g in scope_for(user).grants
        if permission in g.permissions and g.department_id is not None
    }


def ancestor_codes(code: str) -> list[str]:
    """The codes above ``code``: 330281001001 → [330281, 330281001]."""
    return [code[:n] for n in (6, 9, 12, 15) if n < len(code)]


def can(
    user,
    permission: str,
    *,
    region_code: str | None = None,
    department_id: int | None = None,
) -> bool:
    """May ``user`` use ``permission`` on an object at ``region_code`` / of ``department_id``?"""
    scope = scope_for(user)
    if scope.superuser:
        return True
    for grant in scope.grants:
        if permission not in grant.permissions:
            continue
        if region_code is None and department_id is None:
            return True
        if region_code is not None and region_code.startswith(grant.prefix):
            return True
        if department_id is not None and grant.department_id == department_id:
            return True
    return False
