"""The raw-trio references: what a trio programmer writes with no actor runtime.

These are the limits the runtime is measured against: a memory channel with ``await
send`` for tell, an event and a result slot for ask, the agent logic called directly
for workflows, and bare ``trio.move_on_after`` around raw tasks for deadlines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from mira_actors import DeadlineExceededError

from ._harness import now, timed_batch
from ._workload import (
    STEP_NAMES,
    Agents,
    StepLog,
    requirements,
    run_steps_directly,
    step_message,
)


async def channel_tell(n: int, capacity: int) -> float:
    """Send ``n`` messages with ``await send.send``; return seconds until all are received."""
    send, receive = trio.open_memory_channel[int](capacity)
    done = trio.Event()

    async def consume(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        count = 0
        task_status.started()
        async with receive:
            async for _ in receive:
                count += 1
                if count == n:
                    done.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(consume)
        async with send:
            start = now()
            for i in range(n):
                await send.send(i)
            await done.wait()
            elapsed = now() - start
    return elapsed


class _Slot:
    """A request with its reply slot and the event that says the reply is there."""

    __slots__ = ("done", "message", "value")

    def __init__(self, message: Any) -> None:
        self.message = message
        self.value: Any = None
        self.done = trio.Event()


async def event_slot_ask(n: int, capacity: int) -> float:
    """Make ``n`` sequential request/reply round trips; return the seconds they took."""
    send, receive = trio.open_memory_channel[_Slot](capacity)

    async def serve(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with receive:
            async for slot in receive:
                slot.value = slot.message
                slot.done.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(serve)
        async with send:
            start = now()
            for i in range(n):
                slot = _Slot(i)
                await send.send(slot)
                await slot.done.wait()
                if slot.value != i:
                    msg = f"raw ask got {slot.value!r} back for {i!r}"
                    raise AssertionError(msg)
            elapsed = now() - start
    return elapsed


async def direct_workflows(agents: Agents, n: int) -> float:
    """Run ``n`` workflows by calling the agent logic in this one task; return seconds."""
    await trio.lowlevel.checkpoint()
    start = now()
    for i in range(n):
        response = run_steps_directly(agents, requirements(f"P{i}"))
        if len(response["steps"]) != len(("plan", "risks", "report")):
            msg = f"direct workflow {i} did not complete: {response}"
            raise AssertionError(msg)
    return now() - start


async def actor_workflows(agents: Agents, n: int) -> float:
    """Run ``n`` concurrent workflows on bare trio: one task per agent serving a channel.

    Each run is a task under ``move_on_after`` that asks the three agent tasks in turn
    with an Event-and-slot request: the fewest trio operations an actor design needs,
    so the bound on what any trio actor runtime can reach.
    """

    async def serve(
        agent: Any,
        receive: trio.MemoryReceiveChannel[_Slot],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        task_status.started()
        async with receive:
            async for slot in receive:
                slot.value = agent.respond(slot.message)
                slot.done.set()

    async def one(key: str) -> None:
        data = requirements(key)
        results: dict[str, Any] = {}
        with trio.move_on_after(30.0):
            for step in STEP_NAMES:
                slot = _Slot(step_message(step, data, results))
                await channels[step].send(slot)
                await slot.done.wait()
                results[step] = slot.value
        if len(results) != len(STEP_NAMES):
            msg = f"raw actor workflow {key} did not complete"
            raise AssertionError(msg)

    channels: dict[str, trio.MemorySendChannel[_Slot]] = {}
    async with trio.open_nursery() as servers:
        for step in STEP_NAMES:
            send, receive = trio.open_memory_channel[_Slot](1000)
            channels[step] = send
            await servers.start(serve, agents.for_step(step), receive)
        elapsed = await timed_batch(one, n)
        for send in channels.values():
            await send.aclose()
    return elapsed


async def _in_task(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a task of its own and return its result."""
    box: list[Any] = []

    async def call() -> None:
        try:
            box.append(fn(*args))
        except DeadlineExceededError:  # the agent stopped at the deadline: the scope ends it
            box.append(None)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
    return box[0]


async def _never_finishes(log: StepLog, key: str) -> None:
    execution = log.start(key)
    try:
        await trio.sleep_forever()
    finally:
        log.end(execution, "cancelled")


async def timeout_workflow(agents: Agents, log: StepLog, key: str, timeout: float) -> bool:
    """Run plan, then a step that never finishes, in raw tasks under ``move_on_after``.

    Returns whether the deadline cut the run short (it always should).
    """
    data = requirements(key)
    with trio.move_on_after(timeout) as scope:
        plan = await _in_task(agents.plan.respond, step_message("generate_plan", data, {}))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_never_finishes, log, key)
        del plan
    return scope.cancelled_caught


async def plan_request(agents: Agents, key: str) -> None:
    """The 'new request' of case 5: one plan step, in a raw task."""
    await _in_task(agents.plan.respond, step_message("generate_plan", requirements(key), {}))
