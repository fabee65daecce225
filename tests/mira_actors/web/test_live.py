"""Live updates over server-sent events, and the server's shutdown while streams are open."""

from __future__ import annotations

from contextlib import aclosing

import httpx
import trio

from mira_actors.web import serve
from mira_actors.web._server import GRACE
from supervisors import MemoryStore
from tests.mira_actors.web.systems import gated_system, start_gated_run

WAIT = 10.0


async def read_events(lines: httpx.Response) -> list[tuple[str, str]]:
    """Read the stream to its end: (event, data) pairs."""
    events, name, data = [], "", []
    async with aclosing(lines.aiter_lines()) as stream:
        async for line in stream:
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and name:
                events.append((name, "\n".join(data)))
                name, data = "", []
    return events


async def test_a_run_stream_sends_each_finished_step_then_done() -> None:
    """The run's stream sends the page fragment again when a step finishes, then 'done'."""
    gate = trio.Event()
    with trio.fail_after(WAIT):
        async with (
            gated_system(gate) as system,
            serve(system, port=0) as server,
            trio.open_nursery() as nursery,
        ):
            workflow_id = await start_gated_run(system, nursery)
            async with (
                httpx.AsyncClient(base_url=server.url) as http,
                http.stream("GET", f"/runs/{workflow_id}/stream") as stream,
            ):
                gate.set()  # 'review' finishes while the stream is open
                events = await read_events(stream)
    names = [name for name, _ in events]
    assert names[-1] == "done"
    updates = [data for name, data in events if name == "update"]
    assert 'data-step="plan"' in updates[0]
    assert 'data-step="review"' not in updates[0]
    assert 'data-step="review"' in updates[-1]
    assert "status-success" in updates[-1]


async def test_stopping_the_server_ends_open_streams_at_once() -> None:
    """A stream open when the server stops ends at once; the server is gone within its grace."""
    store = MemoryStore()
    await store.create_run("forever", "wf", {}, 60.0)  # 'running' and never finishing
    opened = trio.Event()
    ended: list[float] = []

    async def watch(http: httpx.AsyncClient, url: str) -> None:
        async with http.stream("GET", url) as stream, aclosing(stream.aiter_lines()) as lines:
            async for _ in lines:
                opened.set()
        ended.append(trio.current_time())

    with trio.fail_after(WAIT):
        async with httpx.AsyncClient() as http, trio.open_nursery() as nursery:
            async with serve(store, port=0) as server:
                nursery.start_soon(watch, http, f"{server.url}/runs/forever/stream")
                await opened.wait()
                start = trio.current_time()
            stopped = trio.current_time()
    assert ended[0] - start < GRACE  # ended by the server's closing, not by the grace's end
    assert stopped - start < 2 * GRACE + 1.0  # the bound on stopping: idle connections
