"""How far the demo's loading behind the server has got, for the banner on every page.

``civicgrid demo`` serves once the county, its cases and its disputes are in and loads the
rest (visits, campaigns, co-governance, on call, rewards, the early warning, the reports)
behind it, one ``load_demo_extras`` subprocess a step. The serving process writes
``demo-loading.json`` in the var directory before each step and removes it at the end; the
``loading`` context processor reads it (one ``stat`` per page when there is none) so every
page says what is still coming. A file
left by a process that is gone (the demo stopped half-way) is not shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

__all__ = ["STEPS", "clear", "left_behind", "loading", "path", "read", "write"]

# The steps loaded behind the server, in order, with what the banner calls them.
STEPS = {
    "visits": _("key-group visits and grid walks"),
    "campaigns": _("special campaigns"),
    "cogovernance": _("co-governance members and their reports"),
    "oncall": _("department staff on call"),
    "incentives": _("rewards"),
    "warning": _("the early-warning run"),
    "analytics": _("a year of reports"),
}


def path() -> Path:
    return Path(settings.VAR_DIR) / "demo-loading.json"


def write(step: str, done: int, total: int, *, pid: int | None = None) -> None:
    """Say that ``step`` (the ``done``-th of ``total``, counting from 0) is being loaded by
    the process ``pid`` (default: this one)."""
    target = path()
    temporary = target.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"pid": pid or os.getpid(), "step": step, "done": done, "total": total}),
        encoding="utf-8",
    )
    os.replace(temporary, target)


def clear() -> None:
    path().unlink(missing_ok=True)


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def read() -> dict | None:
    """The loading state, or None when nothing is loading (or its process is gone)."""
    try:
        state = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _alive(state.get("pid")):
        return None
    step = state.get("step")
    if step not in STEPS:
        return None
    return {
        "step": step,
        "label": STEPS[step],
        "done": int(state.get("done", 0)),
        "total": int(state.get("total", len(STEPS))),
    }


def left_behind() -> str | None:
    """The step a loading process that is gone was in (it stopped half-way), if any."""
    try:
        state = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or _alive(state.get("pid")):
        return None
    step = state.get("step")
    return step if step in STEPS else None


def loading(request) -> dict:
    """Context processor: ``demo_loading`` = ``read()`` (None on a normal site)."""
    return {"demo_loading": read()}
