"""Races between database connections, for the PostgreSQL concurrency tests.

Each function runs in a thread of its own, so it gets a connection of its own and sees only
committed rows; the threads are released together by one barrier. Outcomes (results or the
exceptions raised) come back in order; a runner that hangs fails the test.
"""

import threading

from django.db import connections

__all__ = ["alone", "together"]


def together(functions) -> list:
    """Run the functions at the same instant; their results or exceptions, in order."""
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def runner(index, function):
        barrier.wait()
        try:
            outcomes[index] = function()
        except Exception as exc:  # handed back to the test
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a runner hung"
    return outcomes


def alone(function):
    """Run the function on a connection of its own (committed at once); raise what it raises."""
    (outcome,) = together([function])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
