"""The world the access-control matrix runs in: personas and one object of each kind in
township A (梨洲 330281001) and township B (凤山 330281002), all made through the real
actions on the session's demo county.

Built once per test module inside an outer transaction (rolled back at the end); each test
runs in a savepoint on top of it, so a write a test makes never reaches the next test.
"""

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

TOWN_A = "330281001"  # 梨洲街道
TOWN_B = "330281002"  # 凤山街道

# Every persona of issue 12 item 1, in the order the tables show them.
PERSONAS = [
    "anonymous",  # no session at all
    "resident",  # no account: a phone proven by SMS code on the residents' page (/r/)
    "member",  # a co-governance member (流动网格员) of township A
    "outsider",  # an account with no role
    "grid1",  # grid worker, a grid of township A
    "grid2",  # grid worker, a grid of township B
    "village",  # village staff of grid1's village (township A)
    "lizhou",  # township operator of A
    "window",  # reception-hall clerk (接待窗口) of A's mediation centre
    "fengshan",  # township operator of B
    "police",  # 公安局 (county department) handler
    "market",  # 市场监管局 (county department) handler
    "county",  # county centre operator
    "leader",  # county centre leader
    "auditor",
    "admin",
]
ANONYMOUS = {"anonymous", "resident"}  # no Django user behind the request


@dataclass
class Obj:
    """One object a URL names: the value for the URL and where it lives."""

    value: object  # what goes into the URL (pk, code, …)
    region: str | None = None  # region / grid code it is scoped by (None: not regional)
    departments: tuple[int, ...] = ()  # departments it is dispatched / routed to
    marks: tuple[str, ...] = ()  # strings that identify it in a list, export, map or search
    instance: object = None


@dataclass
class World:
    users: dict = field(default_factory=dict)  # persona → User (None for anonymous ones)
    clients: dict = field(default_factory=dict)  # persona → logged-in Client
    objects: dict = field(default_factory=dict)  # kind → {"A": Obj, "B": Obj}
    tokens: dict = field(default_factory=dict)  # persona → personal API token secret
    missing: dict = field(default_factory=dict)  # kind → why it could not be built
    extra: dict = field(default_factory=dict)

    def obj(self, kind: str, side: str) -> Obj | None:
        return self.objects.get(kind, {}).get(side)


_serial = itertools.count(1)


def _jpeg(colour="red") -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _point(grid):
    from civicgrid.regions import geo

    shape = geo.geometry_from_geojson(grid.geometry)
    p = shape.representative_point()
    return p.y, p.x


def _user(username):
    return get_user_model().objects.get(username=username)


def _role_user(role, **filters):
    from civicgrid.people.models import RoleAssignment

    row = (
        RoleAssignment.objects.filter(role=role, active=True, person__user__isnull=False, **filters)
        .select_related("person__user")
        .order_by("id")
        .first()
    )
    assert row is not None, (role, filters)
    return row.person.user


def _grid_of(user):
    from civicgrid.people.models import RoleAssignment

    return RoleAssignment.objects.get(person__user=user).grid


def build_world() -> World:  # noqa: PLR0915 (one long recipe reads best top to bottom)
    from civicgrid.api.actions import do_create_api_key, do_create_personal_token
    from civicgrid.campaigns import actions as CP
    from civicgrid.cases import actions as CA
    from civicgrid.cases.models import Category
    from civicgrid.cogovernance.actions import do_propose_award, do_register_member
    from civicgrid.core.models import AuditEvent
    from civicgrid.incentives import actions as IN
    from civicgrid.inspection.actions import do_record_patrol, do_record_visit
    from civicgrid.mediation.actions import do_register_dispute, do_save_mediator, do_save_org
    from civicgrid.mediation.models import MediationOrg, Mediator
    from civicgrid.oncall.actions import do_post_staff, do_summon
    from civicgrid.open311.actions import do_submit_service_request
    from civicgrid.people.actions import do_create_person
    from civicgrid.people.models import Department, House
    from civicgrid.regions.models import Region

    w = World()
    u = w.users
    for name in ("admin", "county", "leader", "lizhou", "fengshan", "grid1", "grid2"):
        u[name] = _user(name)
    u["police"] = _user("police")
    u["window"] = _user("lizhou_window")
    u["auditor"] = _user("auditor")
    u["outsider"] = get_user_model().objects.create_user("matrix-outsider", password="x")
    grid_a, grid_b = _grid_of(u["grid1"]), _grid_of(u["grid2"])
    market_dept = Department.objects.get(code="330281-market_supervision")
    police_dept = Department.objects.get(code="330281-public_security")
    u["market"] = _role_user("dept_handler", department=market_dept)
    u["village"] = _role_user("village_staff", scope_code=grid_a.code[:12])
    admin, county = u["admin"], u["county"]
    category = Category.objects.get(code="0101")
    w.extra.update(grid_a=grid_a, grid_b=grid_b, category=category, police_dept=police_dept)

    # The co-governance member registers (phone proven by the caller, as the /join/ page does).
    n = next(_serial)
    member_a = do_register_member(
        name="矩阵甲",
        phone=f"1380575{n:04d}",
        kind="delivery",
        town=Region.objects.get(code=TOWN_A),
        grid=grid_a,
        platform="美团",
        username="matrix-member-a",
        password="Gongzhi-2026!",
    )
    member_b = do_register_member(
        name="矩阵乙",
        phone=f"1380576{n:04d}",
        kind="volunteer",
        town=Region.objects.get(code=TOWN_B),
        grid=grid_b,
        username="matrix-member-b",
        password="Gongzhi-2026!",
    )
    u["member"] = member_a.user
    w.objects["member"] = {
        "A": Obj(member_a.pk, grid_a.code, marks=("矩阵甲",), instance=member_a),
        "B": Obj(member_b.pk, grid_b.code, marks=("矩阵乙",), instance=member_b),
    }

    # Cases: a grid worker's report closed on the spot (photos → attachments), per township.
    def closed_case(worker, grid, text):
        lat, lng = _point(grid)
        case = CA.do_report_case(
            actor=worker,
            channel="grid_worker",
            category=category,
            description=text,
            lat=lat,
            lng=lng,
        )
        case = CA.do_accept_case(case, actor=worker)
        return CA.do_self_close_case(
            case, actor=worker, text="已清理", before_photos=[_jpeg()], after_photos=[_jpeg("blue")]
        )

    case_a = closed_case(u["grid1"], grid_a, "矩阵甲案 楼道堆放杂物")
    case_b = closed_case(u["grid2"], grid_b, "矩阵乙案 楼道堆放杂物")
    w.objects["case"] = {
        "A": Obj(case_a.code, case_a.region_code, marks=(case_a.code,), instance=case_a),
        "B": Obj(case_b.code, case_b.region_code, marks=(case_b.code,), instance=case_b),
    }
    w.objects["attachment"] = {
        s: Obj(c.attachments.order_by("id").first().pk, c.region_code, instance=c)
        for s, c in (("A", case_a), ("B", case_b))
    }

    # Open cases each township's command room dispatches to the county police: the police see
    # both, the market supervisors neither; supervised by the county, instructed by the leader.
    def open_case(room, grid, text):
        lat, lng = _point(grid)
        case = CA.do_report_case(
            actor=None,
            channel="resident",
            description=text,
            lat=lat,
            lng=lng,
            reporter_name="张三",
            reporter_phone="13905741234",
        )
        case = CA.do_accept_case(case, actor=room, category=category)
        case = CA.do_dispatch_case(case, actor=room, lead=police_dept)
        CA.do_supervise_case(case, actor=county, level=1, reason="请抓紧办理")
        CA.do_instruct_case(case, actor=u["leader"], text="务必按时办结")
        return case

    open_a = open_case(u["lizhou"], grid_a, "矩阵甲派单 路灯不亮")
    open_b = open_case(u["fengshan"], grid_b, "矩阵乙派单 路灯不亮")
    w.objects["dcase"] = {
        s: Obj(c.code, c.region_code, departments=(police_dept.pk,), marks=(c.code,), instance=c)
        for s, c in (("A", open_a), ("B", open_b))
    }
    w.objects["supervision"] = {
        s: Obj(c.supervisions.order_by("id").first().pk, c.region_code, (police_dept.pk,))
        for s, c in (("A", open_a), ("B", open_b))
    }
    w.objects["instruction"] = {
        s: Obj(c.instructions.order_by("id").first().pk, c.region_code, (police_dept.pk,))
        for s, c in (("A", open_a), ("B", open_b))
    }

    # Residents (people records) with a house in each grid.
    def resident(grid, name):
        house = House.objects.filter(grid=grid).order_by("code").first()
        return do_create_person(name=name, grid=grid, house=house, address="矩阵路1号", actor=admin)

    person_a, person_b = resident(grid_a, "矩阵居民甲"), resident(grid_b, "矩阵居民乙")
    w.objects["person"] = {
        "A": Obj(person_a.pk, person_a.region_code, instance=person_a),
        "B": Obj(person_b.pk, person_b.region_code, instance=person_b),
    }
    visit_a = do_record_visit(person_a, actor=u["grid1"], outcome="seen", photos=[_jpeg()])
    visit_b = do_record_visit(person_b, actor=u["grid2"], outcome="seen", photos=[_jpeg()])
    w.objects["visit"] = {
        "A": Obj(visit_a.pk, grid_a.code, instance=visit_a),
        "B": Obj(visit_b.pk, grid_b.code, instance=visit_b),
    }
    w.objects["visit_photo"] = {
        s: Obj(v.photos.order_by("id").first().pk, v.person.region_code)
        for s, v in (("A", visit_a), ("B", visit_b))
    }
    for worker, grid in ((u["grid1"], grid_a), (u["grid2"], grid_b)):
        do_record_patrol(
            grid,
            actor=worker,
            started_at=timezone.now() - timedelta(hours=1),
            houses=list(House.objects.filter(grid=grid).order_by("code")[:1]),
        )

    # Campaigns: one per township, created and activated by its own command room.
    def campaign(room, town, grid, worker, label):
        c = CP.do_create_campaign(
            actor=room,
            title=f"{label}专项整治",
            category=category,
            start=date.today(),
            end=date.today() + timedelta(days=30),
            region_codes=[town],
            target_types=["车辆"],
            checklist=["长期停放"],
        )
        c = CP.do_activate_campaign(c, actor=room)
        target = CP.do_add_target(
            c, actor=room, kind="车辆", label=f"{label}车", address="阳明路1号", grid=grid
        )
        check = CP.do_record_check(target, actor=worker, hazard=False)
        return c, target, check

    camp_a, target_a, check_a = campaign(u["lizhou"], TOWN_A, grid_a, u["grid1"], "矩阵甲")
    camp_b, target_b, check_b = campaign(u["fengshan"], TOWN_B, grid_b, u["grid2"], "矩阵乙")
    w.objects["campaign"] = {
        "A": Obj(camp_a.pk, TOWN_A, marks=("矩阵甲专项整治",), instance=camp_a),
        "B": Obj(camp_b.pk, TOWN_B, marks=("矩阵乙专项整治",), instance=camp_b),
    }
    w.objects["target"] = {
        "A": Obj(target_a.pk, grid_a.code, marks=("矩阵甲车",), instance=target_a),
        "B": Obj(target_b.pk, grid_b.code, marks=("矩阵乙车",), instance=target_b),
    }
    w.objects["check"] = {
        "A": Obj(check_a.pk, grid_a.code, instance=check_a),
        "B": Obj(check_b.pk, grid_b.code, instance=check_b),
    }

    # Disputes: registered by each township's centre, with parties.
    def dispute(room, grid, title):
        return do_register_dispute(
            actor=room,
            title=title,
            description="双方因宅基地边界发生争执。",
            category="01",
            source="reception",
            grid=grid,
            parties=[
                {"role": "applicant", "kind": "natural", "name": "张三", "phone": "13800001111"},
                {"role": "respondent", "kind": "natural", "name": "李四"},
            ],
        )

    dis_a = dispute(u["lizhou"], grid_a, "矩阵甲纠纷")
    dis_b = dispute(u["fengshan"], grid_b, "矩阵乙纠纷")
    w.objects["dispute"] = {
        "A": Obj(dis_a.code, dis_a.region_code, marks=(dis_a.code,), instance=dis_a),
        "B": Obj(dis_b.code, dis_b.region_code, marks=(dis_b.code,), instance=dis_b),
    }
    w.objects["party"] = {
        s: Obj(d.parties.order_by("id").first().pk, d.region_code)
        for s, d in (("A", dis_a), ("B", dis_b))
    }
    orgs = {}
    mediators = {}
    for side, town in (("A", TOWN_A), ("B", TOWN_B)):
        orgs[side] = do_save_org(
            actor=admin,
            code=f"MX-{side}",
            name=f"矩阵{side}调解工作室",
            kind=MediationOrg.Kind.STUDIO,
            region_code=town,
            specialities=["01"],
        )
        mediators[side] = do_save_mediator(
            actor=admin,
            org=orgs[side],
            name=f"矩阵调解员{side}",
            kind=Mediator.Kind.PEOPLES,
            specialities=["01"],
        )
    w.objects["org"] = {s: Obj(o.pk, o.region_code) for s, o in orgs.items()}
    w.objects["mediator"] = {s: Obj(m.pk, m.org.region_code) for s, m in mediators.items()}

    # On-call: department staff posted to each grid by its township, summoned to the open case.
    postings, summonses = {}, {}
    for side, room, grid, case in (
        ("A", u["lizhou"], grid_a, open_a),
        ("B", u["fengshan"], grid_b, open_b),
    ):
        staff = _role_user("dept_handler", department__code=f"{grid.code[:9]}-public_security")
        postings[side] = do_post_staff(
            person=staff.person,
            department=staff.person.roles.filter(active=True).first().department,
            grid=grid,
            kind="on_call",
            actor=room,
        )
        try:
            summonses[side] = do_summon(case, postings[side], actor=room)
        except Exception:  # noqa: BLE001 (the case's state may not allow it: then none)
            summonses[side] = None
    w.objects["posting"] = {s: Obj(p.pk, p.grid.code) for s, p in postings.items()}
    w.objects["summons"] = {
        s: Obj(x.pk, x.case.region_code, instance=x) for s, x in summonses.items() if x
    }

    # Rewards: a scheme, budgets, and a nomination of each township's closed case.
    tiers = [
        {
            "criterion": "hazard",
            "amount_min": 200,
            "amount_max": 1000,
            "nominators": ["handler", "command_room"],
        }
    ]
    scheme = IN.do_publish_scheme(
        county_code="330281",
        name="矩阵奖励办法",
        version="试行",
        valid_from=date(2020, 1, 1),
        tiers=tiers,
        actor=county,
    )
    year = timezone.localdate().year
    IN.do_set_town_budget(town_code=TOWN_A, year=year, amount=5000, actor=county)
    IN.do_set_town_budget(town_code=TOWN_B, year=year, amount=5000, actor=county)
    tier = scheme.tiers.get(criterion="hazard")
    noms = {}
    for side, case, worker in (("A", case_a, u["grid1"]), ("B", case_b, u["grid2"])):
        noms[side] = IN.do_nominate_case(
            case, tier=tier, amount=500, evidence="消除了一处重大火灾隐患", actor=worker
        )
    w.objects["nomination"] = {
        s: Obj(n.pk, n.region_code, marks=(c.code,), instance=n)
        for (s, n), c in zip(noms.items(), (case_a, case_b), strict=True)
    }
    typicals = {}
    for side, room in (("A", u["lizhou"]), ("B", u["fengshan"])):
        n = IN.do_review_nomination(noms[side], actor=room)
        n = IN.do_approve_nomination(n, actor=county)
        noms[side] = n
        typicals[side] = IN.do_write_typical_case(
            n,
            actor=room,
            title=f"矩阵{side}典型案例",
            found="网格员巡查发现",
            handled="当场清理",
            value="消除隐患",
            lessons="常巡常查",
            summary="及时发现并消除隐患",
        )
        typicals[side] = IN.do_publish_typical_case(typicals[side], actor=county)
    w.objects["typical"] = {
        # published: the county's library (everyone with cases.view in the county reads it)
        s: Obj(t.pk, t.county_code, marks=(f"矩阵{s}典型案例",), instance=t)
        for s, t in typicals.items()
    }
    w.objects["worker"] = {
        "A": Obj(u["grid1"].pk, grid_a.code, marks=(u["grid1"].person.name,)),
        "B": Obj(u["grid2"].pk, grid_b.code, marks=(u["grid2"].person.name,)),
    }
    names = dict(Region.objects.filter(code__in=[TOWN_A, TOWN_B]).values_list("code", "name"))
    w.objects["town"] = {
        "A": Obj(TOWN_A, TOWN_A, marks=(names[TOWN_A],)),
        "B": Obj(TOWN_B, TOWN_B, marks=(names[TOWN_B],)),
    }
    w.objects["mediation_town"] = w.objects["town"]
    # The county's co-governance award of this year (one county: A only).
    award = do_propose_award(county_code="330281", year=year, actor=county, size=3)
    w.objects["award"] = {"A": Obj(award.pk, "330281", instance=award)}

    # Joint operation planned by township A's room (B: by fengshan).
    from civicgrid.people.models import Department as D

    ops = {}
    for side, room, town in (("A", u["lizhou"], TOWN_A), ("B", u["fengshan"], TOWN_B)):
        ops[side] = CA.do_plan_joint_operation(
            actor=room,
            town_code=town,
            title=f"矩阵{side}联合执法",
            planned_for=timezone.now() + timedelta(days=1),
            place="阳明路",
            departments=list(D.objects.filter(code__startswith=f"{town}-")[:2]),
        )
    w.objects["operation"] = {s: Obj(o.pk, getattr(o, "town_code", None)) for s, o in ops.items()}

    # Audit events in each township's scope (the matrix's own writes).
    for side, town in (("A", TOWN_A), ("B", TOWN_B)):
        ev = AuditEvent.objects.filter(scope_code__startswith=town).order_by("-id").first()
        w.objects.setdefault("audit", {})[side] = Obj(ev.pk, town)

    # Open311: an integration key for township A (submits a request) and a token.
    key, secret = do_create_api_key(name="matrix open311", actor=admin, region_code=TOWN_A)
    w.extra["open311_key"] = secret
    sr = do_submit_service_request(
        api_key=key,
        category=category,
        description="矩阵Open311 路灯",
        lat=_point(grid_a)[0],
        lng=_point(grid_a)[1],
        photos=[_jpeg()],
    )
    w.objects["open311_case"] = {"A": Obj(sr.code, sr.region_code, marks=(sr.code,), instance=sr)}
    photo = sr.attachments.order_by("id").first()
    w.objects["open311_photo"] = {"A": Obj(photo.pk if photo else 999999, sr.region_code)}
    w.objects["grid"] = {
        "A": Obj(grid_a.code, grid_a.code, marks=(grid_a.code,)),
        "B": Obj(grid_b.code, grid_b.code, marks=(grid_b.code,)),
    }

    # The member reports a problem in township A (their own report: theirs to follow).
    lat, lng = _point(grid_a)
    own = CA.do_report_case(
        actor=member_a.user, channel="co_governance", category=category,
        description="矩阵成员报 路灯不亮", lat=lat, lng=lng,
    )  # fmt: skip
    w.extra["member_case"] = own.code

    _late_apps(w)

    # Personal API tokens of every persona with an account.
    for name, user in u.items():
        _key, token = do_create_personal_token(name=f"matrix {name}", actor=user)
        w.tokens[name] = token
        w.extra.setdefault("token_ids", {})[name] = _key.pk
    w.objects["token"] = {
        "A": Obj(w.extra["token_ids"]["grid1"], grid_a.code),
        "B": Obj(w.extra["token_ids"]["grid2"], grid_b.code),
    }

    # Clients: one per persona, logged in once for the module.
    w.users = {**u, "anonymous": None, "resident": None}
    for name in PERSONAS:
        client = Client()
        client.cookies["django_language"] = "en"
        if w.users[name] is not None:
            client.force_login(w.users[name])
        w.clients[name] = client
    _prove_resident(w)
    return w


def _prove_resident(w: World) -> None:
    """The resident proves a phone by SMS code on /r/ and reports: the session is theirs."""
    from django.urls import reverse

    grid = w.extra["grid_a"]
    lat, lng = _point(grid)
    client = w.clients["resident"]
    phone = "13905749876"
    with mock.patch("civicgrid.people.actions.secrets.randbelow", return_value=123456):
        sent = client.post(
            reverse("resident_report"),
            {"step": "send_code", "phone": phone, "idempotency_key": "matrix-1"},
        )
        assert sent.status_code == 200, sent.status_code
        made = client.post(
            reverse("resident_report"),
            {
                "step": "report",
                "phone": phone,
                "code": "123456",
                "name": "居民王",
                "description": "矩阵居民报 小区门口路灯不亮",
                "lat": lat,
                "lng": lng,
                "address": "阳明路2号",
                "idempotency_key": "matrix-1",
            },
        )
    assert made.status_code == 302, [
        line for line in made.content.decode().splitlines() if "error" in line
    ]
    assert "resident_phone" in client.session
    w.extra["resident_case"] = made["Location"].rstrip("/").rsplit("/", 1)[-1]


def _late_apps(w: World) -> None:
    """Objects of the apps added in session 16 (reports, signals, import runs). Each is built
    in its own savepoint; a kind that cannot be built is left out and named in
    ``w.missing``, so only its entries fail (with the reason), not the whole matrix."""
    from django.db import transaction

    from civicgrid.regions.models import Region

    u, grid_a, grid_b = w.users, w.extra["grid_a"], w.extra["grid_b"]

    def report():
        from civicgrid.analytics.actions import do_generate_report

        found = {}
        for side, town, room in (("A", TOWN_A, u["lizhou"]), ("B", TOWN_B, u["fengshan"])):
            made, _created = do_generate_report(
                kind="weekly", day=timezone.localdate(), region=Region.objects.get(code=town),
                actor=room,
            )  # fmt: skip
            found[side] = Obj(made.pk, made.region_code, instance=made)
        return found

    def report_table():
        from civicgrid.analytics.documents import report_tables

        return {
            side: Obj(report_tables(o.instance)[0].key, o.region)
            for side, o in w.objects["report"].items()
        }

    def signal():
        from civicgrid.warning.actions import Finding, do_store_findings
        from civicgrid.warning.models import Signal

        today = timezone.localdate()
        for grid in (grid_a, grid_b):
            finding = Finding(
                method="poisson", places=(grid.code,), start=today - timedelta(days=3),
                end=today, observed=9, expected=1.5, relative_risk=6.0, statistic=12.0,
                p_value=0.001, recurrence_days=365.0,
            )  # fmt: skip
            do_store_findings(w.extra["category"], [finding], today)
        found = {}
        for side, grid in (("A", grid_a), ("B", grid_b)):
            made = Signal.objects.filter(region_code__startswith=grid.code[:9]).latest("pk")
            found[side] = Obj(made.pk, made.region_code, marks=(f"/warnings/{made.pk}/",))
        return found

    def run():
        from civicgrid.datahub.actions import do_upload_file

        made = do_upload_file(
            actor=u["county"], file_name="matrix.csv", data="姓名,身份证号\n张三,\n".encode(),
            target="population", source_name="矩阵数据源",
        )  # fmt: skip
        return {"A": Obj(made.pk, made.region_code, instance=made)}

    w.missing = {}
    for kind, build in (
        ("report", report),
        ("report_table", report_table),
        ("signal", signal),
        ("run", run),
    ):
        try:
            with transaction.atomic():
                w.objects[kind] = build()
        except Exception as exc:  # noqa: BLE001 (an app in the making: say why, go on)
            w.missing[kind] = f"{type(exc).__name__}: {exc}"
