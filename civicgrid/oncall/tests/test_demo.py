"""The demo: postings and a small year of summonses through the actions; a second run refuses."""

from datetime import date

import pytest
from django.core.management import call_command

from civicgrid.cases.models import CaseAction
from civicgrid.demo.oncall import SUMMONS_PER_YEAR, demo_oncall_loaded, generate_demo_oncall
from civicgrid.oncall.models import StaffPosting, Summons
from civicgrid.oncall.selectors import summons_statistics


def test_the_demo_posts_staff_and_makes_summonses(personas):
    lines = []
    summary = generate_demo_oncall(seed=3, scale=0.02, end=date(2026, 11, 1), progress=lines.append)
    assert summary.postings == StaffPosting.objects.count() > 20
    assert (
        summary.new_logins >= 1
        and StaffPosting.objects.filter(person__user__username="oncall").exists()
    )
    assert (
        summary.cases == round(SUMMONS_PER_YEAR * 0.02) + 4
        and Summons.objects.count() == summary.summonses["sent"]
    )
    assert Summons.objects.filter(state="done").count() == summary.summonses.get("done", 0) > 0
    # Each done summons is on its case's timeline; the figures add up.
    done = Summons.objects.filter(state="done").first()
    assert CaseAction.objects.filter(case=done.case, action="summon_done").exists()
    total = summons_statistics(personas.county, start=date(2025, 11, 1), end=date(2026, 11, 1))[-1]
    assert total["sent"] == Summons.objects.count()
    assert demo_oncall_loaded() and lines[-1].startswith("[") and "done:" in lines[-1]
    with pytest.raises(RuntimeError):
        generate_demo_oncall(seed=3, scale=0.02)
    call_command("load_demo_oncall", verbosity=0)  # the command says so and does nothing
    assert StaffPosting.objects.count() == summary.postings
