"""The thread a SQLite store owns: its SQL runs there, in order, never on trio's threads."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import trio

T = TypeVar("T")

logger = logging.getLogger("supervisors.store")

# A job's life: queued, then running, then done; or dropped while still queued.
_QUEUED, _RUNNING, _DONE, _DROPPED = "queued", "running", "done", "dropped"


class _Job(Generic[T]):
    """One call on the thread, and the way its outcome gets back to the waiting task."""

    def __init__(self, fn: Callable[[], T], token: trio.lowlevel.TrioToken) -> None:
        self.fn = fn
        self.token = token
        self.done = trio.Event()
        self.state = _QUEUED
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # handed to the waiting task, which raises it
            self.error = exc
        # When the run that asked has ended, nobody waits for this answer.
        with contextlib.suppress(trio.RunFinishedError):
            self.token.run_sync_soon(self.done.set)


class _Close:
    """The last item a thread takes: the call to make once the others are done."""

    def __init__(self, job: _Job[Any]) -> None:
        self.job = job


class SqlThread:
    """A thread that runs one store's calls one at a time, in the order they came.

    A store that owns one cannot be starved by anything else in the process (abandoned
    agent threads fill trio's default limiter, never this), and its calls never run on
    the trio thread. :meth:`run` waits for a call under the caller's cancel scopes: a
    caller that gives up stops waiting at once; a call it gave up on before the thread
    started it never runs. :meth:`submit` queues work that nobody waits for (a retried
    commit), which runs until it lands or the thread is closed.

    Args:
        name: The thread's name, for debuggers and logs.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job[Any] | _Close | Callable[[bool], bool]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the thread and return what it returns (or raise what it raises).

        When the caller is cancelled while ``fn`` is still queued, ``fn`` never runs;
        when it is already running, it runs to its end with nobody waiting for it.
        """
        return await self.result(self.start(fn))

    def start(self, fn: Callable[[], T]) -> _Job[T]:
        """Queue ``fn``; :meth:`result` waits for it."""
        job: _Job[T] = _Job(fn, trio.lowlevel.current_trio_token())
        self._jobs.put(job)
        return job

    async def result(self, job: _Job[T]) -> T:
        """Wait for ``job``; cancelled while it is still queued, it is dropped, never run.

        A job that was running when its waiter was cancelled may be waited for again.
        """
        try:
            await job.done.wait()
        except trio.Cancelled:
            with self._lock:
                if job.state == _QUEUED:
                    job.state = _DROPPED
            raise
        if job.error is not None:
            raise job.error
        value: T = job.value
        return value

    def submit(self, attempt: Callable[[bool], bool]) -> None:
        """Run ``attempt(last)`` on the thread until it returns True; nobody waits for it.

        It is tried at once, then again every :data:`RETRY_PAUSE` seconds between the
        calls that come meanwhile, and a last time with ``last=True`` when the thread
        is closed with it still pending.
        """
        self._jobs.put(attempt)

    async def aclose(self, last: Callable[[], Any]) -> None:
        """End the thread: pending commits get a last try, then ``last()`` runs there.

        Calls that come after this are answered with RuntimeError. Waits (under the
        caller's scopes: shield it to be sure the thread has ended) for ``last``.
        """
        job: _Job[Any] = _Job(last, trio.lowlevel.current_trio_token())
        self._jobs.put(_Close(job))
        await job.done.wait()
        self._thread.join()  # it has delivered its last answer: it is returning now
        if job.error is not None:
            raise job.error

    def _serve(self) -> None:
        retries: list[Callable[[bool], bool]] = []
        next_retry = 0.0
        while True:
            try:
                item = self._jobs.get(timeout=RETRY_PAUSE if retries else None)
            except queue.Empty:
                item = _RETRY
            if isinstance(item, _Close):
                closing = item
                break
            if isinstance(item, _Job):
                self._run_job(item)
            elif item is not _RETRY and not _attempt(item, last=False):
                retries.append(item)
            if retries and time.monotonic() >= next_retry:
                retries = [a for a in retries if not _attempt(a, last=False)]
                next_retry = time.monotonic() + RETRY_PAUSE
        # Closed. A call that raced the close is answered; a pending commit gets its last try.
        while not self._jobs.empty():
            item = self._jobs.get()
            if isinstance(item, _Job):
                item.fn = _closed
                self._run_job(item)
            elif not isinstance(item, _Close) and item is not _RETRY:
                retries.append(item)
        for attempt in retries:
            _attempt(attempt, last=True)
        closing.job.run()

    def _run_job(self, job: _Job[Any]) -> None:
        with self._lock:
            if job.state == _DROPPED:
                return
            job.state = _RUNNING
        job.run()
        with self._lock:
            job.state = _DONE


def _attempt(attempt: Callable[[bool], bool], *, last: bool) -> bool:
    """Try a background job once; one that raises has failed for good (logged)."""
    try:
        return attempt(last)
    except Exception:
        logger.exception(
            "a background commit failed for good", extra={"event_type": "commit_failed"}
        )
        return True


def _closed() -> None:
    msg = "the ledger store is closed"
    raise RuntimeError(msg)


def _retry_marker(last: bool) -> bool:
    return True


_RETRY: Callable[[bool], bool] = _retry_marker  # "time to try the pending retries"

RETRY_PAUSE = 0.05
"""Seconds between tries of a background commit when nothing else is queued."""
