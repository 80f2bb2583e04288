"""The cockpit's KPI panel and league tables read the case KPIs of a county or township from
the daily summary (``analytics.rollup``) and give the figures of the direct computation
(``kpis.compute`` / ``compute_by``) as of the summary's last refresh (issue 11, target 2).

The fixture of ``test_kpis`` (March 2026, two townships of the demo county, cases made
through the real actions); "now" is 31 March 10:00, so "this month" is March.
"""

from django.utils import timezone

from civicgrid.analytics import cockpit, kpis, rollup
from civicgrid.analytics.tests.test_rollup import cases_world  # noqa: F401 (fixture)
from civicgrid.cases import actions as A
from civicgrid.cases.tests.conftest import at  # noqa: F401 (fixture)

LIZHOU = "330281001"


def _direct_panel(user, place, now):
    last_start, this_start, _next = cockpit.month_bounds(timezone.localtime(now).date())
    current = kpis.compute(this_start, now, region_code=place.code, user=user)
    previous = kpis.compute(last_start, this_start, region_code=place.code, user=user)
    return {
        code: (cockpit._number(current[code]), cockpit._number(previous[code]))
        for code in kpis.KPIS
    }


def _panel(user, place, now):
    return {r["code"]: (r["value"], r["last"]) for r in cockpit.kpi_panel(user, place, now)}


def _direct_league(user, place, group, now):
    _last, this_start, _next = cockpit.month_bounds(timezone.localtime(now).date())
    codes = cockpit.league_codes()
    return {
        row["key"]: {c: cockpit._number(row[c]) for c in codes}
        for row in kpis.compute_by(
            group, this_start, now, region_code=place.code, codes=codes, user=user
        )
    }


def _league(rows):
    codes = cockpit.league_codes()
    return {row["key"]: {c: row[c] for c in codes} for row in rows}


def test_the_panel_and_leagues_equal_the_direct_computation(cases_world):  # noqa: F811
    leader = cases_world.p.leader
    now = timezone.now()
    rollup.refresh()
    for code in ("330281", LIZHOU):
        place = cockpit.access_place(leader, code)
        assert cockpit._rollup(place, None) is rollup  # the summary answers here
        expected = _direct_panel(leader, place, now)
        assert _panel(leader, place, now) == expected, code
        assert any(value is not None for value, _last in expected.values())
        leagues = cockpit.leagues(leader, place, now)
        assert _league(leagues["places"]) == _direct_league(leader, place, place.child_level, now)
        assert _league(leagues["departments"]) == _direct_league(leader, place, "department", now)
        assert leagues["places"] and leagues["departments"], code  # (the county: townships;
        # 梨洲: its villages; both: 派出所, 执法中队 — all from the summary here)
    county = cockpit.access_place(leader, "330281")
    assert _league(cockpit.leagues(leader, county, now)["places"])  # Lizhou has a row
    # The figures as counted by hand in test_kpis / test_rollup.
    panel = {r["code"]: r for r in cockpit.kpi_panel(leader, county, now)}
    assert panel["accept_rate"]["value"] == round(100 * 6 / 9, 2)
    assert panel["overdue_rate"]["value"] == 50.0  # C3 and C8 open past due, C4 late


def test_the_summary_is_as_of_its_refresh(cases_world, at):  # noqa: F811
    leader = cases_world.p.leader
    county = cockpit.access_place(leader, "330281")
    rollup.refresh()
    now = at(2026, 3, 31, 11)
    before = _panel(leader, county, now)
    lat, lng = cases_world.point()
    A.do_report_case(actor=None, channel="resident", description="又一件", lat=lat, lng=lng)
    now = at(2026, 3, 31, 11, 5)
    # Until the next refresh (a minute with tick) the panel says what the summary says …
    summary = set(rollup.ROLLUP_KPIS)
    after, direct = _panel(leader, county, now), _direct_panel(leader, county, now)
    assert {c: after[c] for c in summary} == {c: before[c] for c in summary}
    assert after["accept_rate"] != direct["accept_rate"]  # the new case is not in it yet
    # (the KPIs outside the summary are computed directly: they have the new case)
    assert all(after[c] == direct[c] for c in kpis.KPIS if c not in summary)
    # … and then the direct figures again.
    rollup.refresh()
    assert _panel(leader, county, now) == _direct_panel(leader, county, now)


def test_without_a_summary_or_for_a_village_it_computes_directly(cases_world):  # noqa: F811
    leader = cases_world.p.leader
    now = timezone.now()
    county = cockpit.access_place(leader, "330281")
    assert cockpit._rollup(county, None) is None  # never refreshed
    assert _panel(leader, county, now) == _direct_panel(leader, county, now)
    rollup.refresh()
    village = cockpit.access_place(leader, cases_world.grid.village.code)
    assert cockpit._rollup(village, None) is None
    assert _panel(leader, village, now) == _direct_panel(leader, village, now)


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _shown(page: str, code: str) -> str:
    """The "this month" cell of KPI ``code`` on the cockpit page."""
    import re

    row = re.search(rf'data-kpi="{code}">\s*<td>[^<]*</td>\s*<td class="num[^"]*">([^<%]*)', page)
    return row.group(1).strip()


def _as_of(page: str) -> str:
    """The cockpit's "as of" time, local, to the minute."""
    import re

    return re.search(r'id="cp-updated".*?<time [^>]*>([^<]+)</time>', page, re.S).group(1)


def test_the_page_keeps_its_aggregates_until_the_next_tick(cases_world, client, at):  # noqa: F811
    from django.urls import reverse

    leader = cases_world.p.leader
    client.force_login(leader)
    url = reverse("cockpit") + "?region=330281"
    rollup.refresh()
    first = _queries(client, url)
    again = _queries(client, url)
    # session, user, grants, place, the summary's state; the rest from the cache
    assert again <= 8 < first, (first, again)
    # cold, from the summary: 36 (43 before session 19: the KPIs other than the summary's,
    # the trends, numbers and places below read the cases); 3 fewer once the view passes
    # the mark it has to today_numbers, trends and children
    assert first <= 36, first
    page = client.get(url).content.decode()
    assert _shown(page, "accept_rate") == str(round(100 * 6 / 9, 2))
    assert _shown(page, "repeat_rate") == str(
        _direct_panel(leader, cockpit.access_place(leader, "330281"), timezone.now())[
            "repeat_rate"
        ][0]
    )
    # A new case: the page says the same until the next tick, then has it.
    lat, lng = cases_world.point()
    A.do_report_case(actor=None, channel="resident", description="又一件", lat=lat, lng=lng)
    at(2026, 3, 31, 10, 5)
    later = client.get(url).content.decode()
    for code in ("accept_rate", "repeat_rate"):
        assert _shown(later, code) == _shown(page, code)
    # …and says of when: the time the kept figures were computed, not the request's
    assert _as_of(later) == _as_of(page) != "2026-03-31 10:05"
    rollup.refresh()
    assert _queries(client, url) > again  # computed again
    after = client.get(url).content.decode()
    assert _as_of(after) == "2026-03-31 10:05"
    county = cockpit.access_place(leader, "330281")
    direct = _direct_panel(leader, county, timezone.now())
    assert _shown(after, "accept_rate") == str(direct["accept_rate"][0]) == str(60.0)
    assert _shown(after, "repeat_rate") == str(direct["repeat_rate"][0])
    assert _shown(after, "repeat_rate") != _shown(page, "repeat_rate")


def test_numbers_trends_and_places_below_equal_the_direct_computation(cases_world):  # noqa: F811
    """The screen's other aggregates from the summary (``mark`` looked up) and from the cases
    (``mark=None``: no summary) agree, as of the summary's refresh."""
    from civicgrid.cases.models import Case

    leader = cases_world.p.leader
    lat, lng = cases_world.point()
    A.do_report_case(
        actor=None, channel="resident", description="急", lat=lat, lng=lng, urgent=True
    )
    A.do_supervise_case(
        Case.objects.get(state="in_progress"), actor=leader, level=1, reason="久拖不决"
    )
    now = timezone.now()
    rollup.refresh()
    for code in ("330281", LIZHOU):
        place = cockpit.access_place(leader, code)
        numbers = cockpit.today_numbers(place, now)
        assert numbers == cockpit.today_numbers(place, now, mark=None), code
        assert all(numbers[k] for k in ("open", "overdue", "urgent", "supervised", "intake_today"))
        trend = cockpit.trends(place, now)
        assert trend == cockpit.trends(place, now, mark=None), code
        assert sum(trend["intake"]) and sum(trend["closed"]), trend
        below = cockpit.children(place, now)
        assert below == cockpit.children(place, now, mark=None), code
        assert any(row["open"] and row["overdue"] and row["intake30"] for row in below)


def test_the_30_days_reported_start_at_the_instant_30_days_ago(cases_world, at):  # noqa: F811
    """Places below: "reported in 30 days" is from this instant 30 days ago, not from that
    day's midnight — the summary's whole days plus that day's cases from the instant."""
    leader = cases_world.p.leader
    place = cockpit.access_place(leader, LIZHOU)
    counts = {}
    for minute in (30, 50):  # 2 March 08:30 / 08:50 30 days before: C1 08:40, C2, C3, C5 08:45
        now = at(2026, 4, 1, 8, minute)
        rollup.refresh()
        below = cockpit.children(place, now)
        assert below == cockpit.children(place, now, mark=None)
        counts[minute] = sum(row["intake30"] for row in below)
    assert counts[50] == counts[30] - 4


def test_the_summary_answers_the_cold_screen_in_few_queries(
    cases_world,  # noqa: F811
    django_assert_max_num_queries,  # noqa: F811
):
    """A cold cockpit (the first request after a tick) reads the summary, not the cases:
    a fixed number of queries per part, whatever the number of cases."""
    leader = cases_world.p.leader
    rollup.refresh()
    place = cockpit.access_place(leader, "330281")
    mark = cockpit.tick_mark()
    with django_assert_max_num_queries(2):  # the open cases' sums, today's closures
        cockpit.today_numbers(place, mark=mark)
    with django_assert_max_num_queries(2):  # intake, closures per day
        cockpit.trends(place, mark=mark)
    with django_assert_max_num_queries(3):  # the summary's sums, the edge day's cases, names
        cockpit.children(place, mark=mark)
