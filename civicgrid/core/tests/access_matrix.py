"""The access-control matrix as data (issue 12 item 1).

Every URL pattern of the site and every REST API operation has one entry here saying who may
GET it (and, for pages that write, that a forbidden POST changes nothing). Expected answers
are derived from each persona's real grants (``core.scoping``) by a small rule, with an
explicit exception list where a page deliberately differs:

* ``PUBLIC``: everyone, anonymous included.
* ``LOGIN``: any signed-in account (the page itself shows only what the account may see).
* ``perm("p", …)``: an account holding any of the permissions somewhere.
* ``scoped("p", "kind")``: the object the URL names (kind ``case``, ``dispute``, …; one in
  township A and one in township B, see ``matrix_fixtures``) is inside a grant of ``p``: its
  region code starts with the grant's prefix, or it is dispatched to the grant's department.
* ``only("county", …)``: exactly these personas.

Outcomes compare as classes: ``allow`` (2xx, or a redirect elsewhere than the login page),
``deny`` (403, or 404 for an object outside one's scope — existence does not leak), ``login``
(anonymous: redirect to the login page, or 401 from the API), ``post-only`` (405 on GET).
A 5xx is always a failure.

To add an endpoint: add an ``E(...)`` (pages, by URL name) or ``api(...)`` (by the OpenAPI
operationId) line below; ``test_every_endpoint_has_a_matrix_entry`` fails until you do.
``lists="kind"`` also checks that a list / export / map / search page shows the objects of that
kind the persona may see and never one it may not (by their code or name in the body).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALLOW, DENY, LOGIN, NOGET = "allow", "deny", "login", "post-only"


class O:  # noqa: E742 (a short name keeps the table below readable)
    """A URL argument naming an object of a kind (``O("case")``); the test tries A and B."""

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self):
        return f"O({self.kind!r})"


@dataclass(frozen=True)
class Rule:
    kind: str  # public | login | perm | scoped | only | nobody
    permissions: tuple[str, ...] = ()
    obj: str | None = None
    personas: frozenset[str] = frozenset()
    # scoped: a department's grant reaches only the objects routed to the department (as
    # ``restrict(..., department_field=...)`` does), not its whole area
    by_department: bool = False
    ancestors: bool = False  # scoped: a grant also reaches objects at the regions above it
    also: tuple[str, ...] = ()  # scoped: these permissions are needed over the object too

    def describe(self) -> str:
        if self.kind in {"public", "login", "nobody"}:
            return self.kind
        if self.kind == "perm":
            return " or ".join(self.permissions)
        if self.kind == "scoped":
            text = f"{' or '.join(self.permissions)} over the {self.obj}"
            if self.also:
                text += f" (and {', '.join(self.also)})"
            if self.ancestors:
                text += " (or above one's place)"
            if self.by_department:
                text += " (departments: only if routed to them)"
            return text
        return ", ".join(sorted(self.personas))


PUBLIC = Rule("public")
LOGIN_ONLY = Rule("login")
NOBODY = Rule("nobody")  # a catch-all answering 404 to everyone


def perm(*permissions: str) -> Rule:
    return Rule("perm", permissions=permissions)


def scoped(permission: str | tuple[str, ...], obj: str, **options) -> Rule:
    permissions = (permission,) if isinstance(permission, str) else permission
    if obj in ROUTED_KINDS:
        options.setdefault("by_department", True)
    return Rule("scoped", permissions=permissions, obj=obj, **options)


# Kinds a department reaches only when routed to it (cases dispatched, their sheets).
# Campaigns (with their targets and checks) and nominations are derived from cases and
# places: "campaigns covering any place the user sees cases in" (campaigns.selectors), a
# nomination of a case. A department handler sees the cases routed to the department, not its
# area, so these follow the same rule.
ROUTED_KINDS = {
    "case", "dcase", "supervision", "instruction", "attachment", "open311_case",
    "campaign", "target", "check", "nomination",
}  # fmt: skip


def only(*personas: str) -> Rule:
    return Rule("only", personas=frozenset(personas))


@dataclass(frozen=True)
class E:
    """One URL pattern (by its name) or API operation (``api:<operationId>``)."""

    name: str
    rule: Rule
    kwargs: dict = field(default_factory=dict)
    group: str = ""
    get: bool = True  # False: POST only (GET answers 405 to a signed-in account)
    writes: bool = False  # a forbidden persona's POST must change nothing
    post_rule: Rule | None = None  # who may POST, when not the same as who may GET
    form_refusal: bool = False  # refused with a message on a page (200/302): still no change
    post_data: dict = field(default_factory=dict)  # a valid form, so the refusal is the scope's
    lists: str | None = None  # kind of object listed: A/B visibility checked in the body
    lists_positive: bool = True  # also require the visible object to appear
    exceptions: dict = field(default_factory=dict)  # persona (or persona:A/B) → outcome
    why: str = ""  # the reason for the exceptions
    query: dict = field(default_factory=dict)  # GET parameters
    login_required: bool = True  # anonymous answer: login (True) or the rule's answer
    # A known leak: the reason, and the personas whose cells show it. Their cells are checked
    # by ``test_known_leak`` (strict xfail) instead of the entry's own test.
    leak: str = ""
    leaky: tuple[str, ...] = ()


# One body for the API's writes: each operation reads the fields it knows and ignores the rest,
# so a forbidden caller is refused by scope, not by a missing field.
API_BODY = {
    "reason": "矩阵",
    "text": "矩阵",
    "answer": "矩阵",
    "level": 1,
    "days": 1,
    "satisfaction": "satisfied",
    "passed": True,
    "approve": True,
    "reopen": False,
    "name": "matrix",
    "description": "矩阵 路灯不亮",
    "lat": 30.05,
    "lng": 121.15,
    "title": "矩阵",
    "place": "阳明路",
    "planned_for": "2030-01-01T09:00:00+08:00",
    "town_code": "330281002",
    "departments": [],
    "cases": [],
    "result": "矩阵",
    "category": "0101",
    "grid": "330281001001001",
    "into": "330281-20000101-00001",
    "unit_code": "330281001",
    "lead": "330281-public_security",
    "leader": "leader",
    "decisions": "矩阵",
    "before_photos": [],
    "after_photos": [],
}


def api(operation_id: str, rule: Rule, **kw) -> E:
    kw.setdefault("post_data", API_BODY)
    return E(name=f"api:{operation_id}", rule=rule, group="REST API", **kw)


CSV = "csv"
case, dcase, dispute = O("case"), O("dcase"), O("dispute")

# --------------------------------------------------------------------------- who sees what kind
# The visibility of each object kind in lists (used with ``lists=``): the same rule a detail
# page of that kind uses.
VISIBILITY: dict[str, Rule] = {
    "case": scoped("cases.view", "case"),
    "dcase": scoped("cases.view", "dcase"),
    "campaign": scoped("cases.view", "campaign", ancestors=True),
    "dispute": scoped("mediation.view", "dispute"),
    "member": scoped("cases.supervise", "member"),
    "typical": scoped("cases.view", "typical", ancestors=True),
    "nomination": scoped("cases.view", "nomination"),
    "worker": scoped("cases.view", "worker"),
    # a township's row in a statistics export: shown to those who see or report cases in a
    # place overlapping it (a member's row is their own reports')
    "town": scoped(("cases.view", "cases.report"), "town", ancestors=True),
    # … and in the dispute statistics, to those who see the disputes of a place overlapping it
    "mediation_town": scoped("mediation.view", "mediation_town", ancestors=True),
    "grid": scoped("regions.view", "grid"),
    "target": scoped("cases.report", "target"),
    "signal": scoped("warning.view", "signal"),
}

# --------------------------------------------------------------------------- known leaks
# Reported to the integrator (session 16); their cells are checked by ``test_known_leak``.
DEPARTMENTS = ("police", "market")
# --------------------------------------------------------------------------- pages
ENTRIES: list[E] = [
    # ---- web: home, profile, inbox
    E("home", LOGIN_ONLY, group="web", lists="dcase", lists_positive=False),
    E("profile", LOGIN_ONLY, group="web"),
    E("log_out_everywhere", LOGIN_ONLY, group="web", get=False),
    E("inbox", LOGIN_ONLY, group="web", lists="dcase", lists_positive=False),
    E("inbox_read", LOGIN_ONLY, group="web", get=False),
    E("inbox_export", LOGIN_ONLY, {"fmt": CSV}, group="web", lists="dcase", lists_positive=False),
    E(
        "workbench",
        only("grid1", "grid2"),
        {"key": "grid"},
        group="web",
        why="a workbench one has no role for is a 404",
    ),
    E("healthz", PUBLIC, group="web", login_required=False),
    E("login", PUBLIC, group="web", login_required=False),
    E("logout", PUBLIC, group="web", login_required=False, get=False),  # POST only, for all
    E("set_language", PUBLIC, group="web", login_required=False),
    # ---- reporting, residents, tracking
    E("report", perm("cases.report"), group="cases"),
    E("resident_report", PUBLIC, group="residents", login_required=False),
    E("track", PUBLIC, group="residents", login_required=False),
    E("track_case", PUBLIC, {"code": case}, group="residents", login_required=False),
    # ---- cases
    E("case_list", LOGIN_ONLY, group="cases", lists="dcase", query={"queue": "all"}),
    E(
        "case_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="cases",
        lists="dcase",
        query={"queue": "all"},
    ),
    E("case_bulk", LOGIN_ONLY, group="cases", get=False, writes=True),
    E("case_detail", scoped("cases.view", "case"), {"code": case}, group="cases"),
    E("case_detail", scoped("cases.view", "dcase"), {"code": dcase}, group="cases"),
    E(
        "case_act",
        scoped("cases.view", "dcase"),
        {"code": dcase, "action": "supervise"},
        group="cases",
        get=False,
        writes=True,
        post_data={"level": "1", "reason": "矩阵督办"},
    ),
    E("case_grid", scoped("cases.view", "case"), {"code": case}, group="cases"),
    E(
        "case_attachment",
        scoped("cases.view", "case"),
        {"code": case, "pk": O("attachment")},
        group="cases",
    ),
    E(
        "supervision_sheet",
        scoped("cases.view", "dcase"),
        {"code": dcase, "pk": O("supervision")},
        group="cases",
    ),
    E(
        "instruction_sheet",
        scoped("cases.view", "dcase"),
        {"code": dcase, "pk": O("instruction")},
        group="cases",
    ),
    E("operations", LOGIN_ONLY, group="cases"),
    E(
        "operation_result",
        LOGIN_ONLY,
        {"pk": O("operation")},
        group="cases",
        get=False,
        writes=True,
    ),
    # ---- cockpit, league, grids, people
    E("cockpit", perm("analytics.view"), group="cockpit"),
    E(
        "cockpit",
        scoped("analytics.view", "town"),
        group="cockpit",
        query={"region": O("town")},
        lists="dcase",
        lists_positive=False,
    ),
    E(
        "cockpit_map",
        scoped("analytics.view", "town"),
        group="cockpit",
        query={"region": O("town")},
        lists="dcase",
        lists_positive=False,
    ),
    E("league", LOGIN_ONLY, group="cockpit"),
    E(
        "league_export",
        LOGIN_ONLY,
        {"table": "towns", "fmt": CSV},
        group="cockpit",
        lists="town",
        lists_positive=False,
    ),
    E("grid_list", LOGIN_ONLY, group="people", lists="grid"),
    E("grid_export", LOGIN_ONLY, {"fmt": CSV}, group="people", lists="grid"),
    E("person_detail", scoped("people.view", "person"), {"person_id": O("person")}, group="people"),
    E(
        "person_reveal",
        scoped("people.view", "person"),
        {"person_id": O("person")},
        group="people",
        get=False,
        writes=True,
    ),
    # ---- audit
    E("audit_list", perm("audit.view"), group="audit"),
    E("audit_export", perm("audit.view"), {"fmt": CSV}, group="audit"),
    E("audit_detail", scoped("audit.view", "audit"), {"pk": O("audit")}, group="audit"),
    # ---- inspection (visits, patrols)
    E("visit_due_list", perm("people.view"), group="visits"),
    E(
        "visit_record",
        scoped("people.view", "person", also=("cases.report",)),
        {"person_id": O("person")},
        group="visits",
        writes=True,
    ),
    E("visit_detail", scoped("people.view", "visit"), {"pk": O("visit")}, group="visits"),
    E(
        "visit_photo",
        scoped("people.view", "visit"),
        {"pk": O("visit"), "photo_pk": O("visit_photo")},
        group="visits",
    ),
    E("visit_compliance", perm("people.view"), group="visits"),
    E("visit_compliance_table", perm("people.view"), {"table": "overdue"}, group="visits"),
    E(
        "visit_compliance_export",
        perm("people.view"),
        {"table": "overdue", "fmt": CSV},
        group="visits",
    ),
    E("patrol_list", perm("people.view"), group="visits"),
    E(
        "patrol_new",
        perm("cases.report"),
        group="visits",
        exceptions={"member": DENY, "police": DENY, "market": DENY},
        why="a walk is recorded in one's own grids: grid, village and township staff",
    ),
    E(
        "patrol_export",
        perm("people.view"),
        {"fmt": CSV},
        group="visits",
        lists="town",
        lists_positive=False,
    ),
    # ---- campaigns
    E(
        "campaign_list",
        LOGIN_ONLY,
        group="campaigns",
        lists="campaign",
    ),
    E(
        "campaign_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="campaigns",
        lists="campaign",
    ),
    E("campaign_create", perm("cases.supervise"), group="campaigns", writes=True),
    E(
        "campaign_my_targets",
        perm("cases.report"),
        group="campaigns",
        lists="target",
        lists_positive=False,
    ),
    E(
        "campaign_my_targets_export",
        perm("cases.report"),
        {"fmt": CSV},
        group="campaigns",
    ),
    E(
        "campaign_target_check",
        scoped("cases.view", "target", also=("cases.report",)),
        {"pk": O("target")},
        group="campaigns",
        writes=True,
    ),
    E(
        "campaign_check_detail",
        scoped("cases.view", "check"),
        {"pk": O("check")},
        group="campaigns",
    ),
    E(
        "campaign_detail",
        scoped("cases.view", "campaign", ancestors=True),
        {"pk": O("campaign")},
        group="campaigns",
    ),
    E(
        "campaign_act",
        scoped("cases.view", "campaign", ancestors=True),
        {"pk": O("campaign"), "action": "close"},
        group="campaigns",
        get=False,
        writes=True,
    ),
    E(
        "campaign_add_target",
        scoped("cases.view", "campaign", ancestors=True),
        {"pk": O("campaign")},
        group="campaigns",
        get=False,
        writes=True,
    ),
    E(
        "campaign_import_targets",
        scoped("cases.view", "campaign", ancestors=True),
        {"pk": O("campaign")},
        group="campaigns",
        get=False,
        writes=True,
    ),
    E(
        "campaign_progress_export",
        scoped("cases.view", "campaign", ancestors=True),
        {"pk": O("campaign"), "fmt": CSV},
        group="campaigns",
    ),
    E(
        "campaign_targets_export",
        scoped("cases.view", "campaign", ancestors=True),
        {"pk": O("campaign"), "fmt": CSV},
        group="campaigns",
    ),
    # ---- co-governance
    E("cogovernance_register", PUBLIC, group="co-governance", login_required=False),
    E("cogovernance_my_points", only("member"), group="co-governance"),
    E("cogovernance_my_points_export", only("member"), {"fmt": CSV}, group="co-governance"),
    E(
        "cogovernance_leaderboard",
        perm("cases.view"),
        group="co-governance",
        exceptions={"member": ALLOW},
        why="members see the boards they compete on",
    ),
    E(
        "cogovernance_leaderboard_export",
        perm("cases.view"),
        {"fmt": CSV},
        group="co-governance",
        exceptions={"member": ALLOW},
        why="members see the boards they compete on",
    ),
    E("cogovernance_members", perm("cases.supervise"), group="co-governance", lists="member"),
    E(
        "cogovernance_member_export",
        perm("cases.supervise"),
        {"fmt": CSV},
        group="co-governance",
        lists="member",
    ),
    E(
        "cogovernance_member",
        scoped("cases.supervise", "member"),
        {"pk": O("member")},
        group="co-governance",
    ),
    E(
        "cogovernance_member_ledger_export",
        scoped("cases.supervise", "member"),
        {"pk": O("member"), "fmt": CSV},
        group="co-governance",
    ),
    E(
        "cogovernance_member_state",
        scoped("cases.supervise", "member"),
        {"pk": O("member")},
        group="co-governance",
        get=False,
        writes=True,
        post_data={"state": "suspended", "reason": "矩阵"},
    ),
    E(
        "cogovernance_invalidate",
        scoped("cases.supervise", "case"),
        {"code": case},
        group="co-governance",
        writes=True,
    ),
    E("cogovernance_awards", only("county", "leader", "admin"), group="co-governance"),
    E(
        "cogovernance_award",
        scoped("cases.supervise", "award"),
        {"pk": O("award")},
        group="co-governance",
    ),
    E(
        "cogovernance_award_export",
        scoped("cases.supervise", "award"),
        {"pk": O("award"), "fmt": CSV},
        group="co-governance",
    ),
    E(
        "cogovernance_award_print",
        scoped("cases.supervise", "award"),
        {"pk": O("award")},
        group="co-governance",
    ),
    E(
        "cogovernance_certificates",
        scoped("cases.supervise", "award"),
        {"pk": O("award")},
        group="co-governance",
        exceptions={"*": DENY},
        why="certificates exist once the award is confirmed (the matrix's award is proposed)",
    ),
    E(
        "cogovernance_certificate",
        scoped("cases.supervise", "award"),
        {"pk": O("award"), "candidate_id": 999999},
        group="co-governance",
        exceptions={"*": DENY},
        why="no confirmed candidate in the matrix's award: 404 for all",
    ),
    # ---- on call
    E("oncall_postings", LOGIN_ONLY, group="on call", lists="grid", lists_positive=False),
    E(
        "oncall_postings_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="on call",
        lists="town",
        lists_positive=False,
    ),
    E(
        "oncall_posting_add",
        scoped("cases.handle", "grid"),
        {"grid_code": O("grid")},
        group="on call",
        get=False,
        writes=True,
    ),
    E(
        "oncall_posting_end",
        scoped("cases.handle", "posting"),
        {"pk": O("posting")},
        group="on call",
        get=False,
        writes=True,
        post_data={"ends_on": "2026-12-31"},
        form_refusal=True,
        why="auditors see postings; ending one is refused with a message",
    ),
    E(
        "oncall_summon",
        scoped("cases.view", "dcase"),
        {"code": dcase},
        group="on call",
        get=False,
        writes=True,
    ),
    E(
        "oncall_cancel",
        scoped("cases.view", "dcase"),
        {"pk": O("summons")},
        group="on call",
        get=False,
        writes=True,
    ),
    E("oncall_mine", LOGIN_ONLY, group="on call", lists="dcase", lists_positive=False),
    E(
        "oncall_answer",
        scoped("cases.view", "summons"),
        {"pk": O("summons"), "action": "accept"},
        group="on call",
        get=False,
        writes=True,
    ),
    E(
        "oncall_photo",
        NOBODY,
        {"pk": 999999},
        group="on call",
        why="no summons photo in the matrix's world: an unknown photo is a 404 for all",
    ),
    E("oncall_stats", LOGIN_ONLY, group="on call"),
    E(
        "oncall_stats_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="on call",
        lists="town",
        lists_positive=False,
    ),
    E(
        "oncall_summonses_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="on call",
        lists="dcase",
        lists_positive=False,
    ),
    # ---- mediation
    E("mediation_list", LOGIN_ONLY, group="mediation", lists="dispute"),
    E("mediation_register", perm("mediation.register"), group="mediation", writes=True),
    E("mediation_export", LOGIN_ONLY, {"fmt": CSV}, group="mediation", lists="dispute"),
    E("mediation_statistics", perm("mediation.view", "mediation.mediate"), group="mediation"),
    E(
        "mediation_statistics_export",
        perm("mediation.view", "mediation.mediate"),
        {"group": "town", "fmt": CSV},
        group="mediation",
        lists="mediation_town",
        lists_positive=False,
    ),
    E(
        "mediation_visitors",
        LOGIN_ONLY,
        group="mediation",
        writes=True,
        post_rule=perm("mediation.register"),
    ),
    E(
        "mediation_calls",
        LOGIN_ONLY,
        group="mediation",
        writes=True,
        post_rule=perm("mediation.register"),
    ),
    E(
        "mediation_call_step",
        perm("mediation.register"),
        {"pk": 999999, "step": "case"},
        group="mediation",
        get=False,
        writes=True,
    ),
    E(
        "mediation_log_case",
        perm("mediation.register"),
        {"kind": "visitor", "pk": 999999},
        group="mediation",
        get=False,
        writes=True,
    ),
    E(
        "mediation_activities",
        LOGIN_ONLY,
        group="mediation",
        writes=True,
        post_rule=perm("mediation.register", "mediation.mediate", "mediation.view"),
    ),
    E("mediation_org_add", perm("mediation.configure"), group="mediation", writes=True),
    E(
        "mediation_org_edit",
        scoped("mediation.configure", "org"),
        {"pk": O("org")},
        group="mediation",
        writes=True,
    ),
    E("mediation_mediator_add", perm("mediation.configure"), group="mediation", writes=True),
    E(
        "mediation_mediator_edit",
        scoped("mediation.configure", "mediator"),
        {"pk": O("mediator")},
        group="mediation",
        writes=True,
    ),
    E("mediation_registry", perm("mediation.view"), group="mediation"),
    E(
        "mediation_detail",
        scoped("mediation.view", "dispute"),
        {"code": dispute},
        group="mediation",
    ),
    E(
        "mediation_act",
        scoped("mediation.view", "dispute"),
        {"code": dispute, "action": "route"},
        group="mediation",
        get=False,
        writes=True,
    ),
    E(
        "mediation_party_reveal",
        scoped("mediation.view", "dispute"),
        {"code": dispute, "pk": O("party")},
        group="mediation",
        get=False,
        writes=True,
    ),
    E(
        "mediation_agreement",
        scoped("mediation.view", "dispute"),
        {"code": dispute},
        group="mediation",
        exceptions={"*": DENY},
        why="no agreement yet (the matrix's disputes are not concluded): 404 for all",
    ),
    # ---- incentives
    E("incentives_nominate", LOGIN_ONLY, group="rewards", writes=True),
    E("incentives_queue", LOGIN_ONLY, {"level": "review"}, group="rewards"),
    E("incentives_queue_export", LOGIN_ONLY, {"level": "approval", "fmt": CSV}, group="rewards"),
    E(
        "incentives_nominations",
        LOGIN_ONLY,
        group="rewards",
        lists="nomination",
    ),
    E(
        "incentives_nominations_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="rewards",
        lists="nomination",
    ),
    E(
        "incentives_nomination",
        scoped("cases.view", "nomination"),
        {"pk": O("nomination")},
        group="rewards",
        writes=True,
    ),
    E(
        "incentives_write_up",
        scoped("cases.supervise", "nomination"),
        {"pk": O("nomination")},
        group="rewards",
        writes=True,
    ),
    E("incentives_my_rewards", LOGIN_ONLY, group="rewards"),
    E("incentives_my_rewards_export", LOGIN_ONLY, {"fmt": CSV}, group="rewards"),
    E("incentives_library", LOGIN_ONLY, group="rewards", lists="typical"),
    E("incentives_library_export", LOGIN_ONLY, {"fmt": CSV}, group="rewards", lists="typical"),
    E(
        "incentives_typical_case",
        scoped("cases.view", "typical", ancestors=True),
        {"pk": O("typical")},
        group="rewards",
    ),
    E(
        "incentives_publish_typical_case",
        only("county", "admin"),
        {"pk": O("typical")},
        group="rewards",
        get=False,
        writes=True,
        form_refusal=True,
        why="whoever reads the library is refused with a message",
    ),
    E(
        "incentives_appraisal",
        perm("cases.supervise"),
        group="rewards",
        lists="worker",
        lists_positive=False,
        exceptions={"grid1": ALLOW, "grid2": ALLOW, "village": ALLOW},
        why="a grid worker sees their own score; village staff lead their grid workers",
    ),
    E(
        "incentives_appraisal_export",
        LOGIN_ONLY,
        {"fmt": CSV},
        group="rewards",
        lists="worker",
        lists_positive=False,
    ),
    E(
        "incentives_league_export",
        LOGIN_ONLY,
        {"by": "town", "fmt": CSV},
        group="rewards",
        lists="town",
        lists_positive=False,
    ),
    E(
        "incentives_appraisal_worker",
        scoped("cases.supervise", "worker"),
        {"user_id": O("worker")},
        group="rewards",
        exceptions={"grid1:A": ALLOW, "grid2:B": ALLOW, "village:A": ALLOW},
        why="one's own score; village staff lead their grid workers",
    ),
    E(
        "incentives_appraisal_worker_export",
        scoped("cases.supervise", "worker"),
        {"user_id": O("worker"), "fmt": CSV},
        group="rewards",
        exceptions={"grid1:A": ALLOW, "grid2:B": ALLOW, "village:A": ALLOW},
        why="one's own score; village staff lead their grid workers",
    ),
    E("incentives_scheme", perm("cases.view"), group="rewards"),
    E(
        "incentives_scheme_publish",
        perm("cases.view"),
        group="rewards",
        writes=True,
        post_rule=only("county", "admin"),
        form_refusal=True,
        why="anyone in the county sees the form; only the centre's POST publishes",
    ),
    E("incentives_scheme_export", perm("cases.view"), {"fmt": CSV}, group="rewards"),
    # ---- people: who looked at a resident's data; a resident's rights (issue 12 item 4)
    E(
        "person_access",
        scoped(("audit.view", "people.assign_role"), "person", also=("people.view",)),
        {"person_id": O("person")},
        group="people",
    ),
    E(
        "person_access_export",
        scoped(("audit.view", "people.assign_role"), "person", also=("people.view",)),
        {"person_id": O("person"), "fmt": CSV},
        group="people",
    ),
    E(
        "person_rights",
        scoped(("people.erase", "people.change"), "person", also=("people.view",)),
        {"person_id": O("person")},
        group="people",
    ),
    E(
        "person_rights_export",
        scoped(("people.erase", "people.change"), "person", also=("people.view",)),
        {"person_id": O("person"), "fmt": CSV},
        group="people",
        get=False,
        writes=True,
    ),
    E(
        "person_erase",
        scoped("people.erase", "person", also=("people.view",)),
        {"person_id": O("person")},
        group="people",
        get=False,
        writes=True,
    ),
    # ---- security settings and the second factor (issue 12 item 2)
    E("security", LOGIN_ONLY, group="security"),
    E("totp_enrol", LOGIN_ONLY, group="security"),
    E("totp_verify", LOGIN_ONLY, group="security"),
    E("totp_disable", LOGIN_ONLY, group="security", get=False),
    E("totp_recovery_codes", LOGIN_ONLY, group="security", get=False),
    # ---- analytics: reports, KPIs, the cockpit's exports (issues 8, 9)
    E("analytics_reports", perm("analytics.view"), group="analytics"),
    E("analytics_reports_export", perm("analytics.view"), {"fmt": CSV}, group="analytics"),
    E("analytics_latest", perm("analytics.view"), {"kind": "weekly"}, group="analytics"),
    E(
        "analytics_report",
        scoped("analytics.view", "report"),
        {"pk": O("report")},
        group="analytics",
    ),
    E(
        "analytics_report_download",
        scoped("analytics.view", "report"),
        {"pk": O("report"), "fmt": "xlsx"},
        group="analytics",
    ),
    E(
        "analytics_report_table",
        scoped("analytics.view", "report"),
        {"pk": O("report"), "key": O("report_table"), "fmt": CSV},
        group="analytics",
    ),
    *[
        E(
            name,
            scoped("analytics.analyse", "report"),
            {"pk": O("report")},
            group="analytics",
            get=False,
            writes=True,
        )
        for name in (
            "analytics_report_theme",
            "analytics_report_notes",
            "analytics_follow_up",
            "analytics_regenerate",
        )
    ],
    E(
        "analytics_follow_up_close",
        scoped("analytics.analyse", "report"),
        {"pk": O("report"), "item": 999999},
        group="analytics",
        get=False,
        writes=True,
    ),
    E("analytics_kpis", perm("analytics.view"), group="analytics"),
    E("analytics_province", perm("analytics.view"), group="analytics"),
    E("analytics_province_export", perm("analytics.view"), {"fmt": CSV}, group="analytics"),
    E(
        "analytics_kpis",
        scoped("analytics.view", "town"),
        group="analytics",
        query={"region": O("town")},
    ),
    E(
        "analytics_kpi_export",
        scoped("analytics.view", "town"),
        {"table": "groups", "fmt": CSV},
        group="analytics",
        query={"region": O("town")},
    ),
    E(
        "cockpit_export",
        scoped("analytics.view", "town"),
        {"table": "children", "fmt": CSV},
        group="cockpit",
        query={"region": O("town")},
    ),
    # ---- early warning (issue 9)
    E("warning_list", perm("warning.view"), group="warning", lists="signal"),
    E("warning_export", perm("warning.view"), {"fmt": CSV}, group="warning"),
    E("warning_map_open", perm("warning.view"), group="warning", lists="signal"),
    E("warning_settings", perm("warning.configure"), group="warning"),
    E(
        "warning_setting_edit",
        perm("warning.configure"),
        {"code": "0101"},
        group="warning",
        writes=True,
    ),
    E(
        "warning_reporting_days",
        perm("warning.configure"),
        group="warning",
        writes=True,
        post_data={"day": "2026-01-05", "kind": "publicity"},
    ),
    E("warning_reporting_days_export", perm("warning.configure"), {"fmt": CSV}, group="warning"),
    E(
        "warning_reporting_day_remove",
        perm("warning.configure"),
        group="warning",
        get=False,
        writes=True,
        post_data={"day": "2026-01-05"},
    ),
    E("warning_detail", scoped("warning.view", "signal"), {"pk": O("signal")}, group="warning"),
    E("warning_map", scoped("warning.view", "signal"), {"pk": O("signal")}, group="warning"),
    E(
        "warning_act",
        scoped("warning.handle", "signal"),
        {"pk": O("signal"), "action": "acknowledge"},
        group="warning",
        get=False,
        writes=True,
        form_refusal=True,
        why="who sees a signal but may not handle it is refused with a message",
    ),
    # ---- imports from department systems (issue 9)
    E("datahub_index", perm("datahub.import"), group="datahub"),
    E("datahub_upload", perm("datahub.import"), group="datahub", get=False, writes=True),
    E("datahub_runs_export", perm("datahub.import"), {"fmt": CSV}, group="datahub"),
    E("datahub_sources_export", perm("datahub.import"), {"fmt": CSV}, group="datahub"),
    E("datahub_run", scoped("datahub.import", "run"), {"pk": O("run")}, group="datahub"),
    E(
        "datahub_mapping",
        scoped("datahub.import", "run"),
        {"pk": O("run")},
        group="datahub",
        writes=True,
    ),
    E(
        "datahub_import",
        scoped("datahub.import", "run"),
        {"pk": O("run")},
        group="datahub",
        get=False,
        writes=True,
    ),
    E(
        "datahub_cancel",
        scoped("datahub.import", "run"),
        {"pk": O("run")},
        group="datahub",
        get=False,
        writes=True,
    ),
    E("datahub_progress", scoped("datahub.import", "run"), {"pk": O("run")}, group="datahub"),
    E(
        "datahub_problems_export",
        scoped("datahub.import", "run"),
        {"pk": O("run"), "fmt": CSV},
        group="datahub",
    ),
    # ---- Open311 (public by the standard; writes need an integration key)
    E("open311:discovery", PUBLIC, {"fmt": "json"}, group="Open311", login_required=False),
    E("open311:services", PUBLIC, {"fmt": "json"}, group="Open311", login_required=False),
    E(
        "open311:service_definition",
        PUBLIC,
        {"service_code": "0101", "fmt": "json"},
        group="Open311",
        login_required=False,
    ),
    E(
        "open311:requests",
        PUBLIC,
        {"fmt": "json"},
        group="Open311",
        login_required=False,
        writes=True,
        post_rule=NOBODY,
        why="a request is submitted with an integration key (api_key); a session is not one",
    ),
    E(
        "open311:request",
        PUBLIC,
        {"service_request_id": O("open311_case"), "fmt": "json"},
        group="Open311",
        login_required=False,
    ),
    E(
        "open311:token",
        PUBLIC,
        {"token": "no-such-token", "fmt": "json"},
        group="Open311",
        login_required=False,
        exceptions={"*": DENY},
        why="an unknown token is a 404",
    ),
    E(
        "open311:servicerequestupdates",
        PUBLIC,
        {"fmt": "json"},
        group="Open311",
        login_required=False,
    ),
    E("open311:photo", PUBLIC, {"pk": O("open311_photo")}, group="Open311", login_required=False),
    E("open311:openapi", PUBLIC, group="Open311", login_required=False),
    E("open311:?", NOBODY, group="Open311", login_required=False),
]

# --------------------------------------------------------------------------- REST API
# By operationId (without the "civicgrid_api_rest_" prefix); the same session clients, so an
# anonymous caller gets 401.
API_ENTRIES: list[E] = [
    api("account_me", LOGIN_ONLY),
    api("account_tokens", LOGIN_ONLY),
    api("account_create_token", LOGIN_ONLY, writes=True),
    api(
        "account_revoke_token",
        NOBODY,
        kwargs={"token_id": O("token")},
        writes=True,
        exceptions={"grid1:A": ALLOW, "grid2:B": ALLOW},
        why="one's own tokens only (A is grid1's, B grid2's); 404 for anyone else, admin too",
    ),
    api("cases_list_cases", LOGIN_ONLY, lists="dcase"),
    api("cases_report_case", perm("cases.report"), writes=True),
    api(
        "cases_receipt",
        NOBODY,
        kwargs={"receipt": "0" * 32},
        why="a queued report's receipt: only the token or key that sent it (sessions: 404)",
    ),
    api("cases_my_tasks", LOGIN_ONLY, lists="dcase", lists_positive=False),
    api("cases_case_detail", scoped("cases.view", "case"), kwargs={"code": case}),
    api("cases_case_timeline", scoped("cases.view", "case"), kwargs={"code": case}),
    api("cases_case_duplicates", scoped("cases.view", "case"), kwargs={"code": case}),
    api(
        "cases_case_attachment",
        scoped("cases.view", "case"),
        kwargs={"code": case, "attachment_id": O("attachment")},
    ),
    *[
        api(f"cases_{op}", scoped("cases.view", "dcase"), kwargs={"code": dcase}, writes=True)
        for op in (
            "classify",
            "locate",
            "accept",
            "reject",
            "merge",
            "escalate",
            "assign_down",
            "dispatch",
            "sign",
            "request_return",
            "decide_return",
            "handle",
            "feedback",
            "verify",
            "self_close",
            "request_extension",
            "suspend",
            "resume",
            "file_case",
            "evaluate",
            "review",
            "supervise",
            "instruct",
            "hard_case",
            "joint_meeting",
        )
    ],
    api(
        "cases_decide_extension",
        scoped("cases.view", "dcase"),
        kwargs={"code": dcase, "extension_id": 999999},
        writes=True,
    ),
    api(
        "cases_answer_supervision",
        scoped("cases.view", "dcase"),
        kwargs={"code": dcase, "supervision_id": O("supervision")},
        writes=True,
    ),
    api("cases_plan_joint_operation", perm("cases.handle"), writes=True),
    api(
        "cases_joint_operation_result",
        LOGIN_ONLY,
        kwargs={"operation_id": O("operation")},
        writes=True,
    ),
    api("places_categories", LOGIN_ONLY),
    api("places_category", LOGIN_ONLY, kwargs={"code": "0101"}),
    api("places_regions", LOGIN_ONLY),
    api("places_region", scoped("regions.view", "town"), kwargs={"code": O("town")}),
    api("places_grids", LOGIN_ONLY, lists="grid", lists_positive=False),
    api("places_grid", scoped("regions.view", "grid"), kwargs={"code": O("grid")}),
    api("places_departments", LOGIN_ONLY),
]

# Schema and docs of the API: public by design (no data).
API_OPEN = {"api-1.0.0:openapi-json", "api-1.0.0:openapi-view", "api-1.0.0:api-root"}


def all_entries() -> list[E]:
    return ENTRIES + API_ENTRIES
