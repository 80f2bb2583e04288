"""The access-control matrix (issue 12 item 1): every URL pattern and API operation × every
persona × an object of township A and one of township B.

The expected answers are data (``access_matrix.py``); the world is built once for the module
(``matrix_fixtures.py``) and every test runs in a savepoint on top of it. One test per
endpoint checks all personas and objects and reports every wrong cell at once.

``MATRIX_RECORD=<file>`` writes the actual answers (a TSV) instead of failing, to help write
entries for a new app.
"""

import json
import os
import re
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from civicgrid.core.scoping import ancestor_codes, scope_for
from civicgrid.core.tests.access_matrix import (
    ALLOW,
    API_ENTRIES,
    API_OPEN,
    DENY,
    ENTRIES,
    LOGIN,
    NOGET,
    VISIBILITY,
    E,
    O,
    Rule,
)
from civicgrid.core.tests.matrix_fixtures import PERSONAS, build_world

pytestmark = pytest.mark.django_db

API_PREFIX = "/api/v1"
SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "media/")
RECORD = os.environ.get("MATRIX_RECORD")


# --------------------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Personas, objects and logged-in clients, in one transaction rolled back at the end."""
    from django.test.utils import override_settings

    with django_db_blocker.unblock(), override_settings(API_RATE_PER_MINUTE=100_000):
        with transaction.atomic():
            yield build_world()
            transaction.set_rollback(True)


@pytest.fixture(scope="module")
def openapi(world):
    response = world.clients["admin"].get(f"{API_PREFIX}/openapi.json")
    assert response.status_code == 200
    return response.json()


def api_operations(schema) -> dict[str, tuple[str, str]]:
    """operationId → (method, path) of every operation in the schema."""
    found = {}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            name = operation["operationId"].removeprefix("civicgrid_api_rest_")
            found[name] = (method.upper(), path)
    return found


# --------------------------------------------------------------------------- rules → answers


def _granted(user, rule: Rule, obj, permissions=None) -> bool:
    """Does one of the user's grants of ``permissions`` reach ``obj`` (as ``restrict`` does)?"""
    scope = scope_for(user)
    if scope.superuser:
        return True
    for grant in scope.grants:
        if not set(permissions or rule.permissions) & grant.permissions:
            continue
        if grant.department_id is not None and rule.by_department:
            if grant.department_id in obj.departments:
                return True
            continue
        if obj.region is not None and (
            obj.region.startswith(grant.prefix)
            or (rule.ancestors and obj.region in ancestor_codes(grant.prefix))
        ):
            return True
    return False


def rule_answer(world, entry_or_rule, persona: str, side: str | None) -> str:
    """What ``persona`` should get from a GET under a rule (ignoring the POST-only case)."""
    rule = entry_or_rule.rule if isinstance(entry_or_rule, E) else entry_or_rule
    user = world.users[persona]
    if rule.kind == "public":
        return ALLOW
    if rule.kind == "nobody":
        return DENY
    if user is None:
        return LOGIN
    if rule.kind == "login":
        return ALLOW
    if rule.kind == "only":
        return ALLOW if persona in rule.personas else DENY
    scope = scope_for(user)
    if rule.kind == "perm":
        return ALLOW if any(scope.has(p) for p in rule.permissions) else DENY
    assert rule.kind == "scoped", rule
    obj = world.obj(rule.obj, side or "A")
    assert obj is not None, f"no {rule.obj} object on side {side}"
    granted = _granted(user, rule, obj) and all(_granted(user, rule, obj, (p,)) for p in rule.also)
    return ALLOW if granted else DENY


def expected(world, entry: E, persona: str, side: str | None) -> str:
    for key in (f"{persona}:{side}", persona):
        if key in entry.exceptions:
            return entry.exceptions[key]
    if world.users[persona] is None and entry.login_required:
        return LOGIN
    if "*" in entry.exceptions:
        return entry.exceptions["*"]
    if not entry.get:
        return NOGET
    return rule_answer(world, entry, persona, side)


def outcome(response) -> str:
    code = response.status_code
    if code >= 500:
        return f"error {code}"
    if code in (301, 302, 303):
        return LOGIN if response["Location"].split("?")[0].endswith("/login/") else ALLOW
    if code == 401:
        return LOGIN
    if code in (403, 404):
        return DENY
    if code == 405:
        return NOGET
    if 200 <= code < 300:
        return ALLOW
    return f"status {code}"


# --------------------------------------------------------------------------- requests


def _sides(world, entry: E) -> list[str | None]:
    values = [*entry.kwargs.values(), *entry.query.values()]
    kinds = [v.kind for v in values if isinstance(v, O)]
    if entry.rule.kind == "scoped":
        kinds.append(entry.rule.obj)
    if not kinds:
        return [None]
    return [s for s in ("A", "B") if all(world.obj(k, s) is not None for k in kinds)]


def _values(world, values: dict, side) -> dict:
    return {
        k: (world.obj(v.kind, side).value if isinstance(v, O) else v) for k, v in values.items()
    }


def url_of(world, entry: E, side, operations=None) -> tuple[str, str]:
    """(method, url) of an entry for one side."""
    kwargs = _values(world, entry.kwargs, side)
    if entry.name.startswith("api:"):
        method, path = operations[entry.name[4:]]
        for key, value in kwargs.items():
            path = path.replace("{" + key + "}", str(value))
        assert "{" not in path, f"{entry.name}: missing URL values in {path}"
        return method, path
    if entry.name == "open311:?":
        return "GET", "/open311/v2/nothing-here"
    return "GET", reverse(entry.name, kwargs=kwargs)


def fingerprint():
    """What a write would change: the audit trail (every action appends) and key tables."""
    from django.apps import apps

    from civicgrid.core.models import AuditEvent

    counts = [AuditEvent.objects.count()]
    for label in (
        "cases.Case",
        "cases.CaseAction",
        "cases.Supervision",
        "mediation.Dispute",
        "campaigns.Campaign",
        "campaigns.CampaignTarget",
        "incentives.Nomination",
        "incentives.TypicalCase",
        "cogovernance.Member",
        "oncall.StaffPosting",
        "oncall.Summons",
        "api.ApiKey",
        "people.Person",
    ):
        counts.append(apps.get_model(label).objects.count())
    states = [
        apps.get_model("cases.Case").objects.values_list("code", "state", "version"),
        apps.get_model("mediation.Dispute").objects.values_list("code", "state"),
        apps.get_model("campaigns.Campaign").objects.values_list("pk", "state"),
        apps.get_model("cogovernance.Member").objects.values_list("pk", "state"),
        apps.get_model("api.ApiKey").objects.values_list("pk", "revoked_at"),
        apps.get_model("incentives.TypicalCase").objects.values_list("pk", "state"),
    ]
    return counts, [sorted(map(str, q)) for q in states]


def _request(client, method, url, query=None, data=None):
    if method == "GET":
        return client.get(url, query or {})
    if url.startswith(API_PREFIX):
        return client.generic(method, url, json.dumps(data or {}), content_type="application/json")
    return client.post(url, data or {})


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def check_entry(world, entry: E, operations=None) -> list[str]:
    """Every persona × side of one entry; returns the wrong cells (empty: all right)."""
    kinds = {v.kind for v in [*entry.kwargs.values(), *entry.query.values()] if isinstance(v, O)}
    if entry.rule.kind == "scoped":
        kinds.add(entry.rule.obj)
    if kinds & set(world.missing):
        return [f"no {k} object to try: {world.missing[k]}" for k in kinds & set(world.missing)]
    wrong, recorded = [], []
    for side in _sides(world, entry):
        method, url = url_of(world, entry, side, operations)
        for persona in PERSONAS:
            client = world.clients[persona]
            want = expected(world, entry, persona, side)
            if method == "GET":
                response = _request(client, "GET", url, _values(world, entry.query, side))
                got = outcome(response)
                recorded.append((entry.name, side or "-", persona, got, want))
                if got != want:
                    wrong.append(f"{persona:9} {side or '-'} GET {url}: got {got}, want {want}")
                    continue
                if got == ALLOW and entry.lists:
                    wrong += _check_list(world, entry, persona, _body(response), url)
            if entry.writes or method != "GET":
                query = _values(world, entry.query, side)
                wrong += _check_forbidden_write(world, entry, persona, side, method, url, query)
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as out:
            for row in recorded:
                out.write("\t".join(row) + "\n")
            for line in wrong:
                out.write(f"{entry.name}\tWRONG\t{line}\n")
        return []
    return wrong


def _check_list(world, entry: E, persona: str, body: str, url: str) -> list[str]:
    wrong = []
    rule = VISIBILITY[entry.lists]
    for side in ("A", "B"):
        obj = world.obj(entry.lists, side)
        if obj is None:
            continue
        sees = rule_answer(world, rule, persona, side) == ALLOW
        shown = any(mark in body for mark in obj.marks)
        if shown and not sees:
            wrong.append(f"{persona:9} LEAK {url}: shows {entry.lists} {side} {obj.marks}")
        elif sees and not shown and entry.lists_positive:
            wrong.append(f"{persona:9} {url}: misses its own {entry.lists} {side} {obj.marks}")
    return wrong


def _check_forbidden_write(world, entry, persona, side, method, url, query) -> list[str]:
    """A persona the rule forbids POSTs (or the operation's method): refused, nothing changes."""
    rule = entry.post_rule or entry.rule
    if entry.post_rule is None and (
        f"{persona}:{side}" in entry.exceptions or persona in entry.exceptions
    ):
        return []
    if rule_answer(world, rule, persona, side) == ALLOW:
        return []
    if query:
        url = f"{url}?{urlencode(query)}"
    if method == "GET":
        method = "POST"
    before = fingerprint()
    response = _request(world.clients[persona], method, url, data=entry.post_data)
    got = outcome(response)
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as out:
            out.write(f"{entry.name}\tPOST\t{persona} {side} {method} {response.status_code}\n")
    wrong = []
    refused = {DENY, LOGIN} | ({"status 400"} if url.startswith(API_PREFIX) else set())
    if entry.form_refusal:
        refused.add(ALLOW)
    if got not in refused:
        wrong.append(f"{persona:9} {side or '-'} {method} {url}: got {got}, want refused")
    if fingerprint() != before:
        wrong.append(f"{persona:9} {side or '-'} {method} {url}: a forbidden write CHANGED data")
    return wrong


def _fail(entry: E, wrong: list[str]):
    if wrong:
        pytest.fail(
            f"{entry.name} ({entry.rule.describe()}): {len(wrong)} wrong cell(s)\n"
            + "\n".join(wrong),
            pytrace=False,
        )


def _param(entry: E):
    return pytest.param(entry, id=entry.name)


def _split(entry: E, wrong: list[str]) -> tuple[list[str], list[str]]:
    """(other cells, the cells of the entry's known leak)."""
    leaky = set(entry.leaky) if entry.leak else set()
    known = [line for line in wrong if line.split(" ", 1)[0] in leaky]
    return [line for line in wrong if line not in known], known


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES])
def test_page(world, entry):
    _fail(entry, _split(entry, check_entry(world, entry))[0])


@pytest.mark.parametrize("entry", [_param(e) for e in API_ENTRIES])
def test_api_operation(world, openapi, entry):
    _fail(entry, _split(entry, check_entry(world, entry, api_operations(openapi)))[0])


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(e, id=e.name, marks=pytest.mark.xfail(strict=True, reason=e.leak))
        for e in ENTRIES + API_ENTRIES
        if e.leak
    ],
)
def test_known_leak(world, openapi, entry):
    """The cells of a known leak (``leak=`` in the matrix) answer what the rule says: expected
    to fail until the view is fixed; passing (the leak gone) fails too, so the mark goes."""
    _fail(entry, _split(entry, check_entry(world, entry, api_operations(openapi)))[1])


def _patterns(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace + (f"{p.namespace}:" if p.namespace else "")
            yield from _patterns(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), namespace + (p.name or "?")


def test_every_endpoint_has_a_matrix_entry(openapi):
    """A new URL pattern or API operation without a line in access_matrix.py fails here."""
    names = {e.name for e in ENTRIES}
    missing = sorted(
        f"{route}  (name {name!r})"
        for route, name in _patterns(get_resolver().url_patterns)
        if not route.lstrip("^").startswith(SKIPPED_PREFIXES)
        and not name.startswith("api-1.0.0:")
        and name not in names
    )
    operations = set(api_operations(openapi))
    api_names = {e.name[4:] for e in API_ENTRIES}
    missing += sorted(f"API operation {op}" for op in operations - api_names)
    paths = set(openapi["paths"])
    for route, name in _patterns(get_resolver().url_patterns):
        if name.startswith("api-1.0.0:") and name not in API_OPEN:
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
            assert path in paths, f"{route} is not in the OpenAPI schema: no matrix row"
    stale = sorted(names - {n for _r, n in _patterns(get_resolver().url_patterns)})
    stale += sorted(f"api:{op}" for op in api_names - operations)
    assert not missing, (
        "endpoints without an access-matrix entry (add them to core/tests/access_matrix.py):\n"
        + "\n".join(missing)
    )
    assert not stale, "matrix entries for endpoints that no longer exist:\n" + "\n".join(stale)


def test_every_persona_is_who_it_claims(world):
    """The personas hold the roles the tables assume (a changed demo must not hollow them)."""
    roles = {name: scope_for(user).roles for name, user in world.users.items() if user}
    assert roles["grid1"] == ["grid_worker"] and roles["grid2"] == ["grid_worker"]
    assert roles["village"] == ["village_staff"]
    assert roles["lizhou"] == ["township_operator"] == roles["fengshan"]
    assert roles["police"] == ["dept_handler"] == roles["market"]
    assert roles["member"] == ["co_governance"]
    assert roles["outsider"] == []
    assert "resident_phone" in world.clients["resident"].session
    grants = {g.prefix for g in scope_for(world.users["lizhou"]).grants}
    assert grants == {"330281001"}


def test_search_never_finds_another_townships_case(world):
    """Searching a case's code finds it for those who see it, and for nobody else: in the
    case list, its export and the API (the police see both: dispatched to them)."""
    for side in ("A", "B"):
        code = world.obj("dcase", side).value
        for persona in ("lizhou", "fengshan", "grid1", "grid2", "police", "market", "member"):
            visible = rule_answer(world, VISIBILITY["dcase"], persona, side) == ALLOW
            # what shows the case (the page echoes the search words in its search box)
            for url, query, shown in (
                (reverse("case_list"), {"q": code, "queue": "all"}, f'/cases/{code}/"'),
                (reverse("case_export", args=["csv"]), {"q": code, "queue": "all"}, code),
                (f"{API_PREFIX}/cases", {"q": code}, f'"code": "{code}"'),
            ):
                response = world.clients[persona].get(url, query)
                body = _body(response).replace('"code":"', '"code": "')
                assert response.status_code in (200, 403, 404), (persona, url)
                found = shown in body
                assert found == (visible and response.status_code == 200), (persona, url, code)


def test_reporters_follow_their_own_cases_and_nothing_else(world):
    """A co-governance member sees the case they reported (page, API, list) and no other; the
    resident's session sees only the public tracking page of theirs."""
    member, own = world.clients["member"], world.extra["member_case"]
    others = [world.obj(k, s).value for k in ("case", "dcase") for s in ("A", "B")]
    assert member.get(reverse("case_detail", args=[own])).status_code == 200
    assert member.get(f"{API_PREFIX}/cases/{own}").status_code == 200
    listed = _body(member.get(f"{API_PREFIX}/cases"))
    page = _body(member.get(reverse("case_list"), {"queue": "all"}))
    assert own in listed and f"/cases/{own}/" in page
    for code in others:
        assert member.get(reverse("case_detail", args=[code])).status_code == 404
        assert member.get(f"{API_PREFIX}/cases/{code}").status_code == 404
        assert code not in listed and code not in page
    resident, theirs = world.clients["resident"], world.extra["resident_case"]
    assert resident.get(reverse("track_case", args=[theirs])).status_code == 200
    assert outcome(resident.get(reverse("case_detail", args=[theirs]))) == LOGIN
    assert outcome(resident.get(f"{API_PREFIX}/cases/{theirs}")) == LOGIN


# --------------------------------------------------------------------------- the document

SHORT = {
    "anonymous": "anon",
    "resident": "res",
    "member": "mem",
    "outsider": "out",
    "grid1": "g1",
    "grid2": "g2",
    "village": "vil",
    "lizhou": "twA",
    "window": "win",
    "fengshan": "twB",
    "police": "pol",
    "market": "mkt",
    "county": "cty",
    "leader": "ldr",
    "auditor": "aud",
    "admin": "adm",
}
CELL = {ALLOW: "✓", DENY: "·", LOGIN: "→", NOGET: "P"}


def _cell(world, entry: E, persona: str) -> str:
    sides = _sides(world, entry)
    answers = {s: expected(world, entry, persona, s) for s in sides}
    if not entry.get:
        rule = entry.post_rule or entry.rule
        answers = {s: rule_answer(world, rule, persona, s) for s in sides}
        if world.users[persona] is None and entry.login_required:
            answers = dict.fromkeys(sides, LOGIN)
    values = set(answers.values())
    if len(values) == 1:
        return CELL.get(values.pop(), "?")
    return "".join(s for s, a in answers.items() if a == ALLOW) or "·"


def render_markdown(world) -> str:
    lines = [
        "# Access control: who may reach what",
        "",
        "Generated from `civicgrid/core/tests/access_matrix.py` by",
        "`MATRIX_DOC=docs/access-control.md .venv/bin/pytest -q "
        "civicgrid/core/tests/test_access_matrix.py -k document`; the test",
        "`test_access_matrix.py` checks every cell over HTTP (see *How it is checked*).",
        "",
        "## Personas",
        "",
        "| column | persona |",
        "|---|---|",
        "| anon | anonymous (no session) |",
        "| res | resident without an account: a phone proven by SMS code on `/r/` |",
        "| mem | co-governance member (流动网格员) of township A |",
        "| out | an account with no role |",
        "| g1 / g2 | grid workers of a grid in township A (梨洲) / B (凤山) |",
        "| vil | village staff of g1's village |",
        "| twA / twB | township command-room operators of A / B |",
        "| win | reception-hall clerk (接待窗口) of A's mediation centre |",
        "| pol / mkt | county police / market-supervision department handlers |",
        "| cty / ldr | county centre operator / leader |",
        "| aud / adm | auditor / administrator |",
        "",
        "Cells: ✓ allowed; · refused (403, or 404 for an object outside one's scope); → sent",
        "to the login page (401 from the API); `A` / `B` allowed for township A's / B's object",
        "only. For POST-only endpoints the cell shows who gets past the scope check (the",
        "action may still refuse by role or state); everyone else is refused and changes",
        "nothing.",
        "",
        "## Personas × endpoint groups",
        "",
        "Endpoints of the group each persona may reach (of the group's total).",
        "",
    ]
    groups: dict[str, list[E]] = {}
    for entry in ENTRIES + API_ENTRIES:
        groups.setdefault(entry.group or "other", []).append(entry)
    cells = {id(e): {p: _cell(world, e, p) for p in PERSONAS} for g in groups.values() for e in g}
    lines.append("| group | " + " | ".join(SHORT[p] for p in PERSONAS) + " |")
    lines.append("|---|" + "---|" * len(PERSONAS))
    for group, entries in groups.items():
        counts = [sum(1 for e in entries if cells[id(e)][p] not in {"·", "→"}) for p in PERSONAS]
        lines.append(f"| {group} ({len(entries)}) | " + " | ".join(str(c) for c in counts) + " |")
    lines += ["", "## Every endpoint", ""]
    for group, entries in groups.items():
        lines += [f"### {group}", ""]
        lines.append("| endpoint | rule | " + " | ".join(SHORT[p] for p in PERSONAS) + " |")
        lines.append("|---|---|" + "---|" * len(PERSONAS))
        for e in entries:
            name = e.name + (
                f" ({', '.join(f'{k}={v}' for k, v in e.query.items())})" if e.query else ""
            )
            rule = (e.post_rule or e.rule).describe() if not e.get else e.rule.describe()
            if e.exceptions:
                rule += " + exceptions"
            lines.append(
                f"| `{name}` | {rule} | " + " | ".join(cells[id(e)][p] for p in PERSONAS) + " |"
            )
        lines.append("")
    leaks: dict[str, list[str]] = {}
    for e in ENTRIES + API_ENTRIES:
        if e.leak:
            leaks.setdefault(e.leak, []).append(e.name)
    lines += ["## Known leaks (to fix)", ""]
    lines += ["The tables show the intended answer; these cells answer otherwise today and are"]
    lines += ["checked by `test_known_leak` (strict xfail) until the views are fixed.", ""]
    lines += [
        f"* {why} — {', '.join(f'`{n}`' for n in names)}." for why, names in leaks.items()
    ] or ["* none"]
    notes = [(e.name, e.why) for e in ENTRIES + API_ENTRIES if e.why]
    lines += ["", "## Exceptions and notes", ""]
    lines += [f"* `{name}`: {why}." for name, why in notes]
    lines += ["", DOC_TAIL]
    return "\n".join(lines) + "\n"


DOC_TAIL = """## How it is checked

`civicgrid/core/tests/test_access_matrix.py` builds the personas and, in township A (梨洲
330281001) and township B (凤山 330281002), one object of each kind a URL names (case,
dispatched case, attachment, supervision and instruction sheets, person, visit and its photo,
campaign, target, check, dispute, party, mediation organisation and mediator, co-governance
member, on-call posting and summons, nomination, typical case, grid, township, audit event,
API token, Open311 request) through the real actions, once per test module, inside one
transaction that is rolled back. One test per endpoint then asks, for every persona and both
objects:

* **GET**: the answer's class (allowed / refused / login / POST only) is the rule's; a 5xx is
  always wrong.
* **Lists, exports, map layers, search** (`lists=`): the body shows the objects of that kind
  the persona may see (by code or name) and never one it may not; the case search is checked
  in the case list, its export and the API.
* **Writes** (`writes=True`, and every API operation that is not a GET): every persona the
  rule refuses POSTs (a valid form where given); the answer is a refusal and nothing changes
  (the audit trail, the rows and states of cases, disputes, campaigns, nominations, members,
  postings, summonses, tokens, people).
* **Completeness**: every URL pattern (admin, i18n and static aside) and every operation of
  `/api/v1/openapi.json` has an entry, and every entry still names an endpoint.

## Adding an endpoint

1. Add a line to `ENTRIES` (by URL name) or `API_ENTRIES` (by operationId without the
   `civicgrid_api_rest_` prefix) in `civicgrid/core/tests/access_matrix.py`: the rule
   (`PUBLIC`, `LOGIN_ONLY`, `perm("app.permission")`, `scoped("app.permission", "kind")`,
   `only("persona", …)`), the URL arguments (`O("kind")` for an object; add the kind to
   `matrix_fixtures.py` with one object in each township if it is new), `get=False` for
   POST-only views, `writes=True` for views that change data, `lists="kind"` for lists and
   exports, and `exceptions={persona: outcome}` with a `why=` for deliberate differences.
2. Run `.venv/bin/pytest -q civicgrid/core/tests/test_access_matrix.py -k <name>`;
   `MATRIX_RECORD=/tmp/matrix.tsv` writes every actual answer instead of failing.
3. Regenerate this page (command at the top).

A cell that shows a real leak is not an exception: fix the view (or mark the entry
`leak="…", leaky=("persona", …)` until it is fixed: those cells are then checked by
`test_known_leak`, a strict xfail that fails as soon as the leak is gone)."""


def test_document(world):
    """Writes docs/access-control.md when MATRIX_DOC names the file; else checks it renders."""
    text = render_markdown(world)
    assert "| `case_detail` |" in text
    target = os.environ.get("MATRIX_DOC")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)
