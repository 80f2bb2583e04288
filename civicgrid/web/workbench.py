"""Workbenches: which lists and tools each role works with, and which one a person is on.

A person lands on the workbench of their first role; someone with several roles switches
between them (the choice is kept in the session).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from civicgrid.core.roles import ROLE_LEVEL
from civicgrid.core.scoping import scope_for

__all__ = ["BENCHES", "Bench", "benches_for", "current_bench"]


@dataclass(frozen=True)
class Bench:
    key: str
    label: str
    queues: tuple[str, ...]
    can_report: bool = False
    plans_operations: bool = False


BENCHES = {
    b.key: b
    for b in [
        Bench("grid", _("Grid worker"), ("tasks", "mine", "all"), can_report=True),
        Bench(
            "village",
            _("Village / community"),
            ("tasks", "intake", "dispatch", "verify", "overdue", "mine", "all"),
            can_report=True,
        ),
        Bench(
            "town",
            _("Township command room"),
            (
                "tasks",
                "intake",
                "dispatch",
                "returns",
                "verify",
                "handling",
                "overdue",
                "due_soon",
                "escalated",
                "supervised",
                "all",
            ),
            can_report=True,
            plans_operations=True,
        ),
        Bench("department", _("Department inbox"), ("tasks", "department", "overdue", "all")),
        Bench(
            "county",
            _("County centre"),
            (
                "tasks",
                "intake",
                "dispatch",
                "returns",
                "verify",
                "escalated",
                "hard",
                "supervised",
                "overdue",
                "due_soon",
                "all",
            ),
            can_report=True,
        ),
        Bench("audit", _("Audit"), ("all", "overdue", "supervised")),
        Bench("reporter", _("Reporting"), ("mine",), can_report=True),
    ]
}

_BY_LEVEL = {
    "grid": "grid",
    "micro_grid": "grid",
    "village": "village",
    "town": "town",
    "department": "department",
    "department_grid": "department",
    "county": "county",
    "global": "county",
}
_BY_ROLE = {"auditor": "audit", "mediator": "reporter", "co_governance": "reporter"}
_ORDER = ["county", "town", "village", "department", "grid", "audit", "reporter"]


def benches_for(user) -> list[Bench]:
    """The workbenches of a person's roles, broadest first."""
    scope = scope_for(user)
    keys = set()
    for grant in scope.grants:
        key = _BY_ROLE.get(grant.role) or _BY_LEVEL.get(ROLE_LEVEL.get(grant.role, ""))
        if key:
            keys.add(key)
    if scope.superuser:
        keys.add("county")
    return [BENCHES[k] for k in _ORDER if k in keys]


def current_bench(request) -> Bench | None:
    """The bench chosen in this session if the person still has it, else their first."""
    benches = benches_for(request.user)
    chosen = request.session.get("bench")
    for bench in benches:
        if bench.key == chosen:
            return bench
    return benches[0] if benches else None
