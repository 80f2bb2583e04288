"""The states of an import run, as a table: ``(state, action) → next state``.

uploaded ─check─► checking ─► checked ─import─► importing ─► imported | failed
   │                 └─► failed (unreadable file)   │ └─check again (new mapping)
   └─cancel─► cancelled ◄─cancel────────────────────┘

A run whose worker died (the server stopped mid-way) is "interrupted": it is still in
``checking`` / ``importing`` but its heartbeat is old. Nothing was written (the import is one
transaction), so it may be checked again.
"""

from datetime import timedelta

from civicgrid.datahub.models import ImportRun

__all__ = ["FINISHED", "STALE_AFTER", "TRANSITIONS", "InvalidTransition", "next_state"]

S = ImportRun.State

TRANSITIONS = {
    (S.UPLOADED, "check"): S.CHECKING,
    (S.CHECKED, "check"): S.CHECKING,
    (S.FAILED, "check"): S.CHECKING,
    (S.CHECKING, "checked"): S.CHECKED,
    (S.CHECKING, "fail"): S.FAILED,
    (S.CHECKED, "import"): S.IMPORTING,
    (S.IMPORTING, "imported"): S.IMPORTED,
    (S.IMPORTING, "fail"): S.FAILED,
    (S.UPLOADED, "cancel"): S.CANCELLED,
    (S.CHECKED, "cancel"): S.CANCELLED,
    (S.FAILED, "cancel"): S.CANCELLED,
}
# Runs whose worker stopped may be checked again or cancelled.
INTERRUPTED_ACTIONS = {"check", "cancel"}
FINISHED = {S.IMPORTED, S.CANCELLED}
RUNNING = {S.CHECKING, S.IMPORTING}
STALE_AFTER = timedelta(minutes=10)


class InvalidTransition(Exception):
    pass


def is_interrupted(run: ImportRun, now) -> bool:
    return run.state in RUNNING and (run.heartbeat is None or now - run.heartbeat > STALE_AFTER)


def next_state(run: ImportRun, action: str, now) -> str:
    if is_interrupted(run, now) and action in INTERRUPTED_ACTIONS:
        return S.CHECKING if action == "check" else S.CANCELLED
    try:
        return TRANSITIONS[(run.state, action)]
    except KeyError:
        raise InvalidTransition(f"{run.state} → {action}") from None
