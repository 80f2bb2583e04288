"""The visit tests' data: a resident of grid1's grid owed a visit this week.

A key group of its own with a weekly rule on calendar days (due on Sunday), so the visit is on
"this week"'s list whatever day and holiday the tests run on.
"""


def seed(data: dict) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from civicgrid.inspection.actions import do_create_visit_rule, do_generate_due_visits
    from civicgrid.inspection.models import DueVisit
    from civicgrid.people.actions import do_create_person, do_tag_person
    from civicgrid.people.models import House, KeyGroup
    from civicgrid.regions.models import Grid

    admin = get_user_model().objects.get(username="admin")
    grid = Grid.objects.get(code=data["own_grid"]["code"])
    house = House.objects.filter(grid=grid, lat__isnull=False).order_by("code").last()
    group = KeyGroup.objects.create(code="browser_watch", name="重点关注对象")
    do_create_visit_rule(
        group,
        actor=admin,
        cadence="weekly",
        follows_working_days=False,
        checklist=["身体状况", "居住安全", "生活需求"],
    )
    person = do_create_person(
        name="赵阿婆", grid=grid, house=house, address=house.address, actor=admin
    )
    do_tag_person(person, group, actor=admin)
    do_generate_due_visits(now=timezone.now())
    due = DueVisit.objects.get(person=person)
    return {
        "person": person.pk,
        "name": person.name,
        "house": [house.lat, house.lng],
        "address": house.address,
        "due": due.pk,
    }
