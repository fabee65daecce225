"""The spans of runs, step attempts and asks: their tree, attributes, statuses and links."""

from __future__ import annotations

import pytest

# CI installs the otel extra (.ci/run); a venv without it skips these tests.
pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

from typing import Any

import trio
from opentelemetry.trace import StatusCode

from mira_actors import Actor, ActorRef, open_actor
from supervisors import MemoryStore, RetryPolicy, open_workflow_supervisor
from tests.mira_actors.instrumentation.recorded import Recorded
from tests.supervisors.scripted import OK, Journal, actors, fails, flow, go, step


async def test_a_success_is_a_run_span_over_one_span_per_step_attempt(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """A run's span holds one span per step attempt, which is also the span of its ask."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], b=[(2, OK)]) as routes:
        await go(flow(step("a"), step("b")), routes, timeout=10)
    assert otel.tree() == [(0, "workflow w"), (1, "step a"), (1, "step b")]
    [run] = otel.named("workflow w")
    assert dict(run.attributes or {}) == {
        "mira.workflow_id": "run-1",
        "mira.workflow_type": "w",
        "mira.timeout": 10,
        "mira.status": "success",
        "mira.lateness": 0.0,
    }
    assert run.status.status_code is StatusCode.UNSET
    assert [event.name for event in run.events] == []
    step_b = otel.named("step b")[0]
    assert dict(step_b.attributes or {}) == {
        "mira.step": "b",
        "mira.attempt": 1,
        "mira.idempotency_key": "run-1:b:1",
        "mira.budget": 9.0,  # the run's 10 s less the 1 s step a took
        "mira.actor": "b",
        "mira.ask.queued": 0.0,
        "mira.ask.handled": 2.0,
        "mira.outcome": "success",
    }
    assert len({span.context.trace_id for span in otel.spans()}) == 1


async def test_a_timeout_ends_the_cut_step_with_an_error_naming_the_deadline(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """The step cut by the run's deadline is an error span; the run notes the deadline's expiry."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], b=[(5, OK)]) as routes:
        report = await go(flow(step("a"), step("b")), routes, timeout=3)
    assert report.outcome == "timeout"
    assert otel.tree() == [(0, "workflow w"), (1, "step a"), (1, "step b")]
    [step_b] = otel.named("step b")
    assert step_b.status.status_code is StatusCode.ERROR
    assert step_b.status.description == "the run's deadline passed (its timeout of 3 seconds)"
    assert (step_b.attributes or {})["mira.outcome"] == "timeout"
    assert [event.name for event in step_b.events] == ["deadline_expired"]
    assert (step_b.attributes or {})["mira.ask.cancelled"] is True
    assert (step_b.attributes or {})["mira.ask.handled"] == 2.0  # cut 2 s into its 5
    [run] = otel.named("workflow w")
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "Workflow execution timed out after 3.0 seconds"
    assert (run.attributes or {})["mira.status"] == "timeout"
    assert (run.attributes or {})["mira.lateness"] == 0.0  # answered at the deadline itself
    assert [(e.name, dict(e.attributes or {})) for e in run.events] == [
        ("deadline_expired", {"mira.timeout": 3.0})
    ]


async def test_a_step_timeout_ends_its_attempt_with_an_error_naming_its_own_timeout(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """An attempt that runs out of its own time is a timeout, and the run goes on."""
    journal: Journal = []
    async with actors(journal, a=[(5, OK)]) as routes:
        report = await go(flow(step("a", timeout=2, optional=True)), routes, timeout=10)
    assert report.outcome == "success"
    [attempt] = otel.named("step a")
    assert attempt.status.status_code is StatusCode.ERROR
    assert attempt.status.description == "the attempt ran out of its 2 seconds"
    assert (attempt.attributes or {})["mira.outcome"] == "timeout"


async def test_a_retry_is_one_span_per_attempt(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """Each attempt of a retried step has its own span, numbered, with its own key."""
    journal: Journal = []
    policy = RetryPolicy(max_attempts=3, initial_interval=1)
    async with actors(journal, a=[(1, fails("busy")), (1, fails("busy")), (1, OK)]) as routes:
        report = await go(flow(step("a", retry=policy)), routes, timeout=10)
    assert report.outcome == "success"
    assert otel.tree() == [(0, "workflow w")] + [(1, "step a")] * 3
    attempts = otel.named("step a")
    assert [(s.attributes or {})["mira.attempt"] for s in attempts] == [1, 2, 3]
    assert [(s.attributes or {})["mira.idempotency_key"] for s in attempts] == [
        "run-1:a:1",
        "run-1:a:2",
        "run-1:a:3",
    ]
    assert [(s.attributes or {})["mira.outcome"] for s in attempts] == [
        "error",
        "error",
        "success",
    ]
    assert [s.status.description for s in attempts[:2]] == ["busy", "busy"]
    # Each attempt waits out the backoff before it starts: 1 s, then 2 s.
    assert [(s.attributes or {})["mira.budget"] for s in attempts] == [10.0, 8.0, 5.0]


class _Relay(Actor):
    """Asks the actor it was given, and answers with that actor's answer."""

    def __init__(self, inner: ActorRef) -> None:
        self.inner = inner

    async def handle(self, message: Any) -> Any:
        await trio.sleep(1)
        return await self.inner.ask(message)


class _Answer(Actor):
    async def handle(self, message: Any) -> Any:
        await trio.sleep(2)
        return OK


async def test_an_ask_from_inside_a_handler_is_a_child_of_the_ask_it_serves(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """A nested ask is parented by the ask whose handler sent it, in the run's trace."""
    async with (
        open_actor(_Answer(), name="inner") as inner,
        open_actor(_Relay(inner), name="relay") as relay,
    ):
        report = await go(flow(step("a")), {"ta": relay}, timeout=10)
    assert report.outcome == "success"
    assert otel.tree() == [(0, "workflow w"), (1, "step a"), (2, "ask inner")]
    [outer] = otel.named("step a")  # the attempt's ask, to the relay
    [nested] = otel.named("ask inner")
    assert nested.parent is not None
    assert nested.parent.span_id == outer.context.span_id
    assert nested.context.trace_id == outer.context.trace_id
    assert (outer.attributes or {})["mira.actor"] == "relay"
    assert (outer.attributes or {})["mira.ask.handled"] == 3.0
    assert dict(nested.attributes or {}) == {
        "mira.actor": "inner",
        "mira.ask.queued": 0.0,
        "mira.ask.handled": 2.0,
    }


class _Slow(Actor):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def handle(self, message: Any) -> Any:
        await trio.sleep(self.seconds)
        return {"status": "success", "data": message["type"]}


async def test_a_resume_links_to_the_run_it_continues(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """The resumed run's span is a new trace with a link to the span of the run it resumes."""
    async with open_workflow_supervisor(
        workflows=[flow(step("a"), step("b"))], store=MemoryStore()
    ) as supervisor:
        await supervisor.spawn(_Slow, 1, name="a", handles="ta")
        await supervisor.spawn(_Slow, 3, name="b", handles="tb")
        first = await supervisor.run("w", {}, timeout=2)
        assert first.outcome == "timeout"
        second = await supervisor.resume(first.workflow_id, timeout=10)
        assert second.outcome == "success"
    original, resumed = otel.named("workflow w")
    assert [link.context for link in original.links] == []
    assert [link.context for link in resumed.links] == [original.context]
    assert dict(resumed.links[0].attributes or {}) == {"mira.link": "resumes"}
    assert (resumed.attributes or {})["mira.workflow_id"] == first.workflow_id
    steps = [s for s in otel.spans() if s.name.startswith("step ")]
    assert [(s.name, s.context.trace_id == resumed.context.trace_id) for s in steps] == [
        ("step a", False),
        ("step b", False),
        ("step b", True),  # only the step left is run again, in the resume's trace
    ]


async def test_a_run_inside_a_span_of_the_caller_is_its_child(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """The run's span joins the trace of the span its caller has open."""
    tracer = otel.tracer_provider.get_tracer("caller")
    journal: Journal = []
    async with actors(journal, a=[(1, OK)]) as routes:
        with tracer.start_as_current_span("request"):
            await go(flow(step("a")), routes)
    assert otel.tree() == [(0, "request"), (1, "workflow w"), (2, "step a")]


async def test_asks_outside_any_span_start_no_trace(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """A plain ask, outside runs and spans, records nothing: an actor system is not a trace."""
    async with open_actor(_Answer(), name="inner") as inner:
        assert await inner.ask("hi") == OK
    assert otel.spans() == []
