"""Roles and what each may do: data, not code (MISSION A2, A3, G1).

A role is held at a place (a region or grid code: the holder's scope is that code's subtree)
and/or for a department. ``core.scoping`` turns a person's assignments into grants.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["PERMISSIONS", "ROLE_LEVEL", "ROLE_PERMISSIONS", "Role"]


class Role(models.TextChoices):
    GRID_LEADER = "grid_leader", _("Grid leader")
    GRID_WORKER = "grid_worker", _("Full-time grid worker")
    GRID_WORKER_PART_TIME = "grid_worker_pt", _("Part-time grid worker")
    MICRO_GRID_LEADER = "micro_grid_leader", _("Micro-grid leader")
    LIAISON = "liaison", _("Community liaison")
    GRID_INSTRUCTOR = "grid_instructor", _("Grid instructor")
    VILLAGE_STAFF = "village_staff", _("Village / community staff")
    TOWNSHIP_OPERATOR = "township_operator", _("Township command-room operator")
    TOWNSHIP_LEADER = "township_leader", _("Township leader")
    COUNTY_OPERATOR = "county_operator", _("County centre operator")
    COUNTY_LEADER = "county_leader", _("County centre leader")
    DEPARTMENT_HANDLER = "dept_handler", _("Department handler")
    DEPARTMENT_RESIDENT = "dept_resident", _("Department staff resident in a grid")
    DEPARTMENT_ON_CALL = "dept_on_call", _("Department staff on call for a grid")
    MEDIATOR = "mediator", _("Mediator")
    RECEPTION_CLERK = "reception_clerk", _("Reception-hall clerk")
    CO_GOVERNANCE = "co_governance", _("Co-governance member")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")


# The level of place a role is held at; "department" roles need a department.
ROLE_LEVEL = {
    Role.GRID_LEADER: "grid",
    Role.GRID_WORKER: "grid",
    Role.GRID_WORKER_PART_TIME: "grid",
    Role.MICRO_GRID_LEADER: "micro_grid",
    Role.LIAISON: "grid",
    Role.GRID_INSTRUCTOR: "grid",
    Role.VILLAGE_STAFF: "village",
    Role.TOWNSHIP_OPERATOR: "town",
    Role.TOWNSHIP_LEADER: "town",
    Role.COUNTY_OPERATOR: "county",
    Role.COUNTY_LEADER: "county",
    Role.DEPARTMENT_HANDLER: "department",
    Role.DEPARTMENT_RESIDENT: "department_grid",
    Role.DEPARTMENT_ON_CALL: "department_grid",
    Role.MEDIATOR: "any",
    Role.RECEPTION_CLERK: "any",
    Role.CO_GOVERNANCE: "any",
    Role.AUDITOR: "any",
    Role.ADMIN: "global",
}

PERMISSIONS = {
    "regions.view": _("See regions and grids"),
    "regions.change": _("Create and change regions and grids"),
    "people.view": _("See people, houses, organisations and places"),
    "people.change": _("Create and change people records"),
    "people.view_pii": _("See ID and phone numbers unmasked"),
    "people.assign_role": _("Give and take roles"),
    "departments.view": _("See departments"),
    "departments.change": _("Create and change departments"),
    "audit.view": _("Read the audit trail"),
    "cases.view": _("See cases"),
    "cases.report": _("Report cases"),
    "cases.handle": _("Act on cases owned by one's own unit"),
    "cases.department": _("Handle cases dispatched to one's department"),
    "cases.supervise": _("Supervise cases (督办)"),
    "cases.instruct": _("Write leader instructions"),
    "cases.review": _("Review cases after repeated dissatisfaction"),
    "cases.configure": _("Edit the case taxonomy"),
}

_REPORT = {"regions.view", "cases.report"}
_FIELD = {"regions.view", "people.view", "cases.view", "cases.report"}
_FIELD_PII = _FIELD | {"people.view_pii", "people.change", "cases.handle"}
_MANAGER = _FIELD_PII | {"departments.view", "people.assign_role", "cases.supervise"}
_LEADER = _FIELD | {"departments.view", "cases.handle", "cases.supervise", "cases.instruct"}
_DEPARTMENT = {"regions.view", "departments.view", "cases.view", "cases.report", "cases.department"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.GRID_LEADER: frozenset(_FIELD_PII),
    Role.GRID_WORKER: frozenset(_FIELD_PII),
    Role.GRID_WORKER_PART_TIME: frozenset(_FIELD),
    Role.MICRO_GRID_LEADER: frozenset(_FIELD),
    Role.LIAISON: frozenset(_REPORT),
    Role.GRID_INSTRUCTOR: frozenset(_FIELD),
    Role.VILLAGE_STAFF: frozenset(_FIELD_PII),
    Role.TOWNSHIP_OPERATOR: frozenset(_MANAGER | {"regions.change"}),
    Role.TOWNSHIP_LEADER: frozenset(_LEADER),
    Role.COUNTY_OPERATOR: frozenset(
        _MANAGER | {"regions.change", "departments.change", "cases.review", "cases.configure"}
    ),
    Role.COUNTY_LEADER: frozenset(_LEADER | {"cases.review"}),
    Role.DEPARTMENT_HANDLER: frozenset(_DEPARTMENT),
    Role.DEPARTMENT_RESIDENT: frozenset(_DEPARTMENT),
    Role.DEPARTMENT_ON_CALL: frozenset(_DEPARTMENT),
    Role.MEDIATOR: frozenset(_REPORT),
    Role.RECEPTION_CLERK: frozenset({"regions.view"}),
    Role.CO_GOVERNANCE: frozenset(_REPORT),
    Role.AUDITOR: frozenset(
        {"regions.view", "people.view", "departments.view", "audit.view", "cases.view"}
    ),
    Role.ADMIN: frozenset(PERMISSIONS),
}

# --------------------------------------------------------------------------- mediation (F1–F6)
# Additions for the dispute-mediation app (issue 7). The 综治中心's window staff (township and
# county operators) register, triage and route disputes; mediators act only on the disputes
# they are assigned to (``mediation.selectors``), department staff on those routed to their
# department.
PERMISSIONS.update(
    {
        "mediation.view": _("See disputes, mediation logs and statistics of an area"),
        "mediation.register": _("Register disputes, visitors and 12348 calls"),
        "mediation.route": _("Triage, route, refer, follow up and close disputes"),
        "mediation.mediate": _("Mediate disputes one is assigned to"),
        "mediation.configure": _("Keep the registry of mediation organisations and mediators"),
    }
)
_MEDIATION_CENTRE = {
    "mediation.view",
    "mediation.register",
    "mediation.route",
    "mediation.mediate",
}
for _role, _extra in {
    Role.TOWNSHIP_OPERATOR: _MEDIATION_CENTRE,
    Role.COUNTY_OPERATOR: _MEDIATION_CENTRE | {"mediation.configure"},
    Role.TOWNSHIP_LEADER: {"mediation.view"},
    Role.COUNTY_LEADER: {"mediation.view"},
    Role.VILLAGE_STAFF: {"mediation.view", "mediation.register"},
    Role.MEDIATOR: {"mediation.mediate"},
    # 接待窗口: registers, keeps the visitor and 12348 logs and routes, at its own centre
    # (township or county); no cases or people beyond what registering needs.
    Role.RECEPTION_CLERK: {"mediation.view", "mediation.register", "mediation.route"},
    Role.DEPARTMENT_HANDLER: {"mediation.mediate"},
    Role.DEPARTMENT_RESIDENT: {"mediation.mediate"},
    Role.AUDITOR: {"mediation.view"},
    Role.ADMIN: set(PERMISSIONS),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | frozenset(_extra)
del _role, _extra

# --------------------------------------------------------------------------- analysis (D1–D7)
# The 研判端 (issues 8, 9): reports, KPIs and the cockpit (`analytics`), early-warning signals
# (`warning`) and imports from department systems (`datahub`). Leaders read; the centre's and
# townships' operators analyse, handle signals and (county only) import and set targets.
PERMISSIONS.update(
    {
        "analytics.view": _("See reports, KPIs and the cockpit of an area"),
        "analytics.analyse": _("Write reports: themes, follow-up items, notes"),
        "analytics.configure": _("Set KPI targets"),
        "warning.view": _("See early-warning signals of an area"),
        "warning.handle": _("Acknowledge, dismiss or act on early-warning signals"),
        "warning.configure": _("Set early-warning parameters per category"),
        "datahub.import": _("Import data from department systems"),
    }
)
_ANALYSE = {"analytics.view", "analytics.analyse", "warning.view", "warning.handle"}
for _role, _extra in {
    Role.TOWNSHIP_OPERATOR: _ANALYSE,
    Role.COUNTY_OPERATOR: _ANALYSE | {"analytics.configure", "warning.configure", "datahub.import"},
    Role.TOWNSHIP_LEADER: {"analytics.view", "warning.view"},
    Role.COUNTY_LEADER: {"analytics.view", "warning.view", "warning.handle"},
    Role.AUDITOR: {"analytics.view", "warning.view"},
    Role.ADMIN: set(PERMISSIONS),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | frozenset(_extra)
del _role, _extra

# --------------------------------------------------------------------------- resident rights
# PIPL art. 47: a resident's personal data erased on request (issue 12, item 4). The county
# centre decides on such requests; exporting a resident's data needs people.change and
# people.view_pii where they live.
PERMISSIONS["people.erase"] = _("Erase a resident's personal data on request")
for _role in (Role.COUNTY_OPERATOR, Role.ADMIN):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"people.erase"}
del _role
