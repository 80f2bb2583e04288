"""Publishing a new version of the scheme from its page (the county centre only)."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from civicgrid.incentives import actions as A
from civicgrid.incentives.models import Nomination, RewardScheme

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_pages(client):
    client.cookies["django_language"] = "en"


def _post(rewards, **changes):
    """The page's own prefill, as a browser would send it back, with ``changes``."""
    data = {"name": "“141”高价值信息奖励办法", "version": "正式版"}
    data["valid_from"] = (timezone.localdate() + timedelta(days=1)).isoformat()
    for tier in rewards.scheme.tiers.all():
        data[f"{tier.criterion}_on"] = "on"
        data[f"{tier.criterion}_min"] = tier.amount_min
        data[f"{tier.criterion}_max"] = tier.amount_max
        data[f"{tier.criterion}_who"] = list(tier.nominators)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_county_publishes_a_new_version_from_the_page(rewards, client):
    p = rewards.p
    client.force_login(p.county)
    scheme_page = client.get(reverse("incentives_scheme")).content.decode()
    url = reverse("incentives_scheme_publish")
    assert url in scheme_page
    page = client.get(url)
    html = page.content.decode()
    # prefilled from the version in force
    assert page.status_code == 200 and 'value="3000"' in html and "高价值信息奖励办法" in html
    response = client.post(url, _post(rewards, crime_max=5000, opinion_on=None))
    assert response.status_code == 302 and response["Location"] == reverse("incentives_scheme")
    new = RewardScheme.objects.get(version="正式版")
    old = RewardScheme.objects.get(pk=rewards.scheme.pk)
    assert new.replaces == old and old.valid_to == timezone.localdate()
    assert sorted(new.tiers.values_list("criterion", flat=True)) == ["crime", "hazard", "loss"]
    crime = new.tiers.get(criterion="crime")
    assert (crime.amount_min, crime.amount_max) == (500, 5000)
    assert new.created_by == p.county


def test_township_staff_are_refused_with_a_form_error(rewards, client):
    client.force_login(rewards.p.lizhou)
    url = reverse("incentives_scheme_publish")
    assert url not in client.get(reverse("incentives_scheme")).content.decode()
    response = client.post(url, _post(rewards))
    assert response.status_code == 200
    assert "Only the county centre sets the reward scheme." in response.content.decode()
    assert RewardScheme.objects.count() == 1


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"hazard_min": 900, "hazard_max": 100}, "must not be below the lowest"),
        (
            {"hazard_on": None, "opinion_on": None, "loss_on": None, "crime_on": None},
            "at least one tier",
        ),
        ({"valid_from": "2019-06-01"}, "must start after the current one"),
        ({"valid_from": "2020-01-01"}, "must start after the current one"),
        ({"valid_from": "not a date", "name": ""}, "This field is required"),
        ({"loss_who": None}, "Say who may nominate"),
        ({"loss_min": None}, "Give the lowest amount"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(rewards, client, changes, message):
    client.force_login(rewards.p.county)
    response = client.post(reverse("incentives_scheme_publish"), _post(rewards, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert RewardScheme.objects.count() == 1
    assert RewardScheme.objects.get().valid_to is None


def test_old_nominations_keep_their_tier(rewards, client, at):
    p = rewards.p
    nomination = rewards.nominate(amount=900)
    old_tier = nomination.tier
    client.force_login(p.county)
    response = client.post(
        reverse("incentives_scheme_publish"),
        _post(rewards, hazard_min=100, hazard_max=600),
    )
    assert response.status_code == 302
    new = RewardScheme.objects.get(version="正式版")
    # the new version starts tomorrow; the old nomination is still judged by its own tier
    A.do_review_nomination(nomination, actor=p.lizhou)
    approved = A.do_approve_nomination(nomination, actor=p.county)
    approved.refresh_from_db()
    assert approved.tier == old_tier and approved.amount == 900
    assert approved.tier.scheme_id == rewards.scheme.pk != new.pk
    detail = client.get(reverse("incentives_nomination", args=[approved.pk])).content.decode()
    assert "900" in detail
    # from the day after tomorrow, new nominations use the new version's tiers
    later = timezone.localdate() + timedelta(days=2)
    fresh = rewards.closed_case("河边护栏断裂，存在落水隐患")
    at(later.year, later.month, later.day, 10)
    assert A.scheme_on("330281", timezone.localdate()) == new
    with pytest.raises(ValidationError):  # the old tier is no longer in force
        A.do_nominate_case(fresh, tier=old_tier, amount=500, evidence="消除隐患", actor=p.grid1)
    n2 = A.do_nominate_case(
        fresh,
        tier=new.tiers.get(criterion="hazard"),
        amount=500,
        evidence="消除隐患",
        actor=p.grid1,
    )
    assert n2.tier.scheme == new
    assert Nomination.objects.get(pk=nomination.pk).tier == old_tier


def test_the_publish_page_in_chinese_has_no_english_words(rewards, client):
    client.force_login(rewards.p.county)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("incentives_scheme_publish")).content.decode()
    main = html.split('<main id="main">', 1)[1]
    text = re.sub(r"<[^>]+>", " ", main)
    words = set(re.findall(r"[A-Za-z]{3,}", text)) - {"county"}
    assert not words, sorted(words)
