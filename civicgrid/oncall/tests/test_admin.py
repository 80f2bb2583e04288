"""The admin: scoped lists; a posting added there goes through the action."""

from django.urls import reverse

from civicgrid.oncall import actions as A
from civicgrid.oncall.models import StaffPosting


def test_the_admin_lists_within_scope_and_posts_through_the_action(oncall, world, login):
    staff = oncall.staff("oc-police")
    summons = A.do_summon(oncall.case(), oncall.post(staff), actor=oncall.room)
    client = login(oncall.room)  # lizhou is staff (may use the admin)
    page = client.get(reverse("admin:oncall_staffposting_changelist"))
    assert page.status_code == 200 and "oc-police" in page.content.decode()
    detail = client.get(reverse("admin:oncall_summons_change", args=[summons.pk]))
    assert detail.status_code == 200
    other = login(world.p.fengshan)
    listing = other.get(reverse("admin:oncall_staffposting_changelist")).content.decode()
    assert "oc-police" not in listing
    assert other.get(reverse("admin:oncall_summons_change", args=[summons.pk])).status_code in (
        302,
        403,
        404,
    )
    # Added in the admin: the action's checks apply (another person, same grid, later).
    second = oncall.staff("oc-police-2")
    client = login(oncall.room)
    response = client.post(
        reverse("admin:oncall_staffposting_add"),
        {
            "person": second.person.pk,
            "department": world.town_police.pk,
            "grid": world.grid.pk,
            "kind": "resident",
            "starts_on": "2026-01-01",
            "ends_on": "",
            "note": "",
        },
    )
    assert response.status_code == 302
    posting = StaffPosting.objects.get(person=second.person)
    assert posting.kind == "resident" and posting.created_by == oncall.room
