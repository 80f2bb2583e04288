"""The bulk path writes the same rows as the actions: every table, every column, same ids.

The same seed runs twice on the session's small county — through ``civicgrid.cases.actions``
and through ``demo.bulk_cases.BulkCaseWriter`` — each inside a savepoint that is rolled back
after every table of every installed model has been read. On PostgreSQL the id sequences are
set to the tables' highest ids before each run (they do not roll back), so both runs start
from the same ids; the bulk path reads the sequences like the database would use them.
"""

import re
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import override_settings

from civicgrid.cases.models import Attachment, CaseAction, CaseReporter, Notification
from civicgrid.core.audit import verify_chain
from civicgrid.core.models import AuditChainHead, AuditEvent
from civicgrid.demo.cases import generate_demo_cases
from civicgrid.people import pii

pytestmark = pytest.mark.django_db  # (also makes pytest-django set the test database up)

END = date(2026, 11, 2)  # a Monday
OPTIONS = dict(
    seed=21,
    days=45,
    scale=1.0,
    end=END,
    cluster_end=END - timedelta(days=5),
    cluster_weeks=3,
)


TAKEN = re.compile(r"_[A-Za-z0-9]{7}(\.[a-z]+)$")  # Storage.get_available_name's suffix


class _Rollback(Exception):
    pass


def _reset_sequences() -> None:
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _replace(rows, fields, name, change, when=lambda row: True):
    at = fields.index(name)
    return [(*r[:at], change(r[at]), *r[at + 1 :]) if when(r) else r for r in rows]


def _dump() -> dict[str, list[tuple]]:
    """Every row of every table, in id order, with what is random in the actions too made
    comparable: sealed phone numbers as their clear text (the cipher has a random IV), the
    random suffix the storage adds to a file name already taken (a reopened case closed on the
    spot again) dropped, and the wall-clock time of the run's own closing audit event (and
    so its hash and the head's) left out — every event of a step keeps its time and hash."""
    tables = {}
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        fields = [f.attname for f in model._meta.concrete_fields]
        rows = [tuple(r) for r in model._base_manager.order_by("pk").values_list(*fields)]
        if model is CaseReporter:
            rows = _replace(rows, fields, "phone_cipher", pii.reveal)
        if model is Attachment:
            rows = _replace(rows, fields, "file", lambda name: TAKEN.sub(r"\1", name))
        if model is AuditEvent:
            closing = fields.index("action")

            def last(row, closing=closing):
                return row[closing] == "demo.cases"

            rows = _replace(rows, fields, "created", lambda _v: None, last)
            rows = _replace(rows, fields, "hash", lambda _v: None, last)
        if model is AuditChainHead:
            rows = _replace(rows, fields, "last_hash", lambda _v: None)
        tables[model._meta.label] = rows
    return tables


def _run(tmp_path, name: str, *, through_actions: bool, spoil=None):
    """One run in a savepoint: (summary, dump, audit problems); everything rolled back."""
    _reset_sequences()
    result = {}
    with override_settings(MEDIA_ROOT=tmp_path / name):
        try:
            with transaction.atomic():
                summary = generate_demo_cases(through_actions=through_actions, **OPTIONS)
                if spoil is not None:
                    spoil()
                result["summary"] = summary
                result["dump"] = _dump()
                result["problems"] = list(verify_chain())
                raise _Rollback
        except _Rollback:
            pass
    return result


def _differences(first: dict, second: dict) -> dict[str, str]:
    found = {}
    for table in sorted(set(first) | set(second)):
        a, b = first.get(table, []), second.get(table, [])
        if a == b:
            continue
        ra, rb = [repr(r) for r in a], [repr(r) for r in b]  # JSON columns are not hashable
        sa, sb = set(ra), set(rb)
        only_a = [r for r in ra if r not in sb][:2]
        only_b = [r for r in rb if r not in sa][:2]
        found[table] = f"{len(a)} vs {len(b)} rows; only first: {only_a}; only second: {only_b}"
    return found


@pytest.fixture(scope="module")
def runs(django_db_setup, django_db_blocker, tmp_path_factory):
    """The runs (~200 cases, ~1,200 steps), shared by the tests below; the third one drops
    one notification before the tables are read, for the comparison to find."""
    tmp_path = tmp_path_factory.mktemp("bulk-cases")
    with django_db_blocker.unblock(), transaction.atomic():
        actions = _run(tmp_path, "actions", through_actions=True)
        bulk = _run(tmp_path, "bulk", through_actions=False)

        def drop_a_notification():
            Notification.objects.filter(event="dispatched").order_by("-pk").first().delete()

        spoilt = _run(tmp_path, "spoilt", through_actions=False, spoil=drop_a_notification)
        transaction.set_rollback(True)
    return actions, bulk, spoilt


def test_the_runs_are_a_fair_sample(runs):
    actions, bulk, _spoilt = runs
    assert actions["summary"].path == "actions" and bulk["summary"].path == "bulk"
    summary = actions["summary"]
    assert summary.cases > 150 and summary.error_count == 0, summary.errors
    kinds = {r[CaseAction_ACTION] for r in actions["dump"]["cases.CaseAction"]}
    # the steps the bulk path implements, all of them taken at least once here
    assert {
        "report",
        "accept",
        "reject",
        "escalate",
        "dispatch",
        "sign",
        "request_return",
        "approve_return",
        "reject_return",
        "handle",
        "feedback",
        "verify_pass",
        "verify_fail",
        "self_close",
        "request_extension",
        "decide_extension",
        "supervise",
        "answer_supervision",
        "evaluate",
        "reopen",
        "refer_review",
        "review_archive",
        "file",
    } <= kinds, kinds
    assert actions["problems"] == []


CaseAction_ACTION = [f.attname for f in CaseAction._meta.concrete_fields].index("action")


def test_the_bulk_path_writes_the_same_rows_as_the_actions(runs):
    actions, bulk, _spoilt = runs
    assert bulk["summary"].cases == actions["summary"].cases
    assert _differences(actions["dump"], bulk["dump"]) == {}


def test_the_audit_chain_is_intact_after_the_bulk_run(runs):
    _actions, bulk, _spoilt = runs
    assert bulk["problems"] == []
    events = bulk["dump"]["core.AuditEvent"]
    assert len(events) > 1000


def test_the_comparison_notices_a_missing_notification(runs):
    actions, _bulk, spoilt = runs
    differences = _differences(actions["dump"], spoilt["dump"])
    assert list(differences) == ["cases.Notification"]
    assert "only first" in differences["cases.Notification"]
