from civicgrid.inspection.actions import do_generate_due_visits, do_record_visit
from civicgrid.inspection.models import VisitRule


def test_the_admin_lists_inspection_rows_in_scope(world, login, at):
    person = world.resident("甲")
    do_generate_due_visits(now=at(2025, 10, 9, 9))
    do_record_visit(person, actor=world.p.grid1, outcome="seen")
    for model in ("visitrule", "visitoverride", "duevisit", "visit"):
        assert login(world.p.lizhou).get(f"/admin/inspection/{model}/").status_code == 200
    page = login(world.p.lizhou).get("/admin/inspection/visit/").content.decode()
    assert "甲" in page
    assert "甲" not in login(world.p.fengshan).get("/admin/inspection/visit/").content.decode()


def test_the_county_changes_a_rule_in_the_admin_and_a_township_cannot(world, login):
    url = f"/admin/inspection/visitrule/{world.rule.pk}/change/"
    form = {
        "cadence": "monthly",
        "follows_working_days": "on",
        "responsible_role": "grid_worker",
        "checklist": '["门窗"]',
        "active": "on",
    }
    login(world.p.lizhou).post(url, form)
    assert VisitRule.objects.get(pk=world.rule.pk).cadence == "weekly"
    login(world.p.county).post(url, form)
    rule = VisitRule.objects.get(pk=world.rule.pk)
    assert (rule.cadence, rule.checklist) == ("monthly", ["门窗"])


def test_the_admin_lists_walks_in_scope(world, login, at):
    from datetime import datetime

    from civicgrid.inspection.actions import do_record_patrol

    from .conftest import SHANGHAI

    at(2025, 10, 10, 12)
    do_record_patrol(
        world.grid, actor=world.p.grid1, started_at=datetime(2025, 10, 10, 9, tzinfo=SHANGHAI)
    )
    own = login(world.p.lizhou).get("/admin/inspection/patrol/").content.decode()
    assert world.grid.name in own
    other = login(world.p.fengshan).get("/admin/inspection/patrol/").content.decode()
    assert world.grid.name not in other
    assert "/admin/inspection/patrol/add/" not in other
