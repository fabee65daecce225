"""Start and stop order, clean and failed exits, crashes at exit, and crash logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing

from mira_actors import Actor, ActorCrashedError, ActorStoppedError
from supervisors import (
    ChildStatus,
    Strategy,
    open_supervisor,
)
from tests.supervisors.workers import TE, TR, P, spawn_workers

# Start order, stop order, exits


async def test_children_start_in_order_and_stop_in_reverse_after_draining(
    autojump_clock: trio.abc.Clock,
) -> None:
    """On a normal exit each child handles its queue and stops, last-started first."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", TR), ("c", TE))
        assert journal == ["start a", "start b", "start c"]
        for name, seconds in (("a", 1), ("b", 2), ("c", 3)):
            await refs[name].tell(seconds)
            await refs[name].tell("last")
    assert journal == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    assert trio.current_time() == 3
    assert [ref.is_alive() for ref in refs.values()] == [False, False, False]


async def test_children_lists_status_in_start_order() -> None:
    """supervisor.children reports name, restart kind, restart count and running."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        await spawn_workers(supervisor, journal, ("a", P), ("b", TR), ("c", TE))
        assert supervisor.children == [
            ChildStatus(name="a", restart=P, restarts=0, running=True),
            ChildStatus(name="b", restart=TR, restarts=0, running=True),
            ChildStatus(name="c", restart=TE, restarts=0, running=True),
        ]


async def test_error_exit_cancels_children_and_fails_their_queued_asks(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """When the body raises, children are cancelled at once and outside askers are told why."""
    journal: list[str] = []
    errors: dict[str, Exception] = {}
    before = len(live_tasks())

    async def ask(ref: Any, message: Any) -> None:
        try:
            await ref.ask(message)
        except ActorStoppedError as exc:
            errors[message] = exc

    async with trio.open_nursery() as outside:
        with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="^body failed$")):
            async with open_supervisor(name="sup") as supervisor:
                ref = (await spawn_workers(supervisor, journal, ("w", P)))["w"]
                outside.start_soon(ask, ref, "park")
                await trio.sleep(1)
                outside.start_soon(ask, ref, "queued")
                await trio.sleep(1)
                msg = "body failed"
                raise RuntimeError(msg)
        assert trio.current_time() == 2
    assert journal == ["start w", "cancel w"]
    assert "stopped while handling the request" in str(errors["park"])
    assert str(errors["queued"]) == (
        "actor 'w' cannot take the message: its supervisor 'sup' has stopped"
    )
    assert len(live_tasks()) == before


async def test_cancelled_supervisor_cancels_its_children(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """A supervisor cancelled from outside stops at once and leaves no task behind."""
    journal: list[str] = []
    before = len(live_tasks())
    with trio.move_on_after(5) as scope:
        async with open_supervisor() as supervisor:
            refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P))
            await refs["a"].tell("park")
            await refs["b"].tell(100)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() == 5
    assert journal == ["start a", "start b", "cancel a"]
    assert len(live_tasks()) == before


async def test_no_task_outlives_the_supervisor(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """After the block, the task tree is as it was, restarts and all."""
    journal: list[str] = []
    before = len(live_tasks())
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", TR), ("c", TE))
        with pytest.raises(ActorCrashedError):
            await refs["a"].ask("crash")
        await trio.sleep(1)  # b restarts after a
        assert len(live_tasks()) == before + 3  # control, a and b (c was temporary)
    assert len(live_tasks()) == before


async def test_shielded_handler_cancelled_by_an_error_exit_is_not_reported_as_failure(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A child still finishing shielded work when the supervisor fails is not told it crashed."""

    class Shielded(Actor):
        async def handle(self, message: Any) -> None:
            with trio.CancelScope(shield=True):
                await trio.sleep(message)
            journal.append("work done")

        async def on_failure(self, exc: BaseException) -> None:
            journal.append(f"fail: {type(exc).__name__}")

    journal: list[str] = []
    with pytest.RaisesGroup(KeyError):
        async with open_supervisor() as supervisor:
            ref = await supervisor.spawn(Shielded, name="shielded")
            await ref.tell(2)
            await ref.tell(2)
            await trio.sleep(1)
            msg = "body failed"
            raise KeyError(msg)
    assert journal == ["work done"]
    assert trio.current_time() == 2


async def test_ten_thousand_actors_spawned_asked_and_shut_down(live_tasks: Any) -> None:
    """10,000 children each answer one ask, then all stop cleanly with on_stop."""

    class Echo(Actor):
        stopped = 0

        async def handle(self, message: Any) -> Any:
            return message

        async def on_stop(self) -> None:
            Echo.stopped += 1

    before = len(live_tasks())
    async with open_supervisor() as supervisor:
        refs = [await supervisor.spawn(Echo, name=f"echo-{i}", capacity=1) for i in range(10_000)]
        answers: list[int] = []

        async def ask(ref: Any, i: int) -> None:
            answers.append(await ref.ask(i))

        async with trio.open_nursery() as nursery:
            for i, ref in enumerate(refs):
                nursery.start_soon(ask, ref, i)
        assert sorted(answers) == list(range(10_000))
        assert len(supervisor.children) == 10_000
    assert Echo.stopped == 10_000
    assert not any(ref.is_alive() for ref in refs)
    assert len(live_tasks()) == before


# Crashes at the block's exit, and crash logs


async def test_error_exit_right_after_a_crash_raises_only_the_users_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A block raising as a child crashes raises only its own error, no ClosedResourceError."""

    class Crasher(Actor):
        async def handle(self, message: Any) -> None:
            raise KeyError(message)

        async def on_failure(self, exc: BaseException) -> None:
            crashed.set()

    for _ in range(20):  # the crash's exit and the block's error race in one batch
        crashed = trio.Event()
        with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="^body failed$")):
            async with open_supervisor() as supervisor:
                ref = await supervisor.spawn(Crasher, name="c", restart=TE)
                ref.tell_nowait("boom")
                await crashed.wait()
                msg = "body failed"
                raise ValueError(msg)


async def test_crash_log_names_the_actor_and_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The crash warning names the actor, the exception type and a message cut to ~100 chars."""

    class Loud(Actor):
        async def handle(self, message: Any) -> None:
            raise ValueError("x" * 10_000)

    async with open_supervisor(name="sup") as supervisor:
        ref = await supervisor.spawn(Loud, name="loud", restart=TE)
        with pytest.raises(ActorCrashedError):
            await ref.ask("go")
        await trio.testing.wait_all_tasks_blocked()
    [record] = [r for r in caplog.records if getattr(r, "event_type", None) == "actor_crashed"]
    assert record.getMessage() == "actor 'loud' crashed: ValueError: " + "x" * 97 + "..."
    assert (record.actor, record.supervisor, record.error_type) == ("loud", "sup", "ValueError")


async def test_failing_on_failure_does_not_hide_the_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception in on_failure is logged, and the handler's own exception stays the crash."""

    class Clumsy(Actor):
        async def handle(self, message: Any) -> None:
            raise KeyError("the real cause")

        async def on_failure(self, exc: BaseException) -> None:
            raise RuntimeError("hook broke")

    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Clumsy, name="clumsy", restart=TE)
        with pytest.raises(ActorCrashedError) as info:
            await ref.ask("go")
        assert isinstance(info.value.__cause__, KeyError)
        await trio.testing.wait_all_tasks_blocked()
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "actor 'clumsy': on_failure raised RuntimeError: hook broke while handling "
        "KeyError: 'the real cause'"
    ) in messages
    assert "actor 'clumsy' crashed: KeyError: 'the real cause'" in messages


def test_library_loggers_have_a_null_handler() -> None:
    """The runtime's and the supervisors' loggers carry a NullHandler, as a library's should."""
    for name in ("mira_actors", "supervisors"):
        handlers = logging.getLogger(name).handlers
        assert any(isinstance(h, logging.NullHandler) for h in handlers), name
