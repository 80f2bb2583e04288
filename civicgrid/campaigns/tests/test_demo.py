"""The demo's year of campaigns, small, on the test county."""

from datetime import date

from django.core.management import call_command

from civicgrid.campaigns.models import Campaign, CampaignCheck, CampaignTarget
from civicgrid.campaigns.selectors import RECTIFIED_STATES, progress
from civicgrid.demo.campaigns import CAMPAIGNS, generate_demo_campaigns


def test_the_demo_makes_eight_campaigns_with_checked_targets_and_cases(personas):
    summary = generate_demo_campaigns(seed=3, scale=0.1, end=date(2026, 11, 1), progress=None)
    assert summary.campaigns == len(CAMPAIGNS) == 8 and summary.error_count == 0, summary.errors
    states = sorted(Campaign.objects.values_list("state", flat=True))
    assert states == ["active"] + ["closed"] * 7
    warned = Campaign.objects.get(state="active")
    assert warned.category.code == "0101" and warned.source.startswith("研判预警")
    assert CampaignTarget.objects.count() == summary.targets > summary.hazards > 0
    hazards = CampaignCheck.objects.filter(hazard=True).select_related("case", "campaign")
    assert hazards.count() == summary.hazards
    assert all(h.case.category_id == h.campaign.category_id for h in hazards)
    rectified = hazards.filter(case__state__in=RECTIFIED_STATES).count()
    assert rectified == summary.rectified and rectified > 0.6 * summary.hazards
    # a township campaign stays in its township
    schools = Campaign.objects.get(title__contains="校园周边")
    assert schools.organiser_level == "town"
    assert (
        not CampaignTarget.objects.filter(campaign=schools)
        .exclude(region_code__startswith="330281001")
        .exists()
    )
    total = progress(personas.county, by="township")["total"]
    assert (total["targets"], total["hazards"], total["rectified"]) == (
        summary.targets,
        summary.hazards,
        summary.rectified,
    )
    # a second run does nothing
    assert generate_demo_campaigns(seed=3, scale=0.1, progress=None) is None
    call_command("load_demo_campaigns", scale=0.1, stdout=__import__("io").StringIO())
    assert Campaign.objects.count() == 8
