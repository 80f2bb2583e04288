"""Random action sequences on cases, checked against a small model (hypothesis stateful).

Each rule picks a case the action suits and the actor who should be allowed (the owning
unit's user for its level, the lead department's user, the reporter, the county centre),
predicts the outcome — including the guards that live in the actions (levels, photos,
forced dispatch, extension limits) — and checks it. Other rules try a wrong actor, a wrong
state or a stale form and check that nothing changed. After every step the invariants are
checked on every case of the run. Each example runs inside a savepoint rolled back in
``teardown``, so examples never see each other's cases.

Two application bugs this machine found (merge wrote no audit event on the target; a
supervision could be answered after the case closed) are fixed and pinned by the tests at the
end of the file.
"""

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from civicgrid.cases import actions as A
from civicgrid.cases.models import (
    LEVEL_CODE_LENGTH,
    LEVEL_ORDER,
    Assignment,
    Attachment,
    Case,
    CaseAction,
    CaseReporter,
    ExtensionRequest,
    Notification,
    Supervision,
)
from civicgrid.cases.selectors import suggested_departments
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.cases.workflow import (
    CLOSED_STATES,
    OPEN_STATES,
    SIDE_ACTIONS,
    TRANSITIONS,
    InvalidTransition,
    allowed_actions,
)
from civicgrid.core.calendar import default_calendar
from civicgrid.core.models import AuditEvent
from civicgrid.core.scoping import scope_for
from civicgrid.people.models import Department

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

MAX_CASES = 6
MAX_OPEN_CASES = 3
# Who may take each table action ("owner", "lead", "handler", "reporter_or_owner", "county").
ACTION_KIND = {action: step.actor for (_state, action), step in TRANSITIONS.items()}
# The actions the machine knows how to call (``_call``: wrong actor / wrong state / stale).
GENERIC_ACTIONS = """
    classify locate accept reject merge dispatch handle self_close escalate assign_down suspend
    resume file sign request_return approve_return reject_return feedback request_extension
    decide_extension verify_pass verify_fail evaluate reopen refer_review review_archive
    review_reopen supervise answer_supervision instruct
""".split()
# Actions that take ``expected_version`` (all the table's but these).
UNVERSIONED = {"merge", "request_extension", "decide_extension"}
VERSIONED = (set(ACTION_KIND) & set(GENERIC_ACTIONS)) - UNVERSIONED
CASE_FIELDS = (
    "state",
    "version",
    "level",
    "unit_code",
    "region_code",
    "resolve_deadline",
    "closed_at",
    "reopen_count",
    "rework_count",
    "escalation_count",
    "extension_days",
    "supervised",
    "satisfaction",
    "merged_into_id",
    "category_id",
)
SHOULD_REPORT = [
    # (channel, reporter username or None for anonymous, grid index)
    ("grid_worker", "grid1", 0),
    ("grid_worker", "grid2", 1),
    ("grid_worker", "grid1", 1),  # outside the worker's own grid: goes to the township
    ("resident", None, 0),
    ("resident", None, 1),
    ("co_governance", "grid1", 0),
    ("co_governance", "grid2", 1),
    ("department", "police", 0),
]
OWN_GRID = {"grid1": 0, "grid2": 1}
TALLY: Counter = Counter()  # what the run exercised; printed with ``-s``
# Each step rule: the states (and an extra condition) a case must be in for it.
WHERE = {
    "classify": ({"reported"}, None),
    "locate": ({"reported", "accepted"}, None),
    "accept": ({"reported"}, None),
    "reject": ({"reported"}, None),
    "merge": ({"reported", "accepted"}, None),
    "dispatch": ({"accepted"}, None),
    "handle": ({"accepted"}, None),
    "self_close": ({"accepted"}, None),
    "escalate": ({"accepted", "in_progress"}, None),
    "assign_down": ({"accepted"}, None),
    "suspend": ({"accepted"}, None),
    "resume": ({"suspended"}, None),
    "file": ({"accepted"}, None),
    "sign": ({"dispatched"}, None),
    "request_return": ({"dispatched"}, None),
    "decide_return": ({"return_requested"}, None),
    "feedback": ({"in_progress"}, None),
    "request_extension": ({"in_progress"}, None),
    "decide_extension": ({"in_progress"}, lambda m: m.extensions),
    "verify": ({"feedback"}, None),
    "evaluate": ({"closed"}, None),
    "review": ({"review"}, None),
    "supervise": (OPEN_STATES, None),
    "answer_supervision": (OPEN_STATES, lambda m: m.supervisions),
    "instruct": (OPEN_STATES, None),
}
# The steps that move a case along the loop, for ``advance`` (random rule choice alone
# rarely gets a case through two evaluations to the centre's review in 25 steps).
FORWARD = {
    "reported": ["accept"],
    "accepted": ["handle", "dispatch", "self_close", "escalate"],
    "dispatched": ["sign", "request_return"],
    "return_requested": ["decide_return"],
    "in_progress": ["feedback"],
    "feedback": ["verify"],
    "closed": ["evaluate"],
    "review": ["review"],
    "suspended": ["resume"],
}


def _step_rule(name):
    """A rule taking the step ``name`` on a case in the right state (``do_<name>``)."""
    states, extra = WHERE[name]

    def step(self, data):
        getattr(self, f"do_{name}")(data, self._pick(data, states, extra))

    step.__name__ = step.__qualname__ = name  # before decorating: hypothesis prints it
    return precondition(lambda self: self._pks(states, extra))(rule(data=st.data())(step))


@dataclass
class Model:
    """What the test expects of one case."""

    pk: int
    region: str
    level: str
    unit: str
    state: str = "reported"
    version: int = 1
    category: bool = False
    reporters: set = field(default_factory=set)
    lead: int | None = None  # department pk of the active lead assignment
    forced: bool = False
    reopen_count: int = 0
    review_reopened: bool = False
    rework_count: int = 0
    escalation_count: int = 0
    extension_days: int = 0
    pending_extension: int | None = None
    extensions: list = field(default_factory=list)
    supervisions: dict = field(default_factory=dict)  # pk -> answered
    supervised: int = 0
    satisfaction: str = ""
    deadline: datetime | None = None  # the last resolve_deadline seen


class Context:
    """Users, places and departments the machine needs; made before any savepoint."""

    def __init__(self, world):
        p = world.p
        self.category = world.category
        self.grids = [world.grid, world.other_grid]
        self.points = [world.point(g) for g in self.grids]
        self.photos = [jpeg("red"), jpeg("green")]
        names = ["grid1", "grid2", "lizhou", "fengshan", "county", "leader", "police"]
        self.users = {name: getattr(p, name) for name in [*names, "auditor", "outsider"]}
        self.users["village1"] = world.village_user()
        self.users["village2"] = world.staff(
            "village_staff", username="village2", region=world.other_grid.village
        )
        towns = {g.code[:9] for g in self.grids}
        county = world.grid.code[:6]
        self.departments = list(
            Department.objects.filter(
                kind__in=self.category.department_kinds, region__code__in=[county, *towns]
            ).order_by("code")
        )
        self.department_users = {}
        for department in self.departments:
            if department.code == f"{county}-public_security":
                name = "police"
            else:
                name = f"prop-{department.code}"
                self.users[name] = world.staff("dept_handler", username=name, department=department)
            self.department_users[department.pk] = name
        self.owners = {("county", county): {"county", "leader"}}
        for grid, worker, village in zip(
            self.grids, ["grid1", "grid2"], ["village1", "village2"], strict=True
        ):
            self.owners[("grid", grid.code)] = {worker}
            self.owners[("village", grid.code[:12])] = {village}
        self.owners[("town", world.grid.code[:9])] = {"lizhou"}
        self.owners[("town", world.other_grid.code[:9])] = {"fengshan"}
        self.town_supervisor = {
            world.grid.code[:9]: "lizhou",
            world.other_grid.code[:9]: "fengshan",
        }
        self.reviewers = {"county", "leader"}
        self.instructors = {"leader"}
        for user in self.users.values():  # read every scope once, outside the savepoints
            scope_for(user)


class CaseMachine(RuleBasedStateMachine):
    ctx: Context = None  # set by the test before the run

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.models: dict[int, Model] = {}
        self.keys: dict[tuple, int] = {}  # (reporter, idempotency key) -> case pk

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # ------------------------------------------------------------------ helpers

    def _pks(self, states, extra=None):
        return sorted(
            pk for pk, m in self.models.items() if m.state in states and (extra is None or extra(m))
        )

    def _pick(self, data, states, extra=None) -> Model:
        return self.models[data.draw(st.sampled_from(self._pks(states, extra)), label="case")]

    def _who(self, data, names):
        name = data.draw(st.sampled_from(sorted(names)), label="actor")
        return name, self.ctx.users[name]

    def _case(self, m) -> Case:
        return Case.objects.get(pk=m.pk)

    def _owners(self, m):
        return self.ctx.owners[(m.level, m.unit)]

    def _leads(self, m):
        return {self.ctx.department_users[m.lead]} if m.lead else set()

    def _handlers(self, m):
        return self._leads(m) if m.lead else self._owners(m)

    def _supervisors(self, m):
        return {self.ctx.town_supervisor[m.region[:9]], "county", "leader"}

    def _allowed(self, action, m):
        """Who should be allowed to take ``action`` on the case as it is now."""
        kind = {
            "supervise": "supervisor",
            "instruct": "instructor",
            "answer_supervision": "handler",
        }.get(action) or ACTION_KIND[action]
        return {
            "owner": self._owners,
            "lead": self._leads,
            "handler": self._handlers,
            "reporter_or_owner": lambda m: m.reporters | self._owners(m),
            "county": lambda m: self.ctx.reviewers,
            "supervisor": self._supervisors,
            "instructor": lambda m: self.ctx.instructors,
        }[kind](m)

    def _merge_targets(self, m):
        return [pk for pk in self._pks(OPEN_STATES) if pk != m.pk]

    def _snapshot(self, pk):
        """Everything an action may write about one case."""
        return (
            Case.objects.filter(pk=pk).values(*CASE_FIELDS).get(),
            CaseAction.objects.filter(case_id=pk).count(),
            AuditEvent.objects.filter(target_type="cases.case", target_id=str(pk)).count(),
            list(
                Assignment.objects.filter(case_id=pk)
                .order_by("pk")
                .values_list("department_id", "role", "state", "active", "forced")
            ),
            list(ExtensionRequest.objects.filter(case_id=pk).order_by("pk").values_list("state")),
            list(Supervision.objects.filter(case_id=pk).order_by("pk").values_list("answered_at")),
            Attachment.objects.filter(case_id=pk).count(),
            Notification.objects.filter(case_id=pk).count(),
            CaseReporter.objects.filter(case_id=pk).count(),
        )

    def _refused(self, exc, fn, *models, label):
        """``fn`` raises ``exc`` and changes nothing on the cases (and makes no case)."""
        before = [self._snapshot(m.pk) for m in models], Case.objects.count()
        with pytest.raises(exc):
            fn()
        assert ([self._snapshot(m.pk) for m in models], Case.objects.count()) == before
        TALLY[f"refused {exc.__name__}: {label}"] += 1

    def _done(self, m, action, from_state, case=None):
        m.version += 1
        TALLY[f"{from_state} --{action}--> {m.state}"] += 1
        if case is not None:
            assert case.state == m.state, (action, case.state, m.state)

    def _call(self, action, m, actor, version=None):
        """Take ``action`` with valid arguments (so only the state or the actor can fail)."""
        ctx, case = self.ctx, self._case(m)
        kw = {} if version is None else {"expected_version": version}
        if action == "classify":
            return A.do_classify_case(case, actor=actor, category=ctx.category, **kw)
        if action == "locate":
            return A.do_locate_case(case, actor=actor, grid=ctx.grids[0], **kw)
        if action == "accept":
            return A.do_accept_case(case, actor=actor, category=ctx.category, **kw)
        if action == "reject":
            return A.do_reject_case(case, actor=actor, reason="不属实", **kw)
        if action == "merge":
            target = Case.objects.get(pk=self._merge_targets(m)[0])
            return A.do_merge_case(case, into=target, actor=actor)
        if action == "dispatch":
            lead = (suggested_departments(case) or ctx.departments)[0]
            return A.do_dispatch_case(case, actor=actor, lead=lead, **kw)
        if action == "handle":
            return A.do_handle_case(case, actor=actor, **kw)
        if action == "self_close":
            before, after = ctx.photos
            return A.do_self_close_case(
                case, actor=actor, text="已清理", before_photos=[before], after_photos=[after], **kw
            )
        if action == "escalate":
            return A.do_escalate_case(case, actor=actor, reason="需上级协调", **kw)
        if action == "assign_down":
            return A.do_assign_case_down(case, actor=actor, unit_code=case.region_code, **kw)
        if action == "suspend":
            return A.do_suspend_case(case, actor=actor, reason="等待判决", **kw)
        if action == "resume":
            return A.do_resume_case(case, actor=actor, **kw)
        if action == "file":
            return A.do_file_case(case, actor=actor, reason="已自行解决", **kw)
        if action == "sign":
            return A.do_sign_case(case, actor=actor, **kw)
        if action == "request_return":
            return A.do_request_return(case, actor=actor, reason="not_our_duty", **kw)
        if action in {"approve_return", "reject_return"}:
            return A.do_decide_return(
                case, actor=actor, approve=action == "approve_return", text="x", **kw
            )
        if action == "feedback":
            return A.do_feedback_case(case, actor=actor, text="已处理", **kw)
        if action == "request_extension":
            return A.do_request_extension(case, actor=actor, days=1, reason="需要协调")
        if action == "decide_extension":
            request = ExtensionRequest.objects.filter(case_id=m.pk).latest("pk")
            return A.do_decide_extension(request, actor=actor, approve=True)
        if action in {"verify_pass", "verify_fail"}:
            return A.do_verify_case(
                case, actor=actor, passed=action == "verify_pass", text="复核", **kw
            )
        if action in {"evaluate", "reopen", "refer_review"}:
            satisfaction = "satisfied" if action == "evaluate" else "unsatisfied"
            return A.do_evaluate_case(case, actor=actor, satisfaction=satisfaction, **kw)
        if action in {"review_archive", "review_reopen"}:
            return A.do_review_case(
                case, actor=actor, reopen=action == "review_reopen", text="复查", **kw
            )
        if action == "supervise":
            return A.do_supervise_case(case, actor=actor, level=1, reason="进展慢")
        if action == "answer_supervision":
            supervision = Supervision.objects.filter(case_id=m.pk).latest("pk")
            return A.do_answer_supervision(supervision, actor=actor, answer="已加快")
        if action == "instruct":
            return A.do_instruct_case(case, actor=actor, text="尽快处理")
        raise AssertionError(action)

    def _applicable(self, action, m):
        if action == "merge":
            return bool(self._merge_targets(m))
        if action == "decide_extension":
            return bool(m.extensions)
        if action == "answer_supervision":
            return bool(m.supervisions)
        return True

    # ------------------------------------------------------------------ intake

    @precondition(
        lambda self: (
            len(self.models) < MAX_CASES
            and len(self._pks(OPEN_STATES - {"suspended"})) < MAX_OPEN_CASES
        )
    )
    @rule(data=st.data())
    def report(self, data):
        ctx = self.ctx
        bad = data.draw(
            st.sampled_from([None] * 6 + ["outsider", "auditor", "anonymous", "no_category"]),
            label="refusal",
        )
        if bad:
            self._report_refused(bad)
            return
        channel, name, g = data.draw(st.sampled_from(SHOULD_REPORT), label="report")
        grid = ctx.grids[g]
        needs_category = channel in {"grid_worker", "department"}
        with_category = needs_category or data.draw(st.booleans(), label="category")
        key = data.draw(st.sampled_from([None, "k1", "k2"]), label="idempotency key")
        photos = [ctx.photos[0]] if data.draw(st.booleans(), label="photo") else []
        lat, lng = ctx.points[g]

        def call():
            return A.do_report_case(
                actor=ctx.users[name] if name else None,
                channel=channel,
                description="楼下有一辆僵尸车",
                category=ctx.category if with_category else None,
                lat=lat,
                lng=lng,
                photos=photos,
                idempotency_key=key,
                reporter_phone="13905741234" if name is None else "",
            )

        if key and (name, key) in self.keys:  # a retried submission: the first case returns
            first = self.models[self.keys[(name, key)]]
            before = self._snapshot(first.pk), Case.objects.count()
            assert call().pk == first.pk
            assert (self._snapshot(first.pk), Case.objects.count()) == before
            TALLY["report retried (idempotent)"] += 1
            return
        case = call()
        if channel == "grid_worker" and OWN_GRID.get(name) == g:
            level, unit = "grid", grid.code
        else:
            level, unit = "town", grid.code[:9]
        assert (case.state, case.level, case.unit_code, case.region_code) == (
            "reported",
            level,
            unit,
            grid.code,
        )
        m = Model(pk=case.pk, region=grid.code, level=level, unit=unit)
        m.category = with_category
        m.reporters = {name} if name else set()
        self.models[case.pk] = m
        if key:
            self.keys[(name, key)] = case.pk
        TALLY[f"report {channel} -> {level}"] += 1

    def _report_refused(self, bad):
        ctx = self.ctx
        lat, lng = ctx.points[0]
        args = dict(channel="co_governance", description="x", lat=lat, lng=lng)
        if bad in {"outsider", "auditor"}:
            actor, exc = ctx.users[bad], PermissionDenied
        elif bad == "anonymous":
            actor, exc = None, PermissionDenied
            args.update(channel="grid_worker", category=ctx.category)
        else:
            actor, exc = ctx.users["grid1"], ValidationError
            args.update(channel="grid_worker")
        counts = Case.objects.count(), CaseAction.objects.count(), AuditEvent.objects.count()
        with pytest.raises(exc):
            A.do_report_case(actor=actor, **args)
        assert (Case.objects.count(), CaseAction.objects.count(), AuditEvent.objects.count()) == (
            counts
        )
        TALLY[f"refused report: {bad}"] += 1

    def do_classify(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        case = A.do_classify_case(self._case(m), actor=actor, category=self.ctx.category)
        m.category = True
        self._done(m, "classify", "reported", case)

    def do_locate(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        grid = data.draw(st.sampled_from(self.ctx.grids), label="grid")

        def call():
            return A.do_locate_case(self._case(m), actor=actor, grid=grid)

        if not grid.code.startswith(m.unit):
            self._refused(ValidationError, call, m, label="locate outside the owning unit")
            return
        from_state = m.state
        case = call()
        assert (case.region_code, case.grid_id) == (grid.code, grid.pk)
        m.region = grid.code
        self._done(m, "locate", from_state, case)

    def do_accept(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        give = not data.draw(st.booleans(), label="without category")
        category = self.ctx.category if give else None
        if not (m.category or give):
            self._refused(
                ValidationError,
                lambda: A.do_accept_case(self._case(m), actor=actor),
                m,
                label="accept without category",
            )
            return
        case = A.do_accept_case(self._case(m), actor=actor, category=category)
        assert case.resolve_deadline is not None and case.accepted_at is not None
        m.state, m.category = "accepted", True
        self._done(m, "accept", "reported", case)

    def do_reject(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        if data.draw(st.booleans(), label="without reason"):
            self._refused(
                ValidationError,
                lambda: A.do_reject_case(self._case(m), actor=actor, reason=" "),
                m,
                label="reject without reason",
            )
            return
        case = A.do_reject_case(self._case(m), actor=actor, reason="不属于受理范围")
        m.state = "rejected"
        self._done(m, "reject", "reported", case)

    def do_merge(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        target = self.models[data.draw(st.sampled_from(sorted(self.models)), label="into")]

        def call():
            return A.do_merge_case(self._case(m), into=self._case(target), actor=actor)

        if target.pk == m.pk or target.state not in OPEN_STATES:
            self._refused(ValidationError, call, m, target, label="merge into closed/itself")
            return
        if _name not in self._owners(target):
            self._refused(PermissionDenied, call, m, target, label="merge into another unit's case")
            return
        from_state = m.state
        call()
        m.state = "merged"
        target.reporters |= m.reporters
        target.version += 1  # the surviving case records the merge as a step of its own
        m.reporters = set()
        self._done(m, "merge", from_state)

    # ------------------------------------------------------------------ owner, accepted

    def do_dispatch(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        case = self._case(m)
        suggested = suggested_departments(case)
        assert suggested, "a classified case always has departments to suggest"
        places = {m.region[:6]} if m.level == "county" else {m.region[:6], m.region[:9]}
        assert {d.region.code for d in suggested} <= places
        lead = data.draw(st.sampled_from(suggested), label="lead")
        assisting = [d for d in suggested if d != lead]
        case = A.do_dispatch_case(case, actor=actor, lead=lead, assisting=assisting)
        m.state, m.lead, m.forced = "dispatched", lead.pk, False
        self._done(m, "dispatch", "accepted", case)

    def do_handle(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        case = A.do_handle_case(self._case(m), actor=actor, text="本级自办")
        m.state, m.lead, m.forced = "in_progress", None, False
        self._done(m, "handle", "accepted", case)

    def do_self_close(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        before, after = self.ctx.photos
        missing = data.draw(st.sampled_from([None, None, None, "before", "after"]), label="gap")

        def call():
            return A.do_self_close_case(
                self._case(m),
                actor=actor,
                text="现场已处置",
                before_photos=[] if missing == "before" else [before],
                after_photos=[] if missing == "after" else [after],
            )

        if missing:
            self._refused(ValidationError, call, m, label="self_close without photos")
        elif m.level not in {"grid", "village"}:
            self._refused(PermissionDenied, call, m, label=f"self_close at {m.level}")
        else:
            case = call()
            row = case.actions.filter(action="self_close").latest("created", "id")
            assert sorted(row.attachments.values_list("kind", flat=True)) == ["after", "before"]
            m.state = "closed"
            self._done(m, "self_close", "accepted", case)

    def do_escalate(self, data, m):
        _name, actor = self._who(data, self._owners(m))

        def call():
            return A.do_escalate_case(self._case(m), actor=actor, reason="需上级协调")

        if m.level == "county":
            self._refused(PermissionDenied, call, m, label="escalate at the top")
        elif m.state == "in_progress" and m.lead:
            self._refused(PermissionDenied, call, m, label="escalate while a department has it")
        else:
            from_state = m.state
            case = call()
            m.level = LEVEL_ORDER[LEVEL_ORDER.index(m.level) + 1]
            m.unit = m.region[: LEVEL_CODE_LENGTH[m.level]]
            m.state = "accepted"
            m.escalation_count += 1
            self._done(m, "escalate", from_state, case)

    def do_assign_down(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        position = LEVEL_ORDER.index(m.level)
        lower = [m.region[: LEVEL_CODE_LENGTH[level]] for level in LEVEL_ORDER[:position]]
        other_town = next(g.code[:9] for g in self.ctx.grids if g.code[:9] != m.region[:9])
        unit_code = data.draw(
            st.sampled_from([*lower, *lower, m.unit, other_town, other_town + "001", "33028"]),
            label="unit",
        )
        now = timezone.now()
        deadline = data.draw(
            st.sampled_from([None, now + timedelta(days=60), now - timedelta(days=1)]),
            label="deadline",
        )

        def call():
            return A.do_assign_case_down(
                self._case(m), actor=actor, unit_code=unit_code, text="请办理", deadline=deadline
            )

        if unit_code not in lower:
            self._refused(ValidationError, call, m, label="assign down elsewhere")
            return
        case = call()
        if deadline is not None:
            assert case.resolve_deadline >= deadline
        m.level = next(lv for lv, n in LEVEL_CODE_LENGTH.items() if n == len(unit_code))
        m.unit = unit_code
        self._done(m, "assign_down", "accepted", case)

    def do_suspend(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        case = A.do_suspend_case(self._case(m), actor=actor, reason="等待法院判决")
        m.state = "suspended"
        self._done(m, "suspend", "accepted", case)

    def do_resume(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        case = A.do_resume_case(self._case(m), actor=actor)
        m.state = "accepted"
        self._done(m, "resume", "suspended", case)

    def do_file(self, data, m):
        _name, actor = self._who(data, self._owners(m))
        case = A.do_file_case(self._case(m), actor=actor, reason="已自行解决")
        m.state = "filed"
        self._done(m, "file", "accepted", case)

    # ------------------------------------------------------------------ departments

    def do_sign(self, data, m):
        _name, actor = self._who(data, self._leads(m))
        case = A.do_sign_case(self._case(m), actor=actor)
        m.state = "in_progress"
        self._done(m, "sign", "dispatched", case)

    def do_request_return(self, data, m):
        _name, actor = self._who(data, self._leads(m))
        reason = data.draw(st.sampled_from([*sorted(A.RETURN_REASONS), "busy"]), label="reason")

        def call():
            return A.do_request_return(self._case(m), actor=actor, reason=reason, text="非本单位")

        if reason == "busy":
            self._refused(ValidationError, call, m, label="return with an unknown reason")
        elif m.forced:
            self._refused(PermissionDenied, call, m, label="return after a forced dispatch")
        else:
            case = call()
            m.state = "return_requested"
            self._done(m, "request_return", "dispatched", case)

    def do_decide_return(self, data, m):
        approve = data.draw(st.booleans(), label="approve")
        _name, actor = self._who(data, self._owners(m))
        case = A.do_decide_return(self._case(m), actor=actor, approve=approve, text="决定")
        if approve:
            m.state, m.lead, m.forced = "accepted", None, False
        else:
            m.state, m.forced = "dispatched", True
        self._done(m, "approve_return" if approve else "reject_return", "return_requested", case)

    # ------------------------------------------------------------------ handling

    def do_feedback(self, data, m):
        _name, actor = self._who(data, self._handlers(m))
        text = data.draw(st.sampled_from(["已处理完毕", "已处理完毕", " "]), label="text")
        photos = [self.ctx.photos[1]] if data.draw(st.booleans(), label="photo") else []

        def call():
            return A.do_feedback_case(self._case(m), actor=actor, text=text, photos=photos)

        if not text.strip():
            self._refused(ValidationError, call, m, label="feedback without text")
            return
        case = call()
        m.state = "feedback"
        self._done(m, "feedback", "in_progress", case)

    def do_request_extension(self, data, m):
        days = data.draw(st.integers(min_value=1, max_value=12), label="days")
        _name, actor = self._who(data, self._handlers(m))

        def call():
            return A.do_request_extension(self._case(m), actor=actor, days=days, reason="需协调")

        if m.pending_extension is not None:
            self._refused(ValidationError, call, m, label="second pending extension")
        elif m.extension_days + days > A.MAX_EXTENSION_DAYS:
            self._refused(ValidationError, call, m, label="extension over the limit")
        else:
            request = call()
            m.pending_extension = request.pk
            m.extensions.append(request.pk)
            self._done(m, "request_extension", "in_progress")

    def do_decide_extension(self, data, m):
        approve = data.draw(st.booleans(), label="approve")
        _name, actor = self._who(data, self._owners(m))
        pk = data.draw(st.sampled_from(m.extensions), label="request")
        request = ExtensionRequest.objects.get(pk=pk)

        def call():
            return A.do_decide_extension(request, actor=actor, approve=approve, text="同意")

        if request.pk != m.pending_extension:
            self._refused(ValidationError, call, m, label="decide an extension twice")
            return
        old = self._case(m).resolve_deadline
        call()
        m.pending_extension = None
        new = self._case(m).resolve_deadline
        if approve:
            # n more working days after the old deadline's day (whether that day counts as
            # the day of receipt is the action's choice): a later close of business.
            calendar, n = default_calendar(), request.days
            assert old < new == calendar.add_working_days(new - timedelta(microseconds=1), 0)
            lower = calendar.add_working_days(old - timedelta(microseconds=1), n)
            assert lower <= new <= calendar.add_working_days(old, n), (old, n, new)
            m.extension_days += n
        else:
            assert new == old
        self._done(m, "decide_extension", "in_progress")

    def do_verify(self, data, m):
        passed = not data.draw(st.booleans(), label="fails")
        _name, actor = self._who(data, self._owners(m))
        text = data.draw(st.sampled_from(["还有问题", ""]), label="text")

        def call():
            return A.do_verify_case(self._case(m), actor=actor, passed=passed, text=text)

        if not passed and not text:
            self._refused(ValidationError, call, m, label="verify_fail without text")
            return
        case = call()
        if passed:
            m.state = "closed"
        else:
            m.state = "in_progress"
            m.rework_count += 1
        self._done(m, "verify_pass" if passed else "verify_fail", "feedback", case)

    # ------------------------------------------------------------------ evaluation

    def do_evaluate(self, data, m):
        _name, actor = self._who(data, m.reporters | self._owners(m))
        satisfaction = data.draw(
            st.sampled_from(["unsatisfied", *A.SATISFACTION, "meh"]), label="satisfaction"
        )

        def call():
            return A.do_evaluate_case(self._case(m), actor=actor, satisfaction=satisfaction)

        if satisfaction == "meh":
            self._refused(ValidationError, call, m, label="unknown satisfaction")
            return
        case = call()
        m.satisfaction = satisfaction
        if satisfaction != "unsatisfied":
            m.state, action = "archived", "evaluate"
        elif m.reopen_count == 0:
            m.state, action = "accepted", "reopen"
            m.reopen_count += 1
            m.lead = None  # a reopened case is dispatched afresh
        else:
            m.state, action = "review", "refer_review"
        self._done(m, action, "closed", case)

    def do_review(self, data, m):
        reopen = data.draw(st.booleans(), label="reopen")
        _name, actor = self._who(data, self.ctx.reviewers)
        text = data.draw(st.sampled_from(["复查结论", " "]), label="text")

        def call():
            return A.do_review_case(self._case(m), actor=actor, reopen=reopen, text=text)

        if not text.strip():
            self._refused(ValidationError, call, m, label="review without conclusion")
            return
        case = call()
        m.state = "accepted" if reopen else "archived"
        m.review_reopened |= reopen
        if reopen:
            m.lead = None
        self._done(m, "review_reopen" if reopen else "review_archive", "review", case)

    # ------------------------------------------------------------------ side actions

    def do_supervise(self, data, m):
        level = data.draw(st.sampled_from([1, 2, 3, 3, 9]), label="level")
        _name, actor = self._who(data, self._supervisors(m))

        def call():
            return A.do_supervise_case(self._case(m), actor=actor, level=level, reason="进展慢")

        if level == 9:
            self._refused(ValidationError, call, m, label="unknown supervision level")
            return
        supervision = call()
        m.supervisions[supervision.pk] = False
        m.supervised = max(m.supervised, level)
        self._done(m, "supervise", m.state)

    def do_answer_supervision(self, data, m):
        _name, actor = self._who(data, self._handlers(m))
        pk = data.draw(st.sampled_from(sorted(m.supervisions)), label="supervision")

        def call():
            supervision = Supervision.objects.get(pk=pk)
            return A.do_answer_supervision(supervision, actor=actor, answer="已加快办理")

        if m.supervisions[pk]:
            self._refused(ValidationError, call, m, label="answer a supervision twice")
            return
        call()
        m.supervisions[pk] = True
        self._done(m, "answer_supervision", m.state)

    def do_instruct(self, data, m):
        _name, actor = self._who(data, self.ctx.instructors)
        A.do_instruct_case(self._case(m), actor=actor, text="请尽快办结")
        self._done(m, "instruct", m.state)

    # ------------------------------------------------------------------ step rules

    classify = _step_rule("classify")
    locate = _step_rule("locate")
    accept = _step_rule("accept")
    reject = _step_rule("reject")
    merge = _step_rule("merge")
    dispatch = _step_rule("dispatch")
    handle = _step_rule("handle")
    self_close = _step_rule("self_close")
    escalate = _step_rule("escalate")
    assign_down = _step_rule("assign_down")
    suspend = _step_rule("suspend")
    resume = _step_rule("resume")
    file = _step_rule("file")
    sign = _step_rule("sign")
    request_return = _step_rule("request_return")
    decide_return = _step_rule("decide_return")
    feedback = _step_rule("feedback")
    request_extension = _step_rule("request_extension")
    decide_extension = _step_rule("decide_extension")
    verify = _step_rule("verify")
    evaluate = _step_rule("evaluate")
    review = _step_rule("review")
    supervise = _step_rule("supervise")
    answer_supervision = _step_rule("answer_supervision")
    instruct = _step_rule("instruct")

    @precondition(lambda self: self._pks(set(FORWARD)))
    @rule(data=st.data())
    def advance(self, data):
        """Move a case one step along the loop (the same steps as the rules above)."""
        m = self._pick(data, set(FORWARD))
        name = data.draw(st.sampled_from(FORWARD[m.state]), label="step")
        getattr(self, f"do_{name}")(data, m)

    # ------------------------------------------------------------------ refusals

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def wrong_actor(self, data):
        """Someone who is not the owner / lead / reporter / centre tries an allowed action."""
        m = self.models[data.draw(st.sampled_from(sorted(self.models)), label="case")]
        choices = [
            a for a in allowed_actions(m.state) if a in GENERIC_ACTIONS and self._applicable(a, m)
        ]
        if not choices:
            return
        action = data.draw(st.sampled_from(choices), label="action")
        wrong = set(self.ctx.users) - self._allowed(action, m)
        name, actor = self._who(data, wrong)
        self._refused(
            PermissionDenied, lambda: self._call(action, m, actor), m, label=f"{action} by {name}"
        )

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def wrong_state(self, data):
        """An action the table does not allow in the case's state, by a plausible actor."""
        m = self.models[data.draw(st.sampled_from(sorted(self.models)), label="case")]
        choices = [
            a
            for a in GENERIC_ACTIONS
            if a not in allowed_actions(m.state) and self._applicable(a, m)
        ]
        action = data.draw(st.sampled_from(choices), label="action")
        names = self._allowed(action, m) or set(self.ctx.department_users.values())
        _name, actor = self._who(data, names)
        self._refused(
            InvalidTransition,
            lambda: self._call(action, m, actor),
            m,
            label=f"{action} when {m.state}",
        )

    @precondition(lambda self: self._pks(OPEN_STATES | {"closed", "review"}))
    @rule(data=st.data())
    def stale_form(self, data):
        """The right actor submits a form made for an older version of the case."""
        m = self._pick(data, OPEN_STATES | {"closed", "review"})
        choices = [a for a in allowed_actions(m.state) if a in VERSIONED and self._allowed(a, m)]
        if not choices:
            return
        action = data.draw(st.sampled_from(choices), label="action")
        _name, actor = self._who(data, self._allowed(action, m))
        version = m.version - 1 if m.version > 1 else m.version + 1
        self._refused(
            A.CaseConflict,
            lambda: self._call(action, m, actor, version=version),
            m,
            label="stale form",
        )

    # ------------------------------------------------------------------ invariants

    @invariant()
    def invariants(self):
        if not self.models:
            return
        pks = sorted(self.models)
        cases = {c["pk"]: c for c in Case.objects.filter(pk__in=pks).values("pk", *CASE_FIELDS)}
        rows = defaultdict(list)
        for row in CaseAction.objects.filter(case_id__in=pks).order_by("created", "id"):
            rows[row.case_id].append(row)
        audits = defaultdict(Counter)
        for target_id, action in AuditEvent.objects.filter(
            target_type="cases.case", target_id__in=[str(pk) for pk in pks]
        ).values_list("target_id", "action"):
            audits[int(target_id)][action.removeprefix("cases.case.")] += 1
        leads = defaultdict(list)
        for case_id, department_id in Assignment.objects.filter(
            case_id__in=pks, role=Assignment.Role.LEAD, active=True
        ).values_list("case_id", "department_id"):
            leads[case_id].append(department_id)
        reporters = defaultdict(set)
        for case_id, username in CaseReporter.objects.filter(
            case_id__in=pks, user__isnull=False
        ).values_list("case_id", "user__username"):
            reporters[case_id].add(username)
        for pk in pks:
            self._check_case(self.models[pk], cases[pk], rows[pk], audits[pk], leads[pk])
            assert reporters[pk] == self.models[pk].reporters

    def _check_case(self, m, case, rows, audits, leads):
        # The database agrees with the model.
        seen = (
            case["state"],
            case["level"],
            case["unit_code"],
            case["version"],
            case["reopen_count"],
            case["rework_count"],
            case["escalation_count"],
            case["extension_days"],
            case["supervised"],
            case["satisfaction"],
        )
        assert seen == (
            m.state,
            m.level,
            m.unit,
            m.version,
            m.reopen_count,
            m.rework_count,
            m.escalation_count,
            m.extension_days,
            m.supervised,
            m.satisfaction,
        ), m
        # 1. The state is reachable: replaying the timeline through the table ends at it.
        assert rows and rows[0].action == "report"
        assert (rows[0].from_state, rows[0].to_state) == ("", "reported")
        state = "reported"
        for row in rows[1:]:
            assert row.from_state == state, (row, state)
            if row.action in SIDE_ACTIONS or (row.action == "merge" and "from" in row.data):
                assert state in OPEN_STATES, row  # side actions only while the case is open
                expected = state
            else:
                step = TRANSITIONS.get((state, row.action))
                assert step is not None, f"{row.action} is not possible from {state}"
                expected = step.next_state
            assert row.to_state == expected, row
            state = expected
        assert state == case["state"]
        # 2. Closed through verification: feedback, then verify_pass after the last feedback.
        if case["state"] in {"closed", "archived", "review"}:
            closing = [
                r.action for r in rows if r.action in {"feedback", "verify_pass", "self_close"}
            ]
            assert closing and closing[-1] in {"verify_pass", "self_close"}, closing
            if closing[-1] == "verify_pass":
                assert closing[-2:-1] == ["feedback"], closing
        assert (case["closed_at"] is not None) == (case["state"] in CLOSED_STATES)
        # 3. Exactly one owning unit, of the right length for its level, where the case is.
        assert case["level"] in LEVEL_CODE_LENGTH
        assert len(case["unit_code"]) == LEVEL_CODE_LENGTH[case["level"]]
        assert case["region_code"].startswith(case["unit_code"])
        # 4. The deadline never moves earlier (an approved extension only adds to it).
        deadline = case["resolve_deadline"]
        if m.deadline is not None:
            assert deadline is not None and deadline >= m.deadline, (deadline, m.deadline)
        if case["state"] not in {"reported", "rejected"} and not (
            case["state"] == "merged" and m.deadline is None
        ):
            assert deadline is not None
        m.deadline = deadline
        # 5. At most one active lead, the one the model expects; reopened once unless reviewed.
        assert len(leads) <= 1 and (leads[0] if leads else None) == m.lead, (leads, m.lead)
        assert case["reopen_count"] <= 1 or m.review_reopened
        # 6. One audit event per timeline row.
        timeline = Counter(r.action for r in rows)
        assert audits == +timeline, (audits, timeline)
        assert case["version"] == len(rows)


def test_random_action_sequences_keep_the_case_invariants(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CaseMachine.ctx = Context(world)
    TALLY.clear()
    try:
        run_state_machine_as_test(
            CaseMachine,
            settings=hypothesis.settings(
                max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 40)),
                stateful_step_count=int(os.environ.get("PROPERTY_STEPS", 40)),
                deadline=None,
                # CI replays one fixed exploration (reproducible); developers explore anew.
                derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ),
        )
    finally:
        CaseMachine.ctx = None
    for line, n in sorted(TALLY.items()):
        print(f"{n:5d}  {line}")


def test_the_machine_knows_every_action_of_the_table():
    """A new action in the table needs a rule (``do_<name>``) and a line in ``_call``."""
    assert set(ACTION_KIND) <= set(GENERIC_ACTIONS)


# ------------------------------------------------------------- bugs found, now fixed


def _report(world, user):
    lat, lng = world.point()
    return A.do_report_case(
        actor=user,
        channel="co_governance",
        category=world.category,
        description="僵尸车",
        lat=lat,
        lng=lng,
    )


def test_merge_records_an_audit_event_for_the_target_too(world):
    target, duplicate = _report(world, world.p.grid1), _report(world, world.p.grid1)
    A.do_merge_case(duplicate, into=target, actor=world.p.lizhou)
    rows = CaseAction.objects.filter(case=target).count()
    events = AuditEvent.objects.filter(target_type="cases.case", target_id=str(target.pk))
    assert events.count() == rows


def test_a_supervision_cannot_be_answered_once_the_case_is_closed(world):
    lizhou = world.p.lizhou
    case = A.do_accept_case(_report(world, world.p.grid1), actor=lizhou)
    supervision = A.do_supervise_case(case, actor=world.p.county, level=1, reason="进展慢")
    case = A.do_handle_case(case, actor=lizhou)
    case = A.do_feedback_case(case, actor=lizhou, text="已处理")
    case = A.do_verify_case(case, actor=lizhou, passed=True)
    case = A.do_evaluate_case(case, actor=lizhou, satisfaction="satisfied")
    assert case.state == "archived"
    with pytest.raises(InvalidTransition):  # the table allows side actions only while open
        A.do_answer_supervision(supervision, actor=lizhou, answer="迟到的答复")
