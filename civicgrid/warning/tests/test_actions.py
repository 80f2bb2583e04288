"""The actions on a signal: who may act, the state table, the audit trail; the selectors the
daily report and the cockpit call."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from civicgrid.campaigns.models import Campaign
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.warning import actions
from civicgrid.warning.selectors import signals_for_report, signals_geojson, signals_visible_to
from civicgrid.warning.tests.conftest import DAY, make_signal


def test_a_township_sees_a_cluster_across_its_border_but_only_the_county_acts_on_it(places):
    signal = make_signal(places.category, [places.grid.code, places.other_grid.code])
    assert signal.region_code == "330281"
    assert signals_visible_to(places.p.lizhou).filter(pk=signal.pk).exists()
    with pytest.raises(ActionRefused, match="may not act"):
        actions.do_acknowledge_signal(signal, actor=places.p.lizhou)
    with pytest.raises(ActionRefused):
        actions.do_acknowledge_signal(signal, actor=places.p.auditor)  # sees, may not handle
    actions.do_acknowledge_signal(signal, actor=places.p.leader)
    signal.refresh_from_db()
    assert signal.state == "acknowledged"
    event = AuditEvent.objects.filter(action="warning.signal.acknowledge").latest("id")
    assert event.target_id == str(signal.pk) and event.actor_id == places.p.leader.pk


def test_the_state_table_refuses_steps_and_says_what_is_possible(places):
    signal = make_signal(places.category, [places.grid.code])
    with pytest.raises(ValidationError) as error:
        actions.do_dismiss_signal(signal, actor=places.p.county, reason="")
    assert "reason" in error.value.message_dict
    actions.do_dismiss_signal(signal, actor=places.p.county, reason="重复上报")
    with pytest.raises(ActionRefused, match="the signal is “Dismissed”. Possible now: —"):
        actions.do_campaign_from_signal(
            signal, actor=places.p.county, title="x", start=DAY, end=DAY
        )
    with pytest.raises(ActionRefused, match="“Turn into a case” is not possible"):
        actions.do_case_from_signal(signal, actor=places.p.county)
    assert not Campaign.objects.filter(title="x").exists()
    assert [s.action for s in signal.steps.all()] == ["detect", "dismiss"]


def test_a_township_turns_its_own_signal_into_its_own_campaign(places):
    signal = make_signal(places.category, [places.grid.code])
    signal = actions.do_campaign_from_signal(
        signal,
        actor=places.p.lizhou,
        title="梨洲僵尸车清理",
        start=DAY,
        end=DAY + timedelta(days=14),
    )
    assert signal.state == "campaign"
    assert signal.campaign.region_code == places.grid.code[:9]  # the township organises it
    assert AuditEvent.objects.filter(action="campaigns.campaign.create").exists()
    assert AuditEvent.objects.filter(action="warning.signal.campaign").exists()


def test_a_temporal_signal_belongs_to_its_area(places):
    town = make_signal(places.category, [places.grid.code[:9]], method="temporal")
    county = make_signal(places.category, ["330281"], method="temporal")
    assert town.grid_codes == [] and town.region_code == places.grid.code[:9]
    visible = set(signals_visible_to(places.p.lizhou).values_list("pk", flat=True))
    assert town.pk in visible and county.pk not in visible
    assert {town.pk, county.pk} <= set(
        signals_visible_to(places.p.county).values_list("pk", flat=True)
    )


def test_configuring_is_the_centres_and_validated(places):
    with pytest.raises(ActionRefused):
        actions.do_configure_warning(places.category, actor=places.p.lizhou, threshold_days=365)
    with pytest.raises(ValidationError) as error:
        actions.do_configure_warning(
            places.category, actor=places.p.county, methods=["magic"], max_days=0
        )
    assert set(error.value.message_dict) == {"methods", "max_days"}
    setting = actions.do_configure_warning(places.category, actor=places.p.county, enabled=False)
    assert setting.enabled is False
    assert AuditEvent.objects.filter(action="warning.configure").exists()


def test_selectors_for_the_daily_report_and_the_cockpit(places):
    signal = make_signal(places.category, [places.grid.code])
    other = make_signal(places.category, [places.other_grid.code])
    rows = signals_for_report(DAY, DAY)
    row = next(r for r in rows if r["id"] == signal.pk)
    assert set(row) >= {
        "id",
        "category",
        "places",
        "period",
        "observed",
        "expected",
        "relative_risk",
        "recurrence_days",
        "state",
        "url",
    }
    assert row["observed"] == 20 and row["recurrence_days"] == 500
    assert row["url"] == f"/warnings/{signal.pk}/"
    only_lizhou = [r["id"] for r in signals_for_report(DAY, DAY, region_code=places.grid.code[:9])]
    assert only_lizhou == [signal.pk]
    assert signals_for_report(DAY + timedelta(days=1), DAY + timedelta(days=2)) == []
    geo = signals_geojson(places.p.lizhou)
    assert geo["type"] == "FeatureCollection"
    assert {f["properties"]["signal"] for f in geo["features"]} == {signal.pk}
    props = geo["features"][0]["properties"]
    assert set(props) >= {"category", "relative_risk", "recurrence_days", "state", "url"}
    assert {f["properties"]["signal"] for f in signals_geojson(places.p.county)["features"]} == {
        signal.pk,
        other.pk,
    }
    actions.do_dismiss_signal(other, actor=places.p.county, reason="误报")
    assert other.pk not in {
        f["properties"]["signal"] for f in signals_geojson(places.p.county)["features"]
    }
    assert signals_geojson(places.p.grid1)["features"] == []


def _finding(codes, day, observed, method="poisson"):
    from civicgrid.warning.actions import Finding

    return Finding(
        method=method,
        places=tuple(sorted(codes)),
        start=day - timedelta(days=2),
        end=day,
        observed=observed,
        expected=2.0,
        relative_risk=observed / 2.0,
        statistic=10.0,
        p_value=0.001,
        recurrence_days=1000.0,
    )


def test_the_growth_rule(places):
    from civicgrid.regions.models import Grid
    from civicgrid.warning.actions import do_store_findings

    neighbour = (
        Grid.objects.filter(code__startswith=places.grid.code[:9], kind="basic")
        .exclude(pk=places.grid.pk)
        .order_by("code")
        .first()
    )
    signal = make_signal(places.category, [places.grid.code], observed=20)
    actions.do_dismiss_signal(signal, actor=places.p.county, reason="先观察")
    day = DAY + timedelta(days=1)
    # a little more (20 → 23 < 20 + max(3, 4)): updated quietly, still dismissed
    result = do_store_findings(places.category, [_finding([places.grid.code], day, 23)], day)
    assert result == {"new": 0, "updated": 1, "grown": 0}
    signal.refresh_from_db()
    assert (signal.state, signal.observed, signal.last_run) == ("dismissed", 23, day)
    assert signal.methods == ["permutation", "poisson"]
    # 24 = 20 + max(3, 20 % of 20): grown, back to new for a second look
    day += timedelta(days=1)
    do_store_findings(places.category, [_finding([places.grid.code], day, 24)], day)
    signal.refresh_from_db()
    assert signal.state == "new" and signal.announced_observed == 24
    # turned into a campaign, then it spreads to a neighbouring grid: recorded, state kept
    signal = actions.do_campaign_from_signal(
        signal, actor=places.p.county, title="僵尸车清理", start=day, end=day + timedelta(days=9)
    )
    day += timedelta(days=1)
    result = do_store_findings(
        places.category, [_finding([places.grid.code, neighbour.code], day, 24)], day
    )
    assert result["grown"] == 1
    signal.refresh_from_db()
    assert signal.state == "campaign" and neighbour.code in signal.grid_codes
    assert list(signal.steps.values_list("action", flat=True)) == [
        "detect",
        "dismiss",
        "grow",
        "campaign",
        "grow",
    ]
    # long quiet, then the same grid again: a new episode, a new signal
    later = day + timedelta(days=30)
    assert (
        do_store_findings(places.category, [_finding([places.grid.code], later, 9)], later)["new"]
        == 1
    )
