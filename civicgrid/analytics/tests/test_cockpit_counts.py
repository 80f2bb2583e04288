"""The cockpit's counts read the open cases by their own condition: the same figures as the
case list's overdue queue (``overdue_cases``) and as counting the cases one by one."""

from datetime import timedelta

from civicgrid.analytics import cockpit
from civicgrid.analytics.tests.test_rollup import cases_world  # noqa: F401 (fixture)
from civicgrid.cases import workflow
from civicgrid.cases.models import Case
from civicgrid.cases.selectors import overdue_cases
from civicgrid.cases.tests.conftest import at  # noqa: F401 (fixture)


def test_overdue_and_open_counts_match_the_queue(cases_world, at):  # noqa: F811
    county = cockpit.access_place(cases_world.p.leader, "330281")
    for moment in ((2026, 3, 2, 12), (2026, 3, 10, 12), (2026, 3, 31, 10)):
        now = at(*moment)
        numbers = cockpit.today_numbers(county, now)
        late = overdue_cases(now).filter(region_code__startswith="330281")
        assert numbers["overdue"] == late.count()
        assert numbers["open"] == Case.objects.filter(state__in=workflow.OPEN_STATES).count()
        towns = cockpit.children(county, now)
        assert sum(t["overdue"] for t in towns) == late.count()
        by_town = {t["code"]: t for t in towns}
        lizhou = Case.objects.filter(region_code__startswith="330281001")
        assert by_town["330281001"]["open"] == lizhou.filter(state__in=workflow.OPEN_STATES).count()
        since = now - timedelta(days=30)
        assert by_town["330281001"]["intake30"] == lizhou.filter(created__gte=since).count()
    assert numbers["overdue"] == 2  # C3 and C8 on 31 March


def test_the_summary_gives_the_same_counts(cases_world, at):  # noqa: F811
    """Read from the daily summary (refreshed at each moment, as tick does), the numbers and
    the places below are the direct ones — across deadlines passing and days changing."""
    from civicgrid.analytics import rollup

    county = cockpit.access_place(cases_world.p.leader, "330281")
    lizhou = cockpit.access_place(cases_world.p.leader, "330281001")
    # (from 10 March: the fixture's last step is on 9 March — "closed today" has no end)
    for moment in ((2026, 3, 10, 12), (2026, 3, 24, 12), (2026, 3, 31, 10), (2026, 4, 1, 8, 50)):
        now = at(*moment)
        rollup.refresh()
        for place in (county, lizhou):
            assert cockpit._rollup(place, None) is rollup
            direct = cockpit.today_numbers(place, now, mark=None)
            assert cockpit.today_numbers(place, now) == direct, (moment, place.code)
            assert cockpit.children(place, now) == cockpit.children(place, now, mark=None)
    assert direct["open"] and direct["overdue"]
