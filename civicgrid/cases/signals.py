"""In-process hooks other apps listen to, so ``cases`` need not import them.

``case_action_recorded`` is sent inside the action's transaction, after its timeline row is
written, with ``case`` and ``row`` (the ``CaseAction``). A receiver that writes joins that
transaction: if it raises, the action is rolled back too. Points for co-governance members
(``cogovernance``) are the first listener.
"""

from django.dispatch import Signal

__all__ = ["case_action_recorded"]

case_action_recorded = Signal()
