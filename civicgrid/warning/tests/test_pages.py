"""The early-warning pages over HTTP: list, detail, map, export, steps, settings, scoping."""

import csv
import io
from datetime import timedelta

from django.test import Client
from django.urls import reverse

from civicgrid.campaigns.models import Campaign
from civicgrid.cases.models import Case
from civicgrid.warning.models import Signal, WarningSetting
from civicgrid.warning.tests.conftest import DAY, make_signal


def _client(user, language="en"):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_a_township_sees_its_own_signals_and_not_another_townships(places):
    mine = make_signal(places.category, [places.grid.code])
    theirs = make_signal(places.category, [places.other_grid.code])
    county = _client(places.p.county)
    page = county.get(reverse("warning_list")).content.decode()
    assert f"#{mine.pk}<" in page and f"#{theirs.pk}<" in page
    lizhou = _client(places.p.lizhou)
    page = lizhou.get(reverse("warning_list")).content.decode()
    assert f"#{mine.pk}<" in page and f"#{theirs.pk}<" not in page
    assert lizhou.get(reverse("warning_detail", args=[mine.pk])).status_code == 200
    assert lizhou.get(reverse("warning_detail", args=[theirs.pk])).status_code == 404
    assert lizhou.get(reverse("warning_map", args=[theirs.pk])).status_code == 404
    assert lizhou.post(reverse("warning_act", args=[theirs.pk, "acknowledge"])).status_code == 404
    exported = _csv(lizhou.get(reverse("warning_export", args=["csv"])))
    assert [row[0] for row in exported[1:]] == [str(mine.pk)]
    for user in (places.p.grid1, places.p.outsider):
        client = _client(user)
        assert client.get(reverse("warning_list")).status_code == 403
        assert client.get(reverse("warning_detail", args=[mine.pk])).status_code == 404
        assert client.get(reverse("warning_settings")).status_code == 403
    assert Client().get(reverse("warning_list")).status_code == 302  # to the login


def test_the_detail_page_shows_the_numbers_the_map_and_the_cases_behind(places, planter):
    planter.cluster([places.grid.code], [DAY - timedelta(days=1), DAY], per_day=3)
    planter.cluster([places.grid.code], [DAY - timedelta(days=20)], per_day=2)  # before
    signal = make_signal(places.category, [places.grid.code])
    behind = Case.objects.filter(grid=places.grid, description="planted")
    client = _client(places.p.county)
    page = client.get(reverse("warning_detail", args=[signal.pk])).content.decode()
    assert "The cases behind it (6)" in page
    for case in behind.filter(created__date__gte=DAY - timedelta(days=2)):
        assert reverse("case_detail", args=[case.code]) in page
    assert 'id="signal-map"' in page and reverse("warning_map", args=[signal.pk]) in page
    assert 'id="signal-series"' in page and "warning/signal.js" in page
    assert "<script>" not in page  # CSP: no inline script (json_script is data)
    assert 'id="acknowledge"' in page
    assert (
        "Space–time permutation scan: 20 observed, 2.5 expected, relative risk 8.0, "
        "recurrence interval 500 days"
    ) in page
    from django.utils import timezone

    assert f'name="start" value="{timezone.localdate().isoformat()}"' in page  # a date input
    geo = client.get(reverse("warning_map", args=[signal.pk])).json()
    assert [f["properties"]["code"] for f in geo["features"]] == [places.grid.code]
    assert geo["features"][0]["properties"]["url"] == reverse("warning_detail", args=[signal.pk])
    # the leader sees, but may not act: no forms
    leader_page = _client(places.p.auditor).get(reverse("warning_detail", args=[signal.pk]))
    assert leader_page.status_code == 200 and 'id="acknowledge"' not in leader_page.content.decode()


def test_list_filters_and_exports(places):
    open_signal = make_signal(places.category, [places.grid.code])
    other = make_signal(places.category, [places.other_grid.code], day=DAY - timedelta(days=30))
    Signal.objects.filter(pk=other.pk).update(state="dismissed", dismiss_reason="测试")
    client = _client(places.p.county)
    default = client.get(reverse("warning_list")).content.decode()
    assert f"#{open_signal.pk}<" in default and f"#{other.pk}<" not in default  # open only
    everything = client.get(reverse("warning_list"), {"state": "all"}).content.decode()
    assert f"#{other.pk}<" in everything
    by_town = client.get(reverse("warning_list"), {"state": "all", "town": places.grid.code[:9]})
    assert f"#{other.pk}<" not in by_town.content.decode()
    since = client.get(reverse("warning_list"), {"state": "all", "since": str(DAY)})
    assert f"#{other.pk}<" not in since.content.decode()
    rows = _csv(client.get(reverse("warning_export", args=["csv"]), {"state": "dismissed"}))
    assert rows[0][0] == "signal" and [r[0] for r in rows[1:]] == [str(other.pk)]
    xlsx = client.get(reverse("warning_export", args=["xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    assert client.get(reverse("warning_export", args=["pdf"])).status_code == 404
    bad = client.get(reverse("warning_list"), {"since": "not-a-date", "state": "nonsense"})
    assert bad.status_code == 200


def test_acknowledge_then_dismiss_over_http_and_refusals_explain_the_state(places):
    signal = make_signal(places.category, [places.grid.code])
    client = _client(places.p.lizhou)
    url = reverse("warning_act", args=[signal.pk, "acknowledge"])
    assert client.post(url, {"note": "看一下"}).status_code == 302
    signal.refresh_from_db()
    assert signal.state == "acknowledged"
    step = signal.steps.last()
    assert (step.action, step.actor, step.note) == ("acknowledge", places.p.lizhou, "看一下")
    again = client.post(url, follow=True)
    assert "“Acknowledge” is not possible: the signal is “Acknowledged”" in again.content.decode()
    assert signal.steps.count() == 2
    dismiss = reverse("warning_act", args=[signal.pk, "dismiss"])
    empty = client.post(dismiss, {"reason": "  "})
    assert empty.status_code == 400 and "Say why the signal is dismissed." in empty.content.decode()
    assert client.post(dismiss, {"reason": "停车场集中清理，非新问题"}).status_code == 302
    signal.refresh_from_db()
    assert signal.state == "dismissed" and signal.dismiss_reason == "停车场集中清理，非新问题"
    assert client.post(reverse("warning_act", args=[signal.pk, "nonsense"])).status_code == 404
    assert client.get(url).status_code == 405


def test_a_campaign_made_from_a_signal_links_back(places):
    signal = make_signal(places.category, [places.grid.code])
    client = _client(places.p.county)
    form = {
        "title": "城区僵尸车专项整治",
        "start": str(DAY + timedelta(days=1)),
        "end": str(DAY + timedelta(days=30)),
        "description": "由预警信号发起",
    }
    response = client.post(reverse("warning_act", args=[signal.pk, "campaign"]), form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    signal.refresh_from_db()
    campaign = Campaign.objects.get(title="城区僵尸车专项整治")
    assert signal.state == "campaign" and signal.campaign == campaign
    assert campaign.category == places.category and campaign.state == "draft"
    assert campaign.scope_codes == [places.grid.code]
    assert f'"warning_signal": {signal.pk}' in campaign.source
    assert reverse("warning_detail", args=[signal.pk]) in campaign.source
    page = client.get(reverse("warning_detail", args=[signal.pk])).content.decode()
    assert reverse("campaign_detail", args=[campaign.pk]) in page
    assert (
        reverse("warning_detail", args=[signal.pk])
        in client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    )
    # a form error (end before start) stays on the page, nothing is created
    other = make_signal(places.category, [places.other_grid.code])
    bad = client.post(
        reverse("warning_act", args=[other.pk, "campaign"]),
        {**form, "title": "倒序", "end": str(DAY - timedelta(days=3))},
    )
    assert bad.status_code == 400 and "ends before it starts" in bad.content.decode()
    assert not Campaign.objects.filter(title="倒序").exists()
    other.refresh_from_db()
    assert other.state == "new"


def test_a_case_made_from_a_signal_describes_it_and_links_back(places):
    signal = make_signal(places.category, [places.grid.code])
    client = _client(places.p.county)
    response = client.post(reverse("warning_act", args=[signal.pk, "case"]), {"description": ""})
    assert response.status_code == 302, response.content.decode()[-2000:]
    signal.refresh_from_db()
    case = signal.case
    assert signal.state == "case" and case.category == places.category
    assert case.region_code == places.grid.code
    assert f"Early warning #{signal.pk}" in case.description and "20 cases" in case.description
    page = client.get(reverse("warning_detail", args=[signal.pk])).content.decode()
    assert reverse("case_detail", args=[case.code]) in page


def test_the_centre_sets_a_categorys_parameters(places):
    client = _client(places.p.county)
    page = client.get(reverse("warning_settings"))
    assert page.status_code == 200 and "0101" in page.content.decode()
    url = reverse("warning_setting_edit", args=["0101"])
    assert client.get(url).status_code == 200
    form = {
        "enabled": "on",
        "methods": ["permutation", "temporal"],
        "max_days": 14,
        "max_cells": 20,
        "max_radius_km": 1.5,
        "threshold_days": 365,
        "min_cases": 4,
        "replicates": 999,
        "history_days": 365,
    }
    assert client.post(url, form).status_code == 302
    setting = WarningSetting.objects.get(category=places.category)
    assert (setting.max_days, setting.threshold_days, setting.methods) == (
        14,
        365,
        ["permutation", "temporal"],
    )
    assert setting.updated_by == places.p.county and not setting.fast
    bad = client.post(url, {**form, "threshold_days": 1})
    assert bad.status_code == 400
    assert client.get(reverse("warning_setting_edit", args=["01"])).status_code == 404
    lizhou = _client(places.p.lizhou)
    assert lizhou.get(url).status_code == 403
    assert lizhou.post(url, form).status_code == 403


def test_the_pages_speak_chinese(places):
    signal = make_signal(places.category, [places.grid.code])
    client = _client(places.p.county, language="zh-hans")
    listing = client.get(reverse("warning_list")).content.decode()
    assert "预警信号" in listing and "重现间隔（天）" in listing
    assert "Early-warning signals" not in listing and "recurrence interval" not in listing
    detail = client.get(reverse("warning_detail", args=[signal.pk])).content.decode()
    for text in ("背后的事件（0）", "转为专项行动", "新信号", "相对风险"):
        assert text in detail
    for text in ("The cases behind", "Turn into a campaign", "relative risk", "What you can do"):
        assert text not in detail
    settings_page = client.get(reverse("warning_settings")).content.decode()
    assert "报警阈值（重现间隔，天）" in settings_page and "alarm threshold" not in settings_page


def test_the_list_costs_the_same_queries_for_more_signals(places):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicgrid.regions.models import Grid

    grids = list(Grid.objects.filter(kind="basic").order_by("code")[:6])
    client = _client(places.p.county)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("warning_list")).status_code == 200
        return len(captured)

    for grid in grids[:2]:
        make_signal(places.category, [grid.code])
    few = queries()
    for grid in grids[2:]:
        make_signal(places.category, [grid.code])
    assert queries() == few


def test_the_admin_lists_signals_in_scope(places):
    mine = make_signal(places.category, [places.grid.code])
    theirs = make_signal(places.category, [places.other_grid.code])
    admin = _client(places.p.admin)
    page = admin.get("/admin/warning/signal/")
    assert page.status_code == 200
    assert f"/admin/warning/signal/{theirs.pk}/change/" in page.content.decode()
    lizhou = _client(places.p.lizhou).get("/admin/warning/signal/")
    assert lizhou.status_code == 200, lizhou.status_code  # only the township's rows
    body = lizhou.content.decode()
    assert f"/admin/warning/signal/{mine.pk}/change/" in body
    assert f"/admin/warning/signal/{theirs.pk}/change/" not in body


def test_no_page_fails_for_anyone(places):
    signal = make_signal(places.category, [places.grid.code])
    urls = [
        reverse("warning_list"),
        reverse("warning_list") + "?state=all&since=2026-13-01&town=x&category=nope&page=x",
        reverse("warning_export", args=["csv"]),
        reverse("warning_export", args=["xlsx"]),
        reverse("warning_map_open") + "?region=330281001",
        reverse("warning_map_open") + "?region=<script>",
        reverse("warning_detail", args=[signal.pk]),
        reverse("warning_map", args=[signal.pk]),
        reverse("warning_settings"),
        reverse("warning_setting_edit", args=["0101"]),
    ]
    for name in ("admin", "county", "leader", "lizhou", "fengshan", "grid1", "police"):
        client = _client(getattr(places.p, name))
        for url in urls:
            status = client.get(url).status_code
            assert status in {200, 403, 404}, (name, url, status)
        assert client.post(reverse("warning_act", args=[signal.pk, "dismiss"])).status_code in {
            302,
            400,
            404,
        }
