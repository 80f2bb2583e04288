"""The one result type every detector returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cluster:
    """A signal: where, when, how much, and how unusual.

    ``cells`` are column indices into the counts matrix the scan was given (empty for a purely
    temporal series); ``start``/``end`` are inclusive row (day) indices into it. ``p_value`` is
    the Monte Carlo (or model) p-value of the cluster compared with the distribution of the
    *maximum* statistic under the null, and ``recurrence_days`` = 1 / p: with one analysis a day,
    a cluster at least this unusual turns up by chance about once in that many days.
    """

    method: str
    cells: list[int] = field(default_factory=list)
    start: int = 0
    end: int = 0
    observed: float = 0.0
    expected: float = 0.0
    relative_risk: float = 0.0
    statistic: float = 0.0
    p_value: float = 1.0
    recurrence_days: float = 1.0

    @property
    def days(self) -> int:
        return self.end - self.start + 1


def recurrence(p_value: float) -> float:
    """Recurrence interval in days of a daily prospective analysis: 1 / p."""
    if p_value != p_value:  # NaN: no Monte Carlo was run
        return float("nan")
    return float("inf") if p_value <= 0 else 1.0 / p_value
