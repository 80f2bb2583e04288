"""The daily run finds a planted cluster, is idempotent, and updates a growing cluster."""

from datetime import timedelta

from django.core.management import call_command

from civicgrid.core.models import AuditEvent
from civicgrid.warning.models import SCAN_METHODS, Signal, SignalStep
from civicgrid.warning.run import run_warnings
from civicgrid.warning.tests.conftest import DAY, LIZHOU, fast_settings

SCANS = [m.value for m in SCAN_METHODS]


def _plant(planter, *, grids=3, days=3):
    fast_settings(planter.category, max_cells=5)
    planter.background(DAY - timedelta(days=60), DAY + timedelta(days=1))
    hot = planter.nearest(LIZHOU, 5)
    planter.cluster(hot[:grids], [DAY - timedelta(days=i) for i in range(days)])
    return hot


def test_the_daily_run_finds_a_planted_cluster_and_is_idempotent(planter):
    hot = _plant(planter)
    summary = run_warnings(DAY, categories=["0101"])
    assert summary["new"] >= 1, summary
    signal = Signal.objects.get(category=planter.category, areas__code=hot[0])
    assert set(hot[:3]) <= set(signal.grid_codes), signal.grid_codes
    assert len(signal.grid_codes) <= 5 and LIZHOU in signal.town_codes  # max_cells = 5
    assert signal.village_codes and all(len(c) == 12 for c in signal.village_codes)
    assert signal.region_code.startswith("330281") and signal.state == "new"
    assert signal.end == DAY and signal.start >= DAY - timedelta(days=7)
    assert signal.observed >= 36 and signal.relative_risk > 3
    assert signal.recurrence_days >= 100 and signal.first_run == DAY == signal.last_run
    assert signal.steps.get().action == "detect"

    counts = (Signal.objects.count(), SignalStep.objects.count(), AuditEvent.objects.count())
    before = Signal.objects.values().get(pk=signal.pk)
    again = run_warnings(DAY, categories=["0101"])
    assert again["new"] == again["updated"] == again["grown"] == 0, again
    after = (Signal.objects.count(), SignalStep.objects.count(), AuditEvent.objects.count())
    assert after == counts
    assert Signal.objects.values().get(pk=signal.pk) == before


def test_a_growing_cluster_is_updated_and_re_announced_not_duplicated(planter):
    from civicgrid.warning.actions import do_acknowledge_signal

    hot = _plant(planter)
    run_warnings(DAY, categories=["0101"])
    signal = Signal.objects.get(category=planter.category, areas__code=hot[0])
    do_acknowledge_signal(signal, actor=planter.p.county)
    scans = Signal.objects.filter(category=planter.category, method__in=SCANS)
    total = scans.count()
    # the next day: the same grids again, and the cluster spreads to two more grids
    nxt = DAY + timedelta(days=1)
    planter.cluster(hot[:5], [nxt], per_day=5)
    summary = run_warnings(nxt, categories=["0101"])
    assert summary["grown"] >= 1, summary
    assert scans.count() == total  # (a township's total may become a temporal signal)
    signal.refresh_from_db()
    assert signal.last_run == nxt and signal.first_run == DAY
    assert set(hot[:5]) <= set(signal.grid_codes)
    assert signal.state == "new"  # re-announced: it grew
    assert list(signal.steps.values_list("action", flat=True)) == ["detect", "acknowledge", "grow"]


def test_the_warn_command_backfills_a_range_and_prints_a_summary(planter, capsys):
    _plant(planter)
    call_command(
        "warn", "--from", str(DAY - timedelta(days=1)), "--to", str(DAY), "--category", "0101"
    )
    out = capsys.readouterr()
    assert "warn: 2 day(s)" in out.out and "new signal(s)" in out.out
    assert f"{DAY}:" in out.err
    assert Signal.objects.filter(category__code="0101", last_run=DAY).exists()


def test_too_few_cases_make_no_signal_and_a_failing_detector_does_not_stop_the_run(
    planter, monkeypatch
):
    from civicgrid.warning import detect

    fast_settings(planter.category, max_cells=5, min_cases=50)
    planter.background(DAY - timedelta(days=60), DAY)
    hot = planter.nearest(LIZHOU, 3)
    planter.cluster(hot, [DAY - timedelta(days=i) for i in range(3)])  # 36 cases < 50
    assert run_warnings(DAY, categories=["0101"])["new"] == 0

    fast_settings(planter.category, max_cells=5, min_cases=5)

    def broken(*args, **kwargs):
        raise OverflowError("math range error")

    monkeypatch.setattr(detect, "permutation_scan", broken)
    summary = run_warnings(DAY, categories=["0101"])
    assert summary["errors"] == ["0101 permutation scan: OverflowError('math range error')"]
    assert summary["new"] >= 1  # the Poisson scan and the temporal detector still ran
    assert Signal.objects.filter(category=planter.category, areas__code=hot[0]).exists()


def test_the_demo_replays_the_nightly_run(planter):
    from civicgrid.core.models import AuditEvent
    from civicgrid.demo.warning import generate_demo_warnings

    _plant(planter)
    summary = generate_demo_warnings(days=3, end=DAY + timedelta(days=1))
    assert (summary.first, summary.last, summary.days) == (DAY - timedelta(days=2), DAY, 3)
    assert summary.cluster_signals >= 1 and summary.by_category.get("0101", 0) >= 1
    assert AuditEvent.objects.filter(action="demo.warning").count() == 1


def test_the_demo_runs_older_nights_once_in_every(planter, monkeypatch):
    from civicgrid.demo import warning as demo_warning
    from civicgrid.warning.models import Signal

    _plant(planter)
    ran = []
    real = demo_warning.run_warnings
    monkeypatch.setattr(demo_warning, "DAILY", 2)
    monkeypatch.setattr(
        demo_warning, "run_warnings", lambda day, **kw: ran.append(day) or real(day, **kw)
    )
    summary = demo_warning.generate_demo_warnings(days=9, every=3, end=DAY + timedelta(days=1))
    # nights 9 … 1 before the end: the last two every night, before them one in three
    assert ran == [DAY - timedelta(days=n - 1) for n in (8, 5, 2, 1)]
    assert summary.days == 4 and summary.last == DAY
    assert Signal.objects.filter(category=planter.category).exists()


def test_cases_raised_by_a_campaigns_checks_do_not_count(planter):
    """A campaign's hazards cluster where it searches; they are effort, not a rise."""
    from django.utils import timezone

    from civicgrid.campaigns.actions import do_create_campaign
    from civicgrid.campaigns.models import CampaignCheck, CampaignTarget
    from civicgrid.cases.models import Case

    hot = _plant(planter)
    campaign = do_create_campaign(
        actor=planter.p.county,
        title="城区僵尸车排查",
        category=planter.category,
        start=DAY - timedelta(days=3),
        end=DAY,
        grids=hot[:3],
    )
    now = timezone.now()
    found = Case.objects.filter(description="planted", grid__code__in=hot[:3]).filter(
        created__date__gte=DAY - timedelta(days=3)
    )
    for i, case in enumerate(found):
        target = CampaignTarget.objects.create(
            campaign=campaign,
            kind="车辆",
            label=f"浙B{i:05d}",
            grid=case.grid,
            region_code=case.region_code,
            created=now,
        )
        CampaignCheck.objects.create(
            target=target,
            campaign=campaign,
            worker=planter.p.county,
            checked_at=case.created,
            hazard=True,
            region_code=case.region_code,
            case=case,
            created=now,
        )
    summary = run_warnings(DAY, categories=["0101"])
    assert summary["new"] == 0, summary
    CampaignCheck.objects.update(case=None)  # the same cases, not from a campaign: a cluster
    assert run_warnings(DAY, categories=["0101"])["new"] >= 1
