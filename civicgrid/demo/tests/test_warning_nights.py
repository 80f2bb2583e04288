"""The nights the demo's early-warning replay runs (``demo.warning.replay_nights``).

Run on the demo's year, every night of the last nine weeks, the nightly run finds the planted
0101 cluster (which stops three weeks before the end) from 38 nights before the end on, and
its spatial signal only in the cluster's last days; the demo replays six nights to stay quick.
These hold the schedule to that: a night in the cluster's last week (the data of its peak),
nights after it (the signal followed), and the last nights nightly.
"""

from datetime import date, timedelta

from civicgrid.demo import warning
from civicgrid.demo.cases import generate_demo_cases

END = date(2026, 11, 27)


def _cluster_end(end: date) -> date:
    """generate_demo_cases' default cluster end, read from its signature's documentation."""
    assert "three weeks before ``end``" in " ".join(generate_demo_cases.__doc__.split())
    return end - timedelta(days=21)


def test_the_default_nights():
    nights = warning.replay_nights(END)
    back = [(END - night).days for night in nights]
    assert back == [24, 17, 10, 3, 2, 1]
    assert nights == sorted(nights) and nights[-1] == END - timedelta(days=1)


def test_a_night_falls_in_the_clusters_last_week_and_nights_follow_it():
    cluster_end = _cluster_end(END)  # the first day without the cluster's extra reports
    nights = warning.replay_nights(END)
    assert any(cluster_end - timedelta(days=7) <= night < cluster_end for night in nights)
    assert sum(night >= cluster_end for night in nights) >= 2


def test_the_replay_follows_days_and_every():
    nights = warning.replay_nights(END, days=63, every=1)
    assert len(nights) == 63 and nights[0] == END - timedelta(days=63)
    weekly = warning.replay_nights(END, days=63, every=7)
    assert [(END - n).days for n in weekly] == [59, 52, 45, 38, 31, 24, 17, 10, 3, 2, 1]
