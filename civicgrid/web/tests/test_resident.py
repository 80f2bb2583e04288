"""Residents report without an account (mobile number proven by an SMS code) and follow
their case by its code."""

import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from civicgrid.cases.actions import do_report_case
from civicgrid.cases.models import Case
from civicgrid.people.actions import do_send_phone_code, do_verify_phone_code
from civicgrid.people.models import PhoneChallenge

PHONE = "13905741234"


def _client():
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def _sent_code(caplog) -> str:
    texts = [r.getMessage() for r in caplog.records if r.name == "civicgrid.notifications"]
    return re.findall(r"\b(\d{6})\b", texts[-1])[-1]


def _form(world, **extra):
    lat, lng = world.point()
    data = {
        "phone": PHONE,
        "code": "",
        "name": "张三",
        "description": "楼道灯坏了一个星期，电话13905741234",
        "address": "",
        "lat": lat,
        "lng": lng,
        "idempotency_key": "page-1",
    }
    data.update(extra)
    return data


def test_a_resident_reports_with_an_sms_code_and_follows_the_case(
    world, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="civicgrid.notifications")
    client = _client()
    page = client.get(reverse("resident_report")).content.decode()
    assert 'name="phone"' in page and "Send me a code" in page
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(reverse("resident_report"), {**_form(world), "step": "send_code"})
    assert sent.status_code == 200 and "A code was sent" in sent.content.decode()
    code = _sent_code(caplog)
    assert PhoneChallenge.objects.count() == 1
    assert not PhoneChallenge.objects.filter(code_hash__contains=code).exists()

    made = client.post(reverse("resident_report"), {**_form(world, code=code), "step": "report"})
    assert made.status_code == 302
    case = Case.objects.get(code=made["Location"].rstrip("/").split("/")[-1])
    reporter = case.reporters.get()
    assert case.channel == "resident" and case.reported_by is None
    assert reporter.phone_masked == "139****1234" and PHONE not in reporter.phone_cipher
    # The same page submitted again (a retry) gives the same case.
    again = client.post(reverse("resident_report"), {**_form(world, code=code), "step": "report"})
    assert again["Location"] == made["Location"]
    # A second report in the same visit needs no new code.
    other = client.post(
        reverse("resident_report"),
        {**_form(world, description="井盖缺失", idempotency_key="page-2"), "step": "report"},
    )
    assert other.status_code == 302 and other["Location"] != made["Location"]

    tracked = _client().get(made["Location"]).content.decode()
    assert case.code in tracked and "Reported" in tracked
    assert PHONE not in tracked and "张三" not in tracked


def test_wrong_codes_are_refused_and_a_code_allows_five_tries(
    world, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="civicgrid.notifications")
    client = _client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("resident_report"), {**_form(world), "step": "send_code"})
    code = _sent_code(caplog)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(reverse("resident_report"), {**_form(world, code=wrong)})
    assert response.status_code == 200 and "The code is wrong" in response.content.decode()
    for _ in range(4):
        client.post(reverse("resident_report"), {**_form(world, code=wrong)})
    # Five tries used: even the right code no longer works.
    response = client.post(reverse("resident_report"), {**_form(world, code=code)})
    assert response.status_code == 200 and not Case.objects.filter(channel="resident").exists()


def test_codes_are_limited_per_number(db):
    do_send_phone_code(PHONE)
    with pytest.raises(Exception, match="wait a minute"):
        do_send_phone_code(PHONE)
    with pytest.raises(Exception, match="mobile"):
        do_send_phone_code("0574-62345678")
    with pytest.raises(Exception, match="wrong"):
        do_verify_phone_code(PHONE, "12ab56")


def test_unpublished_and_unknown_cases_are_not_tracked(world, db):
    region = world.grid.village.parent
    legal = do_report_case(
        actor=world.p.lizhou,
        channel="hotline_12348",
        description="邻里纠纷",
        region=region,
    )
    client = _client()
    assert client.get(reverse("track_case", args=[legal.code])).status_code == 404
    assert client.get(reverse("track_case", args=["NO-SUCH"])).status_code == 404
    assert client.get(reverse("track"), {"code": legal.code}).status_code == 302
