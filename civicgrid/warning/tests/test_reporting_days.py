"""Reporting disturbance days: the centre marks them over HTTP, every detector leaves them out."""

import io
from datetime import timedelta

import openpyxl
from django.urls import reverse
from django.utils import timezone

from civicgrid.core.models import AuditEvent
from civicgrid.warning.models import ReportingDay, Signal
from civicgrid.warning.run import run_warnings
from civicgrid.warning.tests.conftest import DAY, LIZHOU, fast_settings
from civicgrid.warning.tests.test_pages import _client, _csv


def test_the_centre_marks_a_day_exports_it_and_takes_it_back(places):
    client = _client(places.p.county)
    url = reverse("warning_reporting_days")
    page = client.get(url)
    assert page.status_code == 200 and 'id="mark-day"' in page.content.decode()
    form = {"day": "2026-10-12", "kind": "publicity", "note": "随手拍 push on WeChat"}
    assert client.post(url, form).status_code == 302
    marked = ReportingDay.objects.get()
    assert (str(marked.day), marked.kind, marked.created_by) == (
        "2026-10-12",
        "publicity",
        places.p.county,
    )
    assert AuditEvent.objects.filter(action="warning.mark_day", actor=places.p.county).exists()
    listing = client.get(url).content.decode()
    assert "2026-10-12" in listing and "随手拍 push on WeChat" in listing

    again = client.post(url, form)  # a day is marked once
    assert again.status_code == 400 and "already marked" in again.content.decode()
    assert client.post(url, {**form, "day": "not a date"}).status_code == 400
    assert client.post(url, {**form, "day": "2026-10-13", "kind": "nonsense"}).status_code == 400
    assert ReportingDay.objects.count() == 1

    rows = _csv(client.get(reverse("warning_reporting_days_export", args=["csv"])))
    assert rows[0][:2] == ["day", "kind"] and rows[1][0] == "2026-10-12"
    assert rows[1][1].startswith("Publicity") and rows[1][2] == "随手拍 push on WeChat"
    xlsx = client.get(reverse("warning_reporting_days_export", args=["xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    assert [c.value for c in sheet[2]][2] == "随手拍 push on WeChat"
    assert client.get(reverse("warning_reporting_days_export", args=["pdf"])).status_code == 404

    remove = reverse("warning_reporting_day_remove")
    assert client.post(remove, {"day": "garbage"}).status_code == 302  # said, not a 500
    assert client.post(remove, {"day": "2026-02-30"}).status_code == 302  # no such date
    assert client.post(remove, {"day": "2026-10-12"}).status_code == 302
    assert not ReportingDay.objects.exists()
    assert AuditEvent.objects.filter(action="warning.unmark_day").count() == 1


def test_only_the_county_centre_marks_days(places):
    lizhou = _client(places.p.lizhou)
    url = reverse("warning_reporting_days")
    assert lizhou.get(url).status_code == 403
    assert lizhou.post(url, {"day": "2026-10-12", "kind": "outage"}).status_code == 403
    assert not ReportingDay.objects.exists()
    ReportingDay.objects.create(day=DAY, kind="outage", created=timezone.now())
    remove = reverse("warning_reporting_day_remove")
    assert lizhou.post(remove, {"day": str(DAY)}).status_code == 403
    assert ReportingDay.objects.filter(day=DAY).exists()


def test_the_pages_speak_chinese(places):
    client = _client(places.p.county, language="zh-hans")
    page = client.get(reverse("warning_reporting_days")).content.decode()
    assert "报送干扰日" in page and "Reporting disturbances" not in page
    settings_page = client.get(reverse("warning_settings")).content.decode()
    assert reverse("warning_reporting_days") in settings_page


def _plant(planter):
    """Background noise and a cluster in three grids of 梨洲 on the run's last three days."""
    fast_settings(planter.category, max_cells=5)
    planter.background(DAY - timedelta(days=60), DAY + timedelta(days=1))
    hot = planter.nearest(LIZHOU, 5)
    planter.cluster(hot[:3], [DAY - timedelta(days=i) for i in range(3)])
    return hot


def _mark(*days):
    for day in days:
        ReportingDay.objects.create(day=day, kind="publicity", created=timezone.now())


def test_a_marked_day_is_left_out_by_every_detector(planter):
    """The cluster's three days marked: nothing is found there; the same cluster with another
    day marked is found as before (the mark removes those days, not the category's run)."""
    hot = _plant(planter)
    _mark(*(DAY - timedelta(days=i) for i in range(3)))
    summary = run_warnings(DAY, categories=["0101"])
    assert summary["errors"] == [] and summary["new"] == 0, summary
    assert not Signal.objects.filter(category=planter.category).exists()

    ReportingDay.objects.all().delete()
    _mark(DAY - timedelta(days=10))
    summary = run_warnings(DAY, categories=["0101"])
    assert summary["new"] >= 1, summary
    signal = Signal.objects.get(category=planter.category, areas__code=hot[0])
    assert set(hot[:3]) <= set(signal.grid_codes)
