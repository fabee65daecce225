"""LeaseKeeper: one heartbeat write per interval for all of an owner's runs; cancel on request."""

from __future__ import annotations

import logging

import pytest
import trio

from supervisors import LeaseKeeper, MemoryStore


class CountingStore(MemoryStore):
    """A memory store that counts heartbeats and can fail them."""

    def __init__(self) -> None:
        super().__init__()
        self.beats: list[float] = []
        self.failing = False

    async def heartbeat(self, owner: str, *, lease_time: float = 15.0) -> frozenset[str]:
        self.beats.append(trio.current_time())
        if self.failing:
            raise OSError("disk on fire")
        return await super().heartbeat(owner, lease_time=lease_time)


async def test_one_beat_per_interval_however_many_runs(autojump_clock: trio.abc.Clock) -> None:
    """An owner with 1,000 runs beats once per interval: one store write, not one per run."""
    store = CountingStore()
    keeper = LeaseKeeper(store, lease_time=3.0)
    for n in range(1_000):
        await store.create_run(f"r{n}", "wf", {}, 60.0, owner=keeper.owner, lease_time=3.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.serve)
        await trio.sleep(3.5)
        nursery.cancel_scope.cancel()
    assert store.beats == [1.0, 2.0, 3.0]


async def test_a_failed_beat_is_logged_and_tried_again(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A heartbeat the store refuses is logged 'heartbeat_failed'; the next interval beats again."""
    store = CountingStore()
    keeper = LeaseKeeper(store, interval=1.0)
    store.failing = True
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.serve)
        await trio.sleep(1.5)
        store.failing = False
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    assert store.beats == [1.0, 2.0]
    [logged] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (logged.__dict__["error_type"], logged.__dict__["exception_type"]) == (
        "heartbeat_failed",
        "OSError",
    )
    assert keeper.last_beat == 2.0


async def test_a_cancel_request_cancels_the_run_at_the_next_beat(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A run asked to cancel through the store is cancelled here within one interval."""
    store = CountingStore()
    keeper = LeaseKeeper(store, interval=1.0)
    await store.create_run("r1", "wf", {}, 60.0, owner=keeper.owner)
    await store.create_run("r2", "wf", {}, 60.0, owner=keeper.owner)
    cancelled: list[str] = []
    keeper.hold("r1", lambda: cancelled.append("r1"))
    keeper.hold("r2", lambda: cancelled.append("r2"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.serve)
        await trio.sleep(0.2)
        await store.request_cancel("r1")
        await trio.sleep(1.0)
        assert cancelled == ["r1"]
        nursery.cancel_scope.cancel()


def test_the_interval_must_be_under_the_lease_time() -> None:
    """A heartbeat interval that is not positive or not under the lease time is refused."""
    with pytest.raises(ValueError, match="under lease_time"):
        LeaseKeeper(MemoryStore(), lease_time=1.0, interval=1.0)
    with pytest.raises(ValueError, match="lease_time must be positive"):
        LeaseKeeper(MemoryStore(), lease_time=0)
