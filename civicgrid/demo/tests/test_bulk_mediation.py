"""The demo's bulk path for disputes writes exactly what the mediation actions write.

The same seed and a small scale, once through the actions and once through
``demo.bulk_mediation``, each on the session's demo county and rolled back after: every table
of every installed model is dumped and compared row by row, primary keys included (the audit
events' hashes bind the ids, so the ids must be the same, not just the rows they name). The
only values compared differently are the sealed personal data (Fernet tokens carry a random
IV and the time of sealing): their decrypted values are compared instead.
"""

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, transaction

from civicgrid.core.audit import verify_chain
from civicgrid.demo import bulk_mediation
from civicgrid.demo.mediation import generate_demo_mediation
from civicgrid.mediation.models import Dispute
from civicgrid.people import pii

pytestmark = pytest.mark.django_db

END = date(2026, 6, 1)


class _Rollback(Exception):
    pass


def _value(field, value):
    if field.attname.endswith("_cipher") and value:
        return ("revealed", pii.reveal(value))
    return value


def _dump() -> dict:
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = model._meta.concrete_fields
        rows = model._default_manager.order_by("pk").values_list(*(f.attname for f in fields))
        tables[model._meta.label] = [
            tuple(_value(f, v) for f, v in zip(fields, row, strict=True)) for row in rows
        ]
    return tables


def _reset_sequences():
    """Each run starts its ids where the rows end (on PostgreSQL a rolled-back run leaves its
    sequences advanced; the bulk path numbers from the highest id, as a fresh database does)."""
    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


def _run(**options) -> tuple[dict, object, list]:
    """Generate inside a savepoint, dump every table and the chain's problems, roll back."""
    out = {}
    try:
        with transaction.atomic():
            _reset_sequences()
            out["summary"] = generate_demo_mediation(progress=None, **options)
            connection.check_constraints()  # the deferred foreign keys, checked now
            out["tables"] = _dump()
            out["problems"] = [p.message for p in verify_chain()]
            raise _Rollback
    except _Rollback:
        pass
    return out["tables"], out["summary"], out["problems"]


def _differences(left: dict, right: dict) -> list[str]:
    wrong = []
    for table in sorted(set(left) | set(right)):
        a, b = left.get(table, []), right.get(table, [])
        if a == b:
            continue
        wrong.append(f"{table}: {len(a)} rows vs {len(b)}")
        for row_a, row_b in zip(a, b, strict=False):
            if row_a != row_b:
                wrong.append(f"  first difference:\n    {row_a}\n    {row_b}")
                break
    return wrong


def test_the_bulk_path_writes_the_same_rows_as_the_actions(personas, monkeypatch):
    # write the append-only rows in several chunks along the way, as a full year does
    monkeypatch.setattr(bulk_mediation, "FLUSH_AT", 1000)
    monkeypatch.setattr(bulk_mediation, "CHUNK", 300)
    options = {"seed": 5, "scale": 1.5, "days": 60, "end": END}
    actions, s1, problems1 = _run(through_actions=True, **options)
    bulk, s2, problems2 = _run(**options)
    # and with every INSERT on the caller's thread (on SQLite the chunks go to a writer thread)
    monkeypatch.setattr(bulk_mediation, "THREADED_WRITES", False)
    inline, s3, problems3 = _run(**options)
    assert s1.errors == [] and s2.errors == [] and s3.errors == [], (s1.errors, s2.errors)
    # the run was big enough to go through every step of the simulation
    events = {row[2] for row in actions["mediation.DisputeEvent"]}
    assert {
        "register",
        "route",
        "refer",
        "handoff_result",
        "session",
        "extend",
        "agree",
        "fail",
        "apply_confirmation",
        "confirmation_result",
        "perform_part",
        "perform_done",
        "follow_up",
        "close",
    } <= events, events
    assert len(actions["mediation.Dispute"]) == s1.disputes > 100
    # the registry, made by the bulk path too (organisations, mediators, their roles)
    assert len(actions["mediation.MediationOrg"]) == s1.orgs > 10
    assert len(actions["mediation.Mediator"]) == s1.mediators > 10
    assert s1.visits > 0 and s1.calls > 0
    assert len(actions["core.AuditEvent"]) > 1000
    assert problems1 == [] and problems2 == [] and problems3 == []
    assert _differences(actions, bulk) == []
    assert _differences(actions, inline) == []


def test_the_comparison_sees_a_difference(personas):
    """The comparison is not blind: a run one dispute short of the other differs."""
    tables, _summary, _problems = _run(seed=5, scale=0.5, days=10, end=END)
    shorter = dict(tables)
    shorter["mediation.Dispute"] = tables["mediation.Dispute"][:-1]
    assert _differences(tables, shorter) == [
        f"mediation.Dispute: {len(tables['mediation.Dispute'])} rows vs "
        f"{len(shorter['mediation.Dispute'])}"
    ]
    # … and so does one value changed in one row (an audit event's time, a second later)
    changed = dict(tables)
    events = list(tables["core.AuditEvent"])
    row = list(events[-1])
    row[1] = row[1] + timedelta(seconds=1)
    events[-1] = tuple(row)
    changed["core.AuditEvent"] = events
    assert len(_differences(tables, changed)) == 2
    assert Dispute.objects.count() == 0  # rolled back


def test_the_bulk_run_keeps_the_audit_chain(personas):
    summary = generate_demo_mediation(seed=2, scale=1.0, days=30, end=END, progress=None)
    assert summary.disputes > 50 and summary.errors == []
    assert list(verify_chain()) == []
    # new rows after the bulk run get fresh ids (the sequences were moved on)
    from civicgrid.mediation.actions import do_log_visit

    row = do_log_visit(
        actor=personas.lizhou,
        region_code="330281001",
        name="来访人",
        about="咨询",
        outcome="answered",
    )
    assert row.pk > 0 and list(verify_chain()) == []
