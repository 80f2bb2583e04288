"""The loaders that run behind a serving demo write the same rows in short transactions as in
one (demo.chunks): each is run twice on the session's small county, rolled back in between."""

from datetime import date

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, models, transaction

from civicgrid.core.audit import verify_chain
from civicgrid.demo import chunks
from civicgrid.demo.campaigns import generate_demo_campaigns
from civicgrid.demo.cogovernance import generate_demo_cogovernance
from civicgrid.demo.oncall import generate_demo_oncall
from civicgrid.demo.visits import generate_demo_visits

END = date(2026, 11, 2)
APPS = ["cases", "campaigns", "cogovernance", "oncall", "inspection", "core", "people"]
LEFT_OUT = {"hash", "prev_hash", "last_hash", "target_id", "last_login", "password"}


class _Rollback(Exception):
    pass


def _reset_sequences() -> None:
    """PostgreSQL's sequences do not go back with a rollback: put them back (SQLite's do)."""
    models_ = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models_):
            cursor.execute(sql)


def _rows() -> dict:
    """Every row of the apps the loaders write, without their own keys — the values and how
    many of each (the audit snapshots name ids: the sequences are put back between runs)."""
    found = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            names = [
                f.attname
                for f in model._meta.concrete_fields
                if not f.primary_key
                and not isinstance(f, models.ForeignKey)
                and f.name not in LEFT_OUT
                and not f.name.endswith("_cipher")  # Fernet: a new IV and time each time
                # the bulk-written visits are stamped with the real time of writing
                and not getattr(f, "auto_now_add", False)
                and not getattr(f, "auto_now", False)
            ]
            rows = model.objects.values_list(*names)
            if label == "core" and model.__name__ == "AuditEvent":
                rows = rows.exclude(action__startswith="demo.")  # its "loaded" mark: real time
            found[model._meta.label] = sorted(repr(row) for row in rows)
    return found


def _load(loader, options, monkeypatch, settings, media, *, every) -> tuple[dict, int]:
    settings.MEDIA_ROOT = media  # the photos' file names: as on an empty disk both times
    commits = []
    real_checkpoint = chunks.Batches.checkpoint

    def counting(self):
        done = real_checkpoint(self)
        commits.append(done)
        return done

    monkeypatch.setattr(chunks.Batches, "checkpoint", counting)
    monkeypatch.setattr(chunks, "PAUSE", 0)
    if every is None:
        monkeypatch.delenv(chunks.ENV, raising=False)
    else:
        monkeypatch.setenv(chunks.ENV, str(every))
    try:
        with transaction.atomic():
            loader(**options)
            assert list(verify_chain()) == []
            rows = _rows()
            raise _Rollback
    except _Rollback:
        pass
    _reset_sequences()
    return rows, sum(commits)


@pytest.mark.parametrize(
    ("loader", "options"),
    [
        (generate_demo_campaigns, {"scale": 0.05, "end": END}),
        (generate_demo_cogovernance, {"scale": 0.05, "end": END, "days": 60}),
        (generate_demo_oncall, {"scale": 0.05, "end": END}),
        (generate_demo_visits, {"scale": 0.05, "end": END, "months": 2, "patrol_weeks": 2}),
    ],
    ids=["campaigns", "cogovernance", "oncall", "visits"],
)
def test_short_transactions_write_the_same_rows(
    db, monkeypatch, settings, tmp_path, loader, options
):
    options = {**options, "seed": 7, "progress": lambda line: None}
    whole, none = _load(loader, options, monkeypatch, settings, tmp_path / "a", every=None)
    short, commits = _load(loader, options, monkeypatch, settings, tmp_path / "b", every=1e-9)
    assert none == 0
    assert commits > 5, "the loader never reached a checkpoint"
    assert sum(len(rows) for rows in whole.values()) > 0
    for label in whole:
        assert short[label] == whole[label], label
