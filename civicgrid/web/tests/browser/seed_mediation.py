"""The mediation tests' data: the 梨洲街道 centre, a marriage-and-family mediation studio and
its mediator with a login (``med-studio``, the demo password), all through the actions."""


def seed(data: dict) -> dict:
    from django.contrib.auth import get_user_model

    from civicgrid.core.roles import Role
    from civicgrid.demo.loader import DEMO_PASSWORD
    from civicgrid.mediation.actions import do_save_mediator, do_save_org
    from civicgrid.mediation.models import MediationOrg, Mediator
    from civicgrid.people.actions import do_assign_role, do_create_login, do_create_person
    from civicgrid.regions.models import Grid

    admin = get_user_model().objects.get(username="admin")
    grid = Grid.objects.get(code=data["own_grid"]["code"])
    town = grid.code[:9]
    do_save_org(
        actor=admin,
        code="BT-CENTRE",
        name="梨洲街道矛调中心",
        kind=MediationOrg.Kind.CENTRE,
        region_code=town,
    )
    studio = do_save_org(
        actor=admin,
        code="BT-STUDIO",
        name="老娘舅婚姻家庭调解工作室",
        kind=MediationOrg.Kind.STUDIO,
        region_code=town,
        specialities=["01", "02"],
    )
    person = do_create_person(name="王调解", region=grid.village, is_resident=False, actor=admin)
    user = do_create_login(person, username="med-studio", password=DEMO_PASSWORD, actor=admin)
    do_assign_role(person, Role.MEDIATOR, region=grid.village, actor=admin)
    do_save_mediator(
        actor=admin,
        org=studio,
        name="王调解",
        kind=Mediator.Kind.PEOPLES,
        specialities=["01"],
        user=user,
    )
    return {"grid": grid.pk, "studio": studio.pk, "studio_name": studio.name}
