"""The JSON API and the pages over plain HTTP, on a real server bound to 127.0.0.1."""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio

from mira_actors.web import NonLoopbackError, serve
from supervisors import MemoryStore, StepRecord
from tests.mira_actors.web.systems import HOSTILE, gated_system, start_gated_run

WAIT = 10.0  # seconds: the bound on every wait for the server


def record(step: str, status: str = "success", result: Any = None, **fields: Any) -> StepRecord:
    """A record of ``step`` that ran from t=1 to t=2."""
    fields.setdefault("started_at", 1.0)
    fields.setdefault("ended_at", 2.0)
    return StepRecord(step=step, agent="agent", status=status, result=result, **fields)


async def stored(count: int) -> MemoryStore:
    """A store with ``count`` finished runs, r0 oldest; every third one an error."""
    clock = iter(range(1_000, 1_000 + 10 * count + 10))
    store = MemoryStore(clock=lambda: float(next(clock)), max_runs=None)
    for i in range(count):
        await store.create_run(f"r{i}", "wf", {"i": i}, 5.0)
        await store.record_step(f"r{i}", record("one", result={"i": i}))
        outcome = "error" if i % 3 == 0 else "success"
        await store.finish_run(f"r{i}", outcome=outcome, response={"error": "boom" * 100})
    return store


async def test_api_runs_pages_newest_first_and_filters() -> None:
    """/api/runs lists summaries newest first, pages by 'next', and filters by status."""
    store = await stored(5)
    with trio.fail_after(WAIT):
        async with serve(store, port=0) as server, httpx.AsyncClient(base_url=server.url) as http:
            first = (await http.get("/api/runs", params={"limit": 2})).json()
            assert [r["workflow_id"] for r in first["runs"]] == ["r4", "r3"]
            assert first["runs"][0]["steps_done"] == 1
            assert first["runs"][0]["status"] == "success"
            rest = (await http.get("/api/runs", params={"before": first["next"]})).json()
            assert [r["workflow_id"] for r in rest["runs"]] == ["r2", "r1", "r0"]
            assert rest["next"] is None
            errors = (await http.get("/api/runs", params={"status": "error"})).json()
            assert [r["workflow_id"] for r in errors["runs"]] == ["r3", "r0"]


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "many"}, {"status": "sleeping"}, {"before": "yesterday"}],
)
async def test_api_runs_bad_queries_are_400_with_a_reason(query: dict[str, str]) -> None:
    """A bad limit, status or cursor gets a 400 whose JSON says what was wrong."""
    store = await stored(1)
    with trio.fail_after(WAIT):
        async with serve(store, port=0) as server, httpx.AsyncClient(base_url=server.url) as http:
            response = await http.get("/api/runs", params=query)
    assert response.status_code == 400
    assert next(iter(query)) in response.json()["error"]


async def test_api_run_gives_steps_with_timing_and_bounded_values() -> None:
    """/api/runs/{id} gives each step's offset, time left and result; big ones as previews."""
    store = MemoryStore()
    await store.create_run("big", "wf", {"blob": "x" * 100_000}, 10.0)
    small = record("small", result={"ok": True}, started_at=100.0, ended_at=101.0)
    await store.record_step("big", small)
    await store.record_step(
        "big", record("huge", result=["y" * 50_000], started_at=101.0, ended_at=104.0)
    )
    await store.record_step(
        "big",
        record(
            "late",
            "timeout",
            started_at=104.0,
            ended_at=110.0,
            error="e" * 5000,
            error_type="deadline",
        ),
    )
    await store.finish_run("big", outcome="timeout", response={"error": "z" * 10_000})
    with trio.fail_after(WAIT):
        async with serve(store, port=0) as server, httpx.AsyncClient(base_url=server.url) as http:
            response = await http.get("/api/runs/big")
    body = response.json()
    assert len(response.content) < 30_000  # 150 KB of values stored; the answer stays small
    assert body["status"] == "timeout"
    assert len(body["error"]) <= 200
    assert body["data_truncated"] is True
    steps = {s["step"]: s for s in body["steps"]}
    assert steps["small"]["result"] == {"ok": True}
    assert steps["small"]["result_truncated"] is False
    assert (steps["huge"]["offset_seconds"], steps["huge"]["time_left_at_start"]) == (1.0, 9.0)
    assert steps["huge"]["result"] is None
    assert steps["huge"]["result_truncated"] is True
    assert len(steps["huge"]["result_preview"]) <= 16_001
    assert steps["late"]["time_left_at_start"] == 6.0
    assert steps["late"]["error_type"] == "deadline"
    assert len(steps["late"]["error"]) <= 200
    assert body["sessions"] == [{"number": 0, "deadline_seconds": 10.0, "steps": 3}]


async def test_unknown_runs_are_404_in_the_api_and_the_pages() -> None:
    """An unknown id is a 404: JSON for the API, a page for people, the id escaped."""
    with trio.fail_after(WAIT):
        async with (
            serve(MemoryStore(), port=0) as server,
            httpx.AsyncClient(base_url=server.url) as http,
        ):
            api = await http.get("/api/runs/nope")
            page = await http.get("/runs/%3Cb%3Enope")
    assert api.status_code == 404
    assert "nope" in api.json()["error"]
    assert page.status_code == 404
    assert "&lt;b&gt;nope" in page.text
    assert "<b>nope" not in page.text


async def test_pages_escape_step_results_and_forbid_inline_script() -> None:
    """A result holding <script> and HTML is escaped, and the CSP allows no inline script."""
    gate = trio.Event()
    gate.set()
    with trio.fail_after(WAIT):
        async with gated_system(gate) as system, serve(system, port=0) as server:
            report = await system.run("gated", {"who": "<i>me</i>"}, timeout=5.0)
            async with httpx.AsyncClient(base_url=server.url) as http:
                page = await http.get(f"/runs/{report.workflow_id}")
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "&lt;script&gt;window.__owned = 1&lt;/script&gt;" in page.text
    assert "<i>me</i>" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_a_foreign_host_header_is_refused_on_loopback() -> None:
    """Bound to loopback, a request naming another host (DNS rebinding) gets 421."""
    with trio.fail_after(WAIT):
        async with (
            serve(MemoryStore(), port=0) as server,
            httpx.AsyncClient(base_url=server.url) as http,
        ):
            foreign = await http.get("/api/runs", headers={"host": "evil.example:80"})
            local = await http.get("/api/runs", headers={"host": "localhost"})
    assert foreign.status_code == 421
    assert local.status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com", "::"])
async def test_a_non_loopback_address_is_refused_without_the_flag(host: str) -> None:
    """serve() refuses to bind beyond this machine unless allow_remote is given."""
    with pytest.raises(NonLoopbackError, match="allow-remote"):
        async with serve(MemoryStore(), host=host, port=0):
            pytest.fail("it served")


async def test_read_only_refuses_actions_and_shows_no_forms() -> None:
    """Without allow_actions a POST is refused with 403 and the run page has no form."""
    store = await stored(1)
    with trio.fail_after(WAIT):
        async with serve(store, port=0) as server, httpx.AsyncClient(base_url=server.url) as http:
            page = await http.get("/runs/r0")
            post = await http.post("/runs/r0/resume", data={"timeout": "5"})
            cancel = await http.post("/runs/r0/cancel", data={})
    assert '<form class="action"' not in page.text
    assert "read-only" in page.text
    assert (post.status_code, cancel.status_code) == (403, 403)


async def test_actions_need_a_live_system() -> None:
    """allow_actions on a store alone is a clear error: resumes need a system."""
    with pytest.raises(ValueError, match="live system"):
        async with serve(MemoryStore(), port=0, allow_actions=True):
            pytest.fail("it served")


async def test_resume_from_the_page_continues_the_run() -> None:
    """With actions, a resume posted with the page's token finishes a timed-out run."""
    gate = trio.Event()
    with trio.fail_after(WAIT):
        async with (
            gated_system(gate) as system,
            serve(system, port=0, allow_actions=True) as server,
        ):
            report = await system.run("gated", {}, timeout=0.2)
            assert report.outcome == "timeout"
            gate.set()
            async with httpx.AsyncClient(base_url=server.url) as http:
                url = f"/runs/{report.workflow_id}"
                page = await http.get(url)
                token = page.text.split('name="token" value="')[1].split('"')[0]
                forged = await http.post(f"{url}/resume", data={"timeout": "5", "token": "x"})
                assert forged.status_code == 403
                posted = await http.post(f"{url}/resume", data={"timeout": "5", "token": token})
                assert posted.status_code == 303
                assert "resume+started" in posted.headers["location"]
                # The store tells no one of changes: poll it, within the test's bound.
                while (run := await system.store.load_run(report.workflow_id)) is not None and (  # noqa: ASYNC110
                    run.status != "success"
                ):
                    await trio.sleep(0.01)
    assert run is not None
    assert run.resumes == 1
    assert run.completed_steps == ["plan", "review"]


async def test_cancel_from_the_page_cancels_a_run_in_flight() -> None:
    """With actions, a cancel posted with the page's token ends a live run as 'cancelled'."""
    gate = trio.Event()  # never opened: the run waits in 'review' until cancelled
    outcomes: list[str] = []
    with trio.fail_after(WAIT):
        async with (
            gated_system(gate, lease_time=0.3) as system,  # a heartbeat every 0.1 s
            serve(system, port=0, allow_actions=True) as server,
            httpx.AsyncClient(base_url=server.url) as http,
            trio.open_nursery() as nursery,
        ):
            workflow_id = await start_gated_run(system, nursery, outcomes=outcomes)
            url = f"/runs/{workflow_id}"
            page = await http.get(url)
            assert 'id="cancel"' in page.text
            token = page.text.split('name="token" value="')[1].split('"')[0]
            forged = await http.post(f"{url}/cancel", data={"token": "x"})
            assert forged.status_code == 403
            posted = await http.post(f"{url}/cancel", data={"token": token})
            assert posted.status_code == 303
            assert "cancel+requested" in posted.headers["location"]
    assert outcomes == ["cancelled"]
    run = await system.store.load_run(workflow_id)
    assert run is not None
    assert run.status == "cancelled"
    assert run.completed_steps == ["plan"]


async def test_the_live_system_shows_actors_and_runs_in_flight(
    live_tasks: Callable[[], list[trio.lowlevel.Task]],
) -> None:
    """/api/system lists the actors with their mailboxes and a run in flight with time left."""
    gate = trio.Event()
    before = len(live_tasks())
    with trio.fail_after(WAIT):
        async with gated_system(gate) as system:
            async with trio.open_nursery() as nursery:
                await start_gated_run(system, nursery, timeout=60.0)
                async with (
                    serve(system, port=0) as server,
                    httpx.AsyncClient(base_url=server.url) as http,
                ):
                    snapshot = (await http.get("/api/system")).json()
                    page = await http.get("/system")
                gate.set()
            assert len(live_tasks()) > before  # the system's own actors
        assert len(live_tasks()) == before  # nothing the server started outlives it
    actors = {a["name"]: a for a in snapshot["actors"]}
    assert set(actors) == {"planner", "reviewer"}
    assert actors["reviewer"]["restarts"] == 0
    assert actors["reviewer"]["capacity"] > 0
    [flight] = snapshot["runs_in_flight"]
    assert flight["workflow_type"] == "gated"
    assert 0 < flight["time_left"] <= 60.0
    assert not math.isinf(flight["time_left"])
    assert "reviewer" in page.text


async def test_a_taken_port_raises_oserror() -> None:
    """serve() on a port another socket holds raises OSError itself, not inside a group."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            async with serve(MemoryStore(), port=taken.getsockname()[1]):
                pytest.fail("it served")
