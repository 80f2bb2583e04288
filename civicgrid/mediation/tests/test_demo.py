"""The demo year at a small scale: through the actions, rates emerge, a second run refuses."""

from datetime import date

import pytest

from civicgrid.demo.mediation import generate_demo_mediation
from civicgrid.mediation.models import Dispute, MediationOrg
from civicgrid.mediation.selectors import statistics

pytestmark = pytest.mark.django_db


def test_small_demo(personas):
    lines = []
    summary = generate_demo_mediation(
        seed=3, scale=1.0, days=40, end=date(2026, 6, 1), progress=lines.append
    )
    assert summary.disputes > 50 and summary.disputes == Dispute.objects.count()
    assert summary.errors == [], summary.errors
    assert any("disputes planned" in line for line in lines)
    assert MediationOrg.objects.filter(kind="studio").exists() and summary.mediators > 0
    outcomes = summary.by_outcome
    assert outcomes["agreement"] > outcomes.get("failed", 0) > 0
    assert 60 < summary.success_rate < 100
    assert summary.by_state.get("closed", 0) > 0 and summary.visits > 0 and summary.calls > 0
    from datetime import datetime
    from zoneinfo import ZoneInfo

    rows = statistics(
        personas.admin,
        datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2026, 7, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
        "category",
    )
    assert sum(r["intake"] for r in rows) == summary.disputes
    with pytest.raises(RuntimeError, match="already"):
        generate_demo_mediation(seed=3, scale=1.0, days=5, progress=None)
