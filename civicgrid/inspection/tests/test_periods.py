from datetime import date

import pytest

from civicgrid.inspection.periods import due_date, period_of


@pytest.mark.parametrize(
    ("cadence", "day", "period"),
    [
        ("weekly", date(2025, 10, 9), (date(2025, 10, 6), date(2025, 10, 12))),
        ("weekly", date(2025, 10, 6), (date(2025, 10, 6), date(2025, 10, 12))),
        ("fortnightly", date(2024, 1, 14), (date(2024, 1, 1), date(2024, 1, 14))),
        ("fortnightly", date(2024, 1, 15), (date(2024, 1, 15), date(2024, 1, 28))),
        ("monthly", date(2024, 2, 10), (date(2024, 2, 1), date(2024, 2, 29))),
        ("monthly", date(2025, 12, 31), (date(2025, 12, 1), date(2025, 12, 31))),
        ("quarterly", date(2025, 11, 5), (date(2025, 10, 1), date(2025, 12, 31))),
        ("quarterly", date(2025, 2, 5), (date(2025, 1, 1), date(2025, 3, 31))),
    ],
)
def test_it_finds_the_period_of_a_day(cadence, day, period):
    assert period_of(cadence, day) == period


def test_it_refuses_an_unknown_cadence():
    with pytest.raises(ValueError):
        period_of("daily", date(2025, 1, 1))


def test_it_puts_a_due_date_on_the_last_working_day_of_the_period():
    # National Day 2025: 1–8 October off; Saturday 11 October is a working day (调休).
    assert due_date(date(2025, 9, 29), date(2025, 10, 5), working_days=True) == date(2025, 9, 30)
    assert due_date(date(2025, 10, 6), date(2025, 10, 12), working_days=True) == date(2025, 10, 11)
    assert due_date(date(2025, 10, 6), date(2025, 10, 12), working_days=False) == date(2025, 10, 12)
    assert due_date(date(2025, 10, 13), date(2025, 10, 19), working_days=True) == date(2025, 10, 17)


def test_it_moves_the_due_date_after_a_period_without_working_days():
    # 1–5 October 2025 are all days off: due on the next working day, Thursday 9 October.
    assert due_date(date(2025, 10, 1), date(2025, 10, 5), working_days=True) == date(2025, 10, 9)
