"""Progress and hazard figures per area against a fixture counted by hand.

County campaign over 梨洲 and 凤山:
  梨洲, grid g1 (grid1's): A1 checked, no hazard · A2 hazard, case closed on the spot ·
                           A3 hazard, case still open
  梨洲, grid g1b:          A4 unchecked
  凤山, grid g2 (grid2's): B1 hazard, case closed and archived · B2 unchecked

  by township   targets checked hazards rectified  completion  rectification
  梨洲               4       3       2         1        0.75          0.5
  凤山               2       1       1         1        0.5           1.0
  overall            6       4       3         2        4/6           2/3
"""

import pytest

from civicgrid.campaigns.actions import do_record_check
from civicgrid.campaigns.selectors import campaign_summaries, progress
from civicgrid.cases import actions as A

from .conftest import jpeg


def _close_on_the_spot(case, worker):
    case = A.do_accept_case(case, actor=worker)
    return A.do_self_close_case(
        case, actor=worker, text="已拖移", before_photos=[jpeg()], after_photos=[jpeg("green")]
    )


@pytest.fixture
def fixture(world):
    campaign = world.campaign()
    a1, a2, a3 = (world.target(campaign, label=label) for label in ("A1", "A2", "A3"))
    world.target(campaign, grid=world.town_grid, label="A4")
    b1 = world.target(campaign, grid=world.other_grid, label="B1")
    world.target(campaign, grid=world.other_grid, label="B2")
    grid1, grid2 = world.p.grid1, world.p.grid2
    do_record_check(a1, actor=grid1, hazard=False)
    a2_check = do_record_check(a2, actor=grid1, hazard=True, description="僵尸车一辆")
    do_record_check(a3, actor=grid1, hazard=True, description="僵尸车一辆，占用消防通道")
    b1_check = do_record_check(b1, actor=grid2, hazard=True, description="报废三轮车")
    case = _close_on_the_spot(b1_check.case, grid2)
    A.do_evaluate_case(case, actor=grid2, satisfaction="satisfied")
    return campaign, a2_check


def test_progress_per_township_before_and_after_a_case_closes(world, fixture):
    campaign, a2_check = fixture
    lizhou, fengshan = world.grid.code[:9], world.other_grid.code[:9]
    before = progress(world.p.county, campaign, by="township")
    by_key = {row["key"]: row for row in before["rows"]}
    assert {
        k: (r["targets"], r["checked"], r["hazards"], r["rectified"]) for k, r in by_key.items()
    } == {
        lizhou: (4, 3, 2, 0),
        fengshan: (2, 1, 1, 1),
    }
    # rectified follows the case: closing A2's case through the real actions counts it
    _close_on_the_spot(a2_check.case, world.p.grid1)
    after = progress(world.p.county, campaign, by="township")
    by_key = {row["key"]: row for row in after["rows"]}
    assert (by_key[lizhou]["rectified"], by_key[lizhou]["rectification_rate"]) == (1, 0.5)
    assert by_key[lizhou]["completion_rate"] == 0.75 and by_key[lizhou]["name"] == "梨洲街道"
    assert (by_key[fengshan]["rectification_rate"], by_key[fengshan]["completion_rate"]) == (
        1.0,
        0.5,
    )
    total = after["total"]
    assert (total["targets"], total["checked"], total["hazards"], total["rectified"]) == (
        6,
        4,
        3,
        2,
    )
    assert total["completion_rate"] == pytest.approx(4 / 6)
    assert total["rectification_rate"] == pytest.approx(2 / 3)
    # the same figures per campaign on the list
    summary = campaign_summaries(world.p.county, [campaign])[campaign.pk]
    assert {k: summary[k] for k in ("targets", "checked", "hazards", "rectified")} == {
        "targets": 6,
        "checked": 4,
        "hazards": 3,
        "rectified": 2,
    }


def test_progress_per_grid_and_village_within_the_readers_scope(world, fixture):
    campaign, _check = fixture
    rows = progress(world.p.county, campaign, by="grid")["rows"]
    figures = {r["key"]: (r["targets"], r["checked"], r["hazards"], r["rectified"]) for r in rows}
    assert figures == {
        world.grid.code: (3, 3, 2, 0),
        world.town_grid.code: (1, 0, 0, 0),
        world.other_grid.code: (2, 1, 1, 1),
    }
    assert {r["key"]: r["name"] for r in rows}[world.grid.code] == world.grid.name
    villages = progress(world.p.county, campaign, by="village")["rows"]
    assert sum(r["targets"] for r in villages) == 6
    assert {r["key"] for r in villages} == {
        world.grid.code[:12],
        world.town_grid.code[:12],
        world.other_grid.code[:12],
    }
    # 梨洲's command room sees only its own township's rows and totals
    own = progress(world.p.lizhou, campaign, by="township")
    assert [r["key"] for r in own["rows"]] == [world.grid.code[:9]]
    assert (own["total"]["targets"], own["total"]["hazards"]) == (4, 2)
    # a grid worker sees their grid
    assert [r["key"] for r in progress(world.p.grid1, campaign, by="grid")["rows"]] == [
        world.grid.code
    ]
    assert progress(world.p.outsider, campaign)["rows"] == []
    with pytest.raises(ValueError):
        progress(world.p.county, campaign, by="street")


def test_no_hazard_means_no_rectification_rate(world):
    campaign = world.campaign()
    world.target(campaign)
    result = progress(world.p.county, campaign)
    assert result["total"]["rectification_rate"] is None
    assert result["total"]["completion_rate"] == 0.0
