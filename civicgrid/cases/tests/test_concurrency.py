"""Two people act on the same case at the same moment: exactly one wins (PostgreSQL).

The threads use their own database connections, outside the test's transaction, so the case
they race on is committed; the test removes its rows afterwards. SQLite serialises writers
at the file level, so this race only means something on PostgreSQL.
"""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

from civicgrid.cases import actions as A
from civicgrid.cases.models import Case, CaseAction, Category, Notification
from civicgrid.cases.workflow import InvalidTransition
from civicgrid.people.models import RoleAssignment
from civicgrid.regions.models import Grid


def _in_thread(function):
    box = {}

    def run():
        try:
            box["result"] = function()
        except Exception as exc:  # handed back to the test
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _race(case, functions):
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def runner(index, function):
        barrier.wait()
        try:
            function()
            outcomes[index] = "won"
        except Exception as exc:  # the loser's refusal, or a failure the test reports
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


@pytest.fixture
def race_case(db):
    if connection.vendor != "postgresql":
        pytest.skip("the row-lock race is a PostgreSQL test (SQLite serialises writers)")
    grid = Grid.objects.exclude(kind="micro").filter(code__startswith="330281001").first()
    case = _in_thread(
        lambda: A.do_report_case(actor=None, channel="resident", description="并发测试", grid=grid)
    )
    yield case

    def cleanup():
        Notification.objects.filter(case_id=case.pk).delete()
        CaseAction.objects.filter(case_id=case.pk).delete()
        case.reporters.all().delete()
        case.assignments.all().delete()
        Case.objects.filter(pk=case.pk).delete()

    _in_thread(cleanup)


def _operators():
    ids = RoleAssignment.objects.filter(
        role="township_operator", scope_code="330281001", active=True
    ).values_list("person__user_id", flat=True)
    users = list(get_user_model().objects.filter(pk__in=ids).order_by("pk"))
    assert len(users) >= 2
    return users[:2]


def test_it_lets_exactly_one_of_two_simultaneous_accepts_win(race_case):
    category = Category.objects.get(code="0101")
    first, second = _operators()
    outcomes = _race(
        race_case,
        [
            lambda: A.do_accept_case(race_case, actor=first, category=category),
            lambda: A.do_accept_case(race_case, actor=second, category=category),
        ],
    )
    assert sorted(o == "won" for o in outcomes) == [False, True], outcomes
    loser = next(o for o in outcomes if o != "won")
    # The refusal names the state the winner left it in (threads speak the default language).
    assert isinstance(loser, InvalidTransition) and loser.state == "accepted"
    assert "已受理" in str(loser)
    actions = _in_thread(
        lambda: list(
            CaseAction.objects.filter(case_id=race_case.pk).values_list("action", flat=True)
        )
    )
    assert actions == ["report", "accept"]


def test_it_refuses_a_stale_version_when_two_forms_submit_together(race_case):
    category = Category.objects.get(code="0101")
    first, second = _operators()
    seen = race_case.version
    outcomes = _race(
        race_case,
        [
            lambda: A.do_classify_case(
                race_case, actor=first, category=category, expected_version=seen
            ),
            lambda: A.do_reject_case(race_case, actor=second, reason="重复", expected_version=seen),
        ],
    )
    assert sorted(o == "won" for o in outcomes) == [False, True], outcomes
    loser = next(o for o in outcomes if o != "won")
    assert isinstance(loser, A.CaseConflict) and race_case.code in str(loser)
    version = _in_thread(lambda: Case.objects.get(pk=race_case.pk).version)
    assert version == seen + 1  # one update, not two
