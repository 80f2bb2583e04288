"""联合执法 from the command room: plan with departments and cases, then record results."""

from django.test import Client
from django.urls import reverse

from civicgrid.cases import actions as A
from civicgrid.cases.models import JointOperation


def test_the_command_room_plans_a_joint_operation_and_records_results(personas, world):
    lat, lng = world.point()
    case = A.do_report_case(actor=None, channel="resident", description="占道", lat=lat, lng=lng)
    client = Client()
    client.force_login(personas.lizhou)
    client.cookies["django_language"] = "en"
    assert "Plan a joint operation" in client.get(reverse("operations")).content.decode()
    response = client.post(
        reverse("operations"),
        {
            "title": "夜市占道整治",
            "planned_for": "2026-12-01T19:00",
            "place": "人民路夜市",
            "departments": [world.town_police.pk, world.town_law.pk],
            "cases": case.code,
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    operation = JointOperation.objects.get(title="夜市占道整治")
    assert list(operation.cases.all()) == [case]
    # Too few departments is an error on the form, not a 500.
    bad = client.post(
        reverse("operations"),
        {
            "title": "x",
            "planned_for": "2026-12-01T19:00",
            "place": "y",
            "departments": [world.town_police.pk],
        },
    )
    assert bad.status_code == 200 and "at least two departments" in bad.content.decode()
    client.post(reverse("operation_result", args=[operation.pk]), {"results": "清理摊位12处"})
    operation.refresh_from_db()
    assert operation.results == "清理摊位12处" and operation.state == "done"
    assert case.actions.filter(action="joint_operation").exists()
    # Another township neither sees nor records it.
    other = Client()
    other.force_login(personas.fengshan)
    assert "夜市占道整治" not in other.get(reverse("operations")).content.decode()
    assert (
        other.post(reverse("operation_result", args=[operation.pk]), {"results": "x"}).status_code
        == 404
    )
