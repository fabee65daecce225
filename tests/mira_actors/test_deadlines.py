"""The cheap deadline reads and writes agree with trio's own, scope for scope."""

from __future__ import annotations

import math
import queue
from collections.abc import Callable
from typing import Any

import outcome
import trio
import trio.testing

import mira_actors
from mira_actors._deadlines import current_deadline, effective_deadline, set_deadline


async def _same_as_trio() -> float:
    await trio.lowlevel.cancel_shielded_checkpoint()
    deadline = current_deadline()
    assert deadline == trio.current_effective_deadline()
    assert effective_deadline(trio.lowlevel.current_task()) == deadline
    return deadline


async def test_effective_deadline_is_the_earliest_of_the_enclosing_scopes(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Nested scopes: the earliest deadline wins, whatever the nesting order."""
    assert await _same_as_trio() == math.inf
    with trio.move_on_at(50):
        assert await _same_as_trio() == 50
        async with trio.open_nursery():
            with trio.move_on_at(80):
                assert await _same_as_trio() == 50
                with trio.move_on_at(20):
                    assert await _same_as_trio() == 20
                assert await _same_as_trio() == 50


async def test_effective_deadline_stops_at_a_shield(autojump_clock: trio.abc.Clock) -> None:
    """A shielded scope hides the deadlines outside it, and its own still counts."""
    with trio.move_on_at(10):
        with trio.CancelScope(shield=True):
            assert await _same_as_trio() == math.inf
            with trio.move_on_at(30):
                assert await _same_as_trio() == 30
        with trio.CancelScope(shield=True, deadline=40):
            assert await _same_as_trio() == 40


async def test_effective_deadline_of_a_cancelled_task_is_minus_inf(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A task whose scope is cancelled has -inf, except behind a shield."""
    with trio.CancelScope() as outer:
        outer.cancel()
        assert await _same_as_trio() == -math.inf
        with trio.CancelScope(shield=True, deadline=7):
            assert await _same_as_trio() == 7


async def test_effective_deadline_follows_a_moved_deadline(autojump_clock: trio.abc.Clock) -> None:
    """A deadline moved after the scope was entered is read as it is now."""
    with trio.move_on_at(10) as scope:
        scope.deadline = 60
        assert await _same_as_trio() == 60


async def test_effective_deadline_in_a_child_task_includes_the_parents_scopes(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A task started in a nursery is under the scopes around that nursery."""
    seen: list[float] = []
    with trio.move_on_at(25):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: _record(seen))
    assert seen == [25]


async def _record(seen: list[float]) -> None:
    seen.append(await _same_as_trio())


async def test_set_deadline_fires_at_that_time(autojump_clock: trio.abc.Clock) -> None:
    """A deadline set the cheap way cancels the scope at exactly that virtual time."""
    with trio.CancelScope() as scope:
        set_deadline(scope, 12.0)
        assert scope.deadline == 12.0
        assert current_deadline() == 12.0
        await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() == 12.0


async def test_set_deadline_moves_and_clears(autojump_clock: trio.abc.Clock) -> None:
    """Moving the deadline later, then to inf, leaves the scope uncancelled."""
    with trio.CancelScope() as scope:
        set_deadline(scope, 3.0)
        set_deadline(scope, 9.0)
        await trio.sleep(5)  # past the first deadline: it no longer applies
        set_deadline(scope, math.inf)
        await trio.sleep(10)  # past the second: cleared
        set_deadline(scope, 20.0)
        await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() == 20.0


async def test_set_deadline_on_a_cancelled_scope_changes_only_the_value(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A cancelled scope stays cancelled; its deadline reads back as set."""
    with trio.CancelScope() as scope:
        scope.cancel()
        set_deadline(scope, 5.0)
        assert scope.deadline == 5.0
        await trio.lowlevel.checkpoint()
    assert scope.cancelled_caught
    assert trio.current_time() == 0


async def test_set_deadline_on_an_unentered_scope(autojump_clock: trio.abc.Clock) -> None:
    """A scope not entered yet takes the deadline and applies it once entered."""
    scope = trio.CancelScope()
    set_deadline(scope, 4.0)
    with scope:
        await trio.sleep_forever()
    assert trio.current_time() == 4.0


def test_set_deadline_in_a_guest_run() -> None:
    """In a guest run (trio inside another loop), the deadline still fires on time."""
    calls: queue.Queue[Callable[[], Any]] = queue.Queue()
    done: list[outcome.Outcome[float]] = []

    async def main() -> float:
        with trio.CancelScope() as scope:
            set_deadline(scope, trio.current_time() + 3)
            await trio.sleep_forever()
        assert scope.cancelled_caught
        return trio.current_time()

    trio.lowlevel.start_guest_run(
        main,
        run_sync_soon_threadsafe=calls.put,
        done_callback=done.append,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    while not done:
        calls.get()()
    assert done[0].unwrap() == 3


async def test_current_deadline_is_public(autojump_clock: trio.abc.Clock) -> None:
    """mira_actors.current_deadline() is the effective deadline, as trio reads it."""
    with trio.move_on_after(5):
        await trio.lowlevel.checkpoint()
        assert mira_actors.current_deadline() == trio.current_effective_deadline() == 5
