"""The incentives demo on a month of demo cases: real actions, sane results, one run only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.core.audit import verify_chain
from civicgrid.demo.cases import generate_demo_cases
from civicgrid.demo.incentives import demo_incentives_loaded, generate_demo_incentives
from civicgrid.incentives.models import Nomination, RewardEntry, RewardScheme, TypicalCase


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_the_demo_rewards_closed_cases_and_writes_up_typical_cases(db):
    generate_demo_cases(
        seed=3, days=60, scale=0.3, end=timezone.localdate() - timedelta(days=1), progress=None
    )
    summary = generate_demo_incentives(seed=5, scale=0.05, progress=None)
    assert demo_incentives_loaded()
    nominations = Nomination.objects.select_related("case")
    assert summary.nominations == nominations.count() >= 30
    assert {n.case.state for n in nominations} <= {"closed", "archived"}
    states = set(nominations.values_list("state", flat=True))
    assert "approved" in states
    # every approval paid, every revocation reversed: the ledger nets to the approved amounts
    approved = sum(nominations.filter(state="approved").values_list("amount", flat=True))
    assert sum(RewardEntry.objects.values_list("amount", flat=True)) == approved
    assert RewardScheme.objects.filter(version="试行").exists()
    published = TypicalCase.objects.filter(state="published")
    assert summary.typical_cases == published.count() == 12
    assert all("虚构" in t.title for t in published)
    assert list(verify_chain()) == []
    with pytest.raises(RuntimeError, match="already"):
        generate_demo_incentives(seed=5, scale=0.05, progress=None)
