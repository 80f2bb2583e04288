import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from civicgrid.core.models import AuditEvent
from civicgrid.people import pii
from civicgrid.people.actions import do_create_person, do_reveal_person_pii, do_update_person
from civicgrid.people.models import Person
from civicgrid.people.selectors import people_visible_to

# A made-up number with a correct check digit (GB 11643).
ID_NUMBER = "33028119800101001" + pii.id_check_digit("33028119800101001")
PHONE = "13905741234"


@pytest.mark.parametrize(
    "value, problem",
    [
        ("33028119800101001", "17 digits"),
        ("330281198013010010", "not a real date"),
        (ID_NUMBER[:-1] + ("1" if ID_NUMBER[-1] != "1" else "2"), "check digit"),
        ("ABCDEFGHIJKLMNOPQR", "17 digits"),
    ],
)
def test_it_rejects_bad_id_numbers(value, problem):
    with pytest.raises(ValidationError, match=problem):
        pii.normalize_id_number(value)


def test_it_accepts_valid_numbers_and_masks_them():
    assert pii.normalize_id_number(ID_NUMBER.lower()) == ID_NUMBER
    assert pii.id_check_digit("11010519491231002") == "X"  # the GB 11643 worked example
    assert pii.mask_id_number(ID_NUMBER) == ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
    assert pii.normalize_phone("+86 139 0574 1234") == PHONE
    assert pii.mask_phone(PHONE) == "139****1234"
    assert pii.normalize_phone("0574-62345678") == "0574-62345678"
    with pytest.raises(ValidationError):
        pii.normalize_phone("12345")


@pytest.fixture
def grid_and_worker(personas):
    from civicgrid.people.models import RoleAssignment

    grid = RoleAssignment.objects.get(person__user=personas.grid1).grid
    return grid, personas.grid1


def test_it_stores_no_clear_text_and_finds_by_keyed_hash(grid_and_worker):
    grid, worker = grid_and_worker
    person = do_create_person(
        name="测试居民", grid=grid, id_number=ID_NUMBER, phone=PHONE, actor=worker
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM people_person WHERE id = %s", [person.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert ID_NUMBER not in row and PHONE not in row
    assert ID_NUMBER[:6] + "********" in row  # the masked form is what lists show
    found = Person.objects.filter(id_number_hash=pii.blind_index("id", ID_NUMBER))
    assert list(found) == [person]
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "people.person.create"
    assert ID_NUMBER not in str(event.after) and PHONE not in str(event.after)


def test_it_refuses_invalid_numbers_in_actions(grid_and_worker):
    grid, worker = grid_and_worker
    with pytest.raises(ValidationError) as info:
        do_create_person(
            name="x", grid=grid, id_number="330281198001010010", phone="1", actor=worker
        )
    assert set(info.value.message_dict) == {"id_number", "phone"}


def test_it_reveals_to_a_role_that_needs_it_and_audits(grid_and_worker):
    grid, worker = grid_and_worker
    person = do_create_person(
        name="测试居民", grid=grid, id_number=ID_NUMBER, phone=PHONE, actor=worker
    )
    before = AuditEvent.objects.count()
    assert do_reveal_person_pii(person, actor=worker) == {"id_number": ID_NUMBER, "phone": PHONE}
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.target_id, event.actor_name) == (
        "people.person.view_pii",
        str(person.pk),
        "grid1",
    )


def test_it_masks_for_roles_without_the_need(grid_and_worker, personas):
    from civicgrid.people.models import RoleAssignment

    grid, worker = grid_and_worker
    person = do_create_person(
        name="测试居民", grid=grid, id_number=ID_NUMBER, phone=PHONE, actor=worker
    )
    part_timer = RoleAssignment.objects.filter(role="grid_worker_pt", grid=grid).first().person
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=part_timer.user_id)
    assert people_visible_to(user).filter(pk=person.pk).exists()  # may see the person …
    with pytest.raises(PermissionDenied):  # … but not the numbers
        do_reveal_person_pii(person, actor=user)
    assert not AuditEvent.objects.filter(action="people.person.view_pii").exists()


def test_it_masks_pages_and_reveals_on_request(login, grid_and_worker):
    grid, worker = grid_and_worker
    person = do_create_person(
        name="测试居民", grid=grid, id_number=ID_NUMBER, phone=PHONE, actor=worker
    )
    client = login(worker)
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert ID_NUMBER not in page and PHONE not in page and "139****1234" in page
    page = client.post(f"/people/{person.pk}/reveal/").content.decode()
    assert ID_NUMBER in page and PHONE in page


def test_it_re_seals_on_update_and_clears(grid_and_worker):
    grid, worker = grid_and_worker
    person = do_create_person(name="测试居民", grid=grid, phone=PHONE, actor=worker)
    do_update_person(person, actor=worker, phone="13800000000")
    person.refresh_from_db()
    assert person.phone_masked == "138****0000"
    assert person.phone_hash == pii.blind_index("phone", "13800000000")
    do_update_person(person, actor=worker, phone="")
    person.refresh_from_db()
    assert (person.phone_cipher, person.phone_hash, person.phone_masked) == ("", "", "")


def test_it_finds_a_person_by_exact_id_number_in_the_admin(login, personas, grid_and_worker):
    grid, worker = grid_and_worker
    do_create_person(name="王测试", grid=grid, id_number=ID_NUMBER, actor=worker)
    page = login(personas.county).get("/admin/people/person/", {"q": ID_NUMBER}).content.decode()
    assert "王测试" in page and pii.mask_id_number(ID_NUMBER) in page


def test_it_gives_demo_people_valid_sealed_numbers(db):
    sample = Person.objects.exclude(id_number_cipher="").first()
    number = pii.reveal(sample.id_number_cipher)
    assert pii.normalize_id_number(number) == number
    assert sample.id_number_masked == pii.mask_id_number(number)
    assert sample.id_number_hash == pii.blind_index("id", number)


def test_it_shows_sensitive_key_groups_only_to_roles_that_see_personal_data(login, grid_and_worker):
    from django.contrib.auth import get_user_model

    from civicgrid.people.actions import do_tag_person
    from civicgrid.people.models import KeyGroup, RoleAssignment

    grid, worker = grid_and_worker
    person = do_create_person(name="测试居民", grid=grid, actor=worker)
    do_tag_person(person, KeyGroup.objects.get(code="community_correction"), actor=worker)
    do_tag_person(person, KeyGroup.objects.get(code="elderly_alone"), actor=worker)
    page = login(worker).get(f"/people/{person.pk}/").content.decode()
    assert "社区矫正" in page and "独居老人" in page
    part_timer = RoleAssignment.objects.filter(role="grid_worker_pt", grid=grid).first().person
    user = get_user_model().objects.get(pk=part_timer.user_id)
    page = login(user).get(f"/people/{person.pk}/").content.decode()
    assert "社区矫正" not in page and "独居老人" in page


def test_it_masks_numbers_written_into_free_text():
    text = f"来电人{PHONE}，身份证{ID_NUMBER}，座机0574-62345678，订单号12345678901234"
    masked = pii.mask_numbers_in_text(text)
    assert PHONE not in masked and ID_NUMBER not in masked and "0574-62345678" not in masked
    assert "139****1234" in masked and pii.mask_id_number(ID_NUMBER) in masked
    assert "12345678901234" in masked  # not a phone or an ID number: left alone
