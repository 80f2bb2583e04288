"""Stored-script payloads in every kind of text a person can type and others will read: a
case (description, address, reporter name), a dispute (title, description, party name) and a
campaign (title, description), all written through the real actions by people allowed to."""

# Markup that would become an element if a page printed it unescaped, or run if scripts were
# allowed: the test looks for the elements, for the marker variable and for dialogs.
PAYLOAD = (
    '<script>window.__xss="script"</script>'
    "<img src=x id=xss-img onerror=\"window.__xss='img'\">"
    '"><svg id=xss-svg onload="window.__xss=\'svg\'"></svg>'
    "{{ 7|add:7 }}"
)


def seed(data: dict) -> dict:
    from datetime import date, timedelta

    from django.contrib.auth import get_user_model

    from civicgrid.campaigns.actions import do_create_campaign
    from civicgrid.cases.actions import do_report_case
    from civicgrid.cases.models import Category
    from civicgrid.mediation.actions import do_register_dispute
    from civicgrid.regions.models import Grid

    users = get_user_model().objects
    grid1, lizhou = users.get(username="grid1"), users.get(username="lizhou")
    grid = Grid.objects.get(code=data["own_grid"]["code"])
    lat, lng = data["own_grid"]["point"]
    category = Category.objects.get(code="0101")
    case = do_report_case(
        actor=grid1,
        channel="grid_worker",
        description="僵尸车 " + PAYLOAD,
        category=category,
        lat=lat,
        lng=lng,
        address="路口 " + PAYLOAD[:150],
        reporter_name="<b id=xss-name>张</b>",
    )
    dispute = do_register_dispute(
        actor=lizhou,
        title="邻里纠纷 <i id=xss-title>x</i>",
        description="噪音 " + PAYLOAD,
        category="02",
        source="reception",
        grid=grid,
        parties=[
            {"role": "applicant", "kind": "natural", "name": "<u id=xss-party>王</u>"},
            {"role": "respondent", "kind": "natural", "name": "李<script>x</script>"},
        ],
    )
    today = date.today()
    campaign = do_create_campaign(
        actor=lizhou,
        title="整治 <i id=xss-campaign>x</i>",
        category=category,
        start=today,
        end=today + timedelta(days=30),
        region_codes=[grid.code[:9]],
        description=PAYLOAD,
    )
    return {"case": case.code, "dispute": dispute.code, "campaign": campaign.pk}
