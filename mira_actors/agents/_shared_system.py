"""One agent system shared by the calls made outside ``running()``, opened and closed with them.

An agent instance may back one actor at a time (an actor handles one message at a
time, so its state needs no locks). Calls made outside ``running()`` therefore share
one system instead of each starting actors around the same instances: the first call
opens it, in a system task so that no caller has to outlive its own call to host it;
the last call to leave closes it and waits until its actors have stopped, so no task
outlives the calls. A system opened while an older one is still closing waits for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio

from supervisors import RunOptions, RunReport, WorkflowSupervisor

OpenSystem = Callable[[], AbstractAsyncContextManager[WorkflowSupervisor]]


class _Host:
    """The system task that holds one shared system open while it has users."""

    def __init__(self, open_system: OpenSystem) -> None:
        self._open = open_system
        self.token = trio.lowlevel.current_trio_token()
        self.users = 0
        self.system: WorkflowSupervisor | None = None
        self.error: Exception | None = None
        self.ready = trio.Event()
        self.leave = trio.Event()
        self.closed = trio.Event()
        self.calls: set[trio.CancelScope] = set()  # the calls using it, stopped if it fails

    @property
    def usable(self) -> bool:
        return not self.leave.is_set() and self.error is None and not self.closed.is_set()

    async def serve(self, after: _Host | None) -> None:
        try:
            if after is not None:
                await after.closed.wait()  # its actors stop before ours start
            async with self._open() as system:
                self.system = system
                self.ready.set()
                await self.leave.wait()
        except Exception as exc:  # a system task must not raise: its users get it instead
            self.error = exc
            for call in self.calls:
                call.cancel()
        finally:
            self.ready.set()
            self.closed.set()


class SharedSystem:
    """Hands the calls of one trio run one agent system while any of them is going on."""

    def __init__(self, open_system: OpenSystem) -> None:
        self._open = open_system
        self._host: _Host | None = None

    @property
    def active(self) -> bool:
        """Whether a shared system is open, or opening or closing, now."""
        return self._host is not None and not self._host.closed.is_set()

    def current(self) -> WorkflowSupervisor | None:
        """The open system, if there is one."""
        return None if self._host is None else self._host.system

    @asynccontextmanager
    async def use(self) -> AsyncIterator[WorkflowSupervisor]:
        """Use the shared system for the block, opening it if none is open.

        Raises:
            RuntimeError: another trio run (another thread) is using this system.
            Exception: what ended the system (for example a RestartIntensityError),
                to every call that was using it.
        """
        host = self._join()
        call = trio.CancelScope()
        host.calls.add(call)
        try:
            with call:
                if not host.ready.is_set():
                    await host.ready.wait()
                if host.error is None:
                    assert host.system is not None
                    yield host.system
            if host.error is not None:
                raise host.error
        finally:
            host.calls.discard(call)
            await self._leave(host)

    async def run(self, workflow_type: str, data: Any, *, options: RunOptions) -> RunReport:
        """Run a workflow on the shared system: ``use()`` around ``system.run()``.

        Written out for the calls' hot path: ``use()`` is an async generator, and trio's
        hooks track every one of those in a weak set (about 3% of a run's cost).

        Raises:
            RuntimeError: another trio run (another thread) is using this system.
            Exception: what ended the system, as for ``use()``.
        """
        host = self._join()
        call = trio.CancelScope()
        host.calls.add(call)
        try:
            with call:
                if not host.ready.is_set():  # open already: no schedule point for nothing
                    await host.ready.wait()
                if host.error is None:
                    assert host.system is not None
                    return await host.system.run(workflow_type, data, options=options)
            # Only the system's end cancels a call (and it sets the error first).
            assert host.error is not None
            raise host.error
        finally:
            host.calls.discard(call)
            await self._leave(host)

    def _join(self) -> _Host:
        """Count a call in as a user of the open system, opening one if none is."""
        host = self._host
        here = trio.lowlevel.current_trio_token()
        if host is not None and not host.closed.is_set() and host.token is not here:
            msg = "this orchestrator is serving calls in another trio run (another thread)"
            raise RuntimeError(msg)
        if host is None or not host.usable:
            after = host if host is not None and not host.closed.is_set() else None
            host = self._host = _Host(self._open)
            trio.lowlevel.spawn_system_task(host.serve, after, name="shared agent system")
        host.users += 1
        return host

    async def _leave(self, host: _Host) -> None:
        """Count a call out; the last one closes the system and waits until it has."""
        host.users -= 1
        if host.users == 0:
            host.leave.set()
            with trio.CancelScope(shield=True):
                await host.closed.wait()  # no task outlives the last call
            if self._host is host:
                self._host = None
