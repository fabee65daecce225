"""The contract's floor of case 3: what every run must do, and no run engine around it.

Each run makes what the contract requires of a workflow run and nothing else: a new run
id; the run kept in a ``MemoryStore`` (its input, each step's record as the step ends,
and the response), whose values are JSON as in every store; the run under
``trio.move_on_after``; the three steps asked of the real agent actors through
``ActorRef.ask`` with the headers a handler is promised (run id, step, attempt,
idempotency key); a :class:`~supervisors.Ledger` of :class:`~supervisors.StepRecord`\\ s;
and the MIRA response built from it. No options, policies, history, events, leases,
logs or failure handling.

The gap between this variant and the bare-trio bound is what those requirements cost a
run through these parts, whatever engine drives them: the floor under ``ours``.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import trio

from mira_actors import ActorRef, open_actor
from supervisors import Ledger, MemoryStore, RunReport, Status, StepRecord
from supervisors._run_ids import new_run_id

from ._harness import timed_batch
from ._workload import STEP_NAMES, WORKFLOW_TYPE, Agents, requirements, step_message

OWNER = "bench"
TIMEOUT = 30.0


async def floor_workflows(agents: Agents, n: int) -> float:
    """Run ``n`` concurrent workflows at the contract's floor; return the seconds taken."""
    store = MemoryStore()
    await store.heartbeat(OWNER)
    async with AsyncExitStack() as stack:
        refs = {
            step: await stack.enter_async_context(open_actor(agents.for_step(step), name=step))
            for step in STEP_NAMES
        }

        async def one(key: str) -> None:
            response = await floor_run(store, refs, requirements(key))
            if len(response["steps"]) != len(STEP_NAMES):
                msg = f"floor workflow {key} did not complete: {response}"
                raise AssertionError(msg)

        return await timed_batch(one, n)


async def floor_run(
    store: MemoryStore, refs: dict[str, ActorRef], data: dict[str, Any]
) -> dict[str, Any]:
    """One run at the floor: stored, asked, recorded, answered."""
    workflow_id = new_run_id()
    await store.create_run(workflow_id, WORKFLOW_TYPE, data, TIMEOUT, owner=OWNER)
    ledger = Ledger(workflow_id=workflow_id, workflow_type=WORKFLOW_TYPE)
    replies: dict[str, Any] = {}
    with trio.move_on_after(TIMEOUT):
        for step in STEP_NAMES:
            started = trio.current_time()
            reply = await refs[step].ask(
                step_message(step, data, replies),
                headers={
                    "workflow_id": workflow_id,
                    "step": step,
                    "attempt": 1,
                    "idempotency_key": f"{workflow_id}:{step}:1",
                },
            )
            record = StepRecord(
                step=step,
                agent=step,
                status=Status.SUCCESS,
                started_at=started,
                ended_at=trio.current_time(),
                result=reply["data"],
            )
            await store.record_step(workflow_id, record, owner=OWNER)
            ledger.record(record)
            replies[step] = reply
    report = RunReport(
        workflow_id=workflow_id,
        workflow_type=WORKFLOW_TYPE,
        outcome=Status.SUCCESS,
        timeout=TIMEOUT,
        records=tuple(ledger.records),
    )
    response = report.response()
    await store.finish_run(workflow_id, outcome=Status.SUCCESS, response=response, owner=OWNER)
    return response
