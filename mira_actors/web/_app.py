"""The ASGI app: the runs page, the run page, the live system, the JSON API, the actions.

Every endpoint is async: Starlette runs sync ones in a worker thread from the
process-wide default limiter, which this project never uses. Pages are rendered by
Jinja2 with autoescaping on, so every value is escaped; a Content-Security-Policy that
allows only this server's own script and style is a second wall.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp

from supervisors import DamagedRunError, LedgerStore, StoredRun, WorkflowSupervisor

from ._actions import Actions
from ._bounded import short
from ._guard import Guard
from ._system import system_json, system_view
from ._templates import STATIC, STATIC_TYPES, TEMPLATES
from ._views import (
    age,
    clock_time,
    decode_cursor,
    encode_cursor,
    run_json,
    run_view,
    summary_json,
)

logger = logging.getLogger("mira_actors.web")

PAGE_SIZE = 50
# The statuses the runs page filters by (the store checks the one asked for).
STATUSES = ("running", "success", "timeout", "error", "cancelled")
# How often a live page looks at the store for changes.
POLL_INTERVAL = 0.25
MAX_FORM_BYTES = 4096
DEFAULT_RESUME_TIMEOUT = 30.0

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    store: LedgerStore,
    *,
    system: WorkflowSupervisor | None = None,
    actions: Actions | None = None,
    closing: trio.Event | None = None,
    allowed_hosts: frozenset[str] | None = None,
) -> ASGIApp:
    """Return the web view's ASGI app over ``store``.

    Args:
        store: Where the runs are read.
        system: The live system in this process, for the system page.
        actions: Given, the pages offer the actions (resume); absent, read-only.
        closing: Set when the server stops: live streams end at once.
        allowed_hosts: The Host header names accepted (None: any), against DNS rebinding.
    """
    pages = _Pages(store, system, actions, trio.Event() if closing is None else closing)
    routes = [
        Route("/", pages.runs_page),
        Route("/runs/{workflow_id}", pages.run_page),
        Route("/runs/{workflow_id}/stream", pages.run_stream),
        Route("/runs/{workflow_id}/resume", pages.resume, methods=["POST"]),
        Route("/runs/{workflow_id}/cancel", pages.cancel, methods=["POST"]),
        Route("/system", pages.system_page),
        Route("/system/stream", pages.system_stream),
        Route("/api/runs", pages.api_runs),
        Route("/api/runs/{workflow_id}", pages.api_run),
        Route("/api/system", pages.api_system),
        Route("/static/{name}", pages.static),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    return Guard(app, allowed_hosts)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    page = TEMPLATES.get_template("error.html").render(status=exc.status_code, detail=exc.detail)
    return HTMLResponse(page, status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.error(
        "the web view failed to answer a request",
        extra={"error_type": type(exc).__name__, "path": short(request.url.path)},
    )
    detail = "the server could not answer; its log says why"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": detail}, status_code=500)
    return HTMLResponse(
        TEMPLATES.get_template("error.html").render(status=500, detail=detail),
        status_code=500,
    )


class _Pages:
    def __init__(
        self,
        store: LedgerStore,
        system: WorkflowSupervisor | None,
        actions: Actions | None,
        closing: trio.Event,
    ) -> None:
        self.store = store
        self.system = system
        self.actions = actions
        self.closing = closing

    def render(self, name: str, **context: Any) -> HTMLResponse:
        page = TEMPLATES.get_template(name).render(
            has_system=self.system is not None,
            actions=self.actions is not None,
            token=None if self.actions is None else self.actions.token,
            **context,
        )
        return HTMLResponse(page)

    async def load(self, workflow_id: str) -> StoredRun:
        try:
            run = await self.store.load_run(workflow_id)
        except DamagedRunError as exc:
            raise HTTPException(500, str(exc)) from None
        if run is None:
            raise HTTPException(404, f"no run with workflow_id {short(workflow_id)!r} is stored")
        return run

    async def page(self, request: Request) -> tuple[Any, str | None, int]:
        params = request.query_params
        status = params.get("status") or None
        text = params.get("limit", str(PAGE_SIZE))
        if not text.isdigit():
            raise HTTPException(400, f"limit must be a whole number, got {short(text)!r}")
        limit = int(text)
        try:
            before = decode_cursor(params["before"]) if params.get("before") else None
            page = await self.store.page_runs(status=status, limit=limit, before=before)
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, short(str(exc), 200)) from None
        return page, status, limit

    async def runs_page(self, request: Request) -> Response:
        page, status, limit = await self.page(request)
        now = time.time()
        next_url = None
        if page.next is not None:
            query = {"before": encode_cursor(page.next), "limit": limit}
            if status:
                query["status"] = status
            next_url = "/?" + urlencode(query)
        return self.render(
            "runs.html",
            runs=[(run, age(now - run.created_at)) for run in page.runs],
            status=status,
            statuses=STATUSES,
            next_url=next_url,
            first=not request.query_params.get("before"),
        )

    async def run_page(self, request: Request) -> Response:
        run = await self.load(request.path_params["workflow_id"])
        view = run_view(run)
        return self.render(
            "run.html",
            view=view,
            run=run,
            created=clock_time(run.created_at),
            notice=request.query_params.get("notice"),
            live_system=self.system is not None and run.workflow_id in self.system.live_runs,
        )

    async def run_stream(self, request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        await self.load(workflow_id)  # 404 before the stream starts

        async def fragment() -> tuple[str, bool]:
            run = await self.load(workflow_id)
            html = TEMPLATES.get_template("_run_live.html").render(view=run_view(run))
            return html, run.status != "running"

        return self.stream(fragment)

    async def system_stream(self, request: Request) -> Response:
        system = self.need_system()

        async def fragment() -> tuple[str, bool]:
            view = await system_view(system)
            return TEMPLATES.get_template("_system_live.html").render(view=view), False

        return self.stream(fragment)

    def stream(self, fragment: Callable[[], Awaitable[tuple[str, bool]]]) -> Response:
        """Server-sent events: the fragment whenever it changes, until done or closing."""

        async def events() -> AsyncIterator[str]:
            last = None
            while not self.closing.is_set():
                html, done = await fragment()
                if html != last:
                    last = html
                    yield _sse("update", html)
                if done:
                    yield _sse("done", "")
                    return
                with trio.move_on_after(POLL_INTERVAL):
                    await self.closing.wait()

        return StreamingResponse(events(), media_type="text/event-stream")

    def need_system(self) -> WorkflowSupervisor:
        if self.system is None:
            raise HTTPException(
                404, "no live system is served here: serve(system) shows one, in its process"
            )
        return self.system

    async def system_page(self, request: Request) -> Response:
        view = await system_view(self.need_system())
        return self.render("system.html", view=view)

    async def action_form(self, request: Request) -> tuple[Actions, dict[str, str]]:
        if self.actions is None:
            raise HTTPException(403, "read-only: start the server with --allow-actions")
        form = await _read_form(request)
        if not hmac.compare_digest(form.get("token", ""), self.actions.token):
            raise HTTPException(403, "the form's token is missing or stale: reload the page")
        return self.actions, form

    async def cancel(self, request: Request) -> Response:
        actions, _ = await self.action_form(request)
        workflow_id = request.path_params["workflow_id"]
        run = await self.load(workflow_id)
        if run.status == "running" and await actions.cancel(workflow_id):
            notice = "cancel requested: the run's owner cancels it at its next heartbeat"
        else:
            notice = "this run has ended: there is nothing to cancel"
        return _back_to_run(workflow_id, notice)

    async def resume(self, request: Request) -> Response:
        actions, form = await self.action_form(request)
        workflow_id = request.path_params["workflow_id"]
        try:
            timeout = float(form.get("timeout", DEFAULT_RESUME_TIMEOUT))
        except ValueError:
            timeout = math.nan
        if not timeout > 0:
            raise HTTPException(400, "timeout must be a number of seconds > 0")
        run = await self.load(workflow_id)
        if run.status == "success":
            notice = "this run has already succeeded: there is nothing to resume"
        elif workflow_id in actions.system.live_runs:
            notice = "this run is still going: resume it when it has ended"
        else:
            actions.resume(workflow_id, timeout)
            notice = f"resume started, with a timeout of {timeout:g} s"
        return _back_to_run(workflow_id, notice)

    async def api_runs(self, request: Request) -> Response:
        page, _, _ = await self.page(request)
        now = time.time()
        return JSONResponse(
            {
                "runs": [summary_json(run, now=now) for run in page.runs],
                "next": None if page.next is None else encode_cursor(page.next),
            }
        )

    async def api_run(self, request: Request) -> Response:
        run = await self.load(request.path_params["workflow_id"])
        return _json(run_json(run_view(run), now=time.time()))

    async def api_system(self, request: Request) -> Response:
        return _json(system_json(await system_view(self.need_system())))

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return Response(STATIC[name], media_type=STATIC_TYPES[name])


def _back_to_run(workflow_id: str, notice: str) -> Response:
    url = f"/runs/{quote(workflow_id, safe='')}?" + urlencode({"notice": notice})
    return RedirectResponse(url, status_code=303)


def _json(value: Any) -> Response:
    # Step results may hold any JSON; NaN and infinity never reach here (stores refuse them).
    return Response(json.dumps(value, allow_nan=False), media_type="application/json")


def _sse(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {event}\n{lines}\n"


async def _read_form(request: Request) -> dict[str, str]:
    """Read a small url-encoded form; refuse a big one before reading it all."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "the form is too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}
