"""Ledger stores: where runs and their step records are kept, so a run can be resumed.

:class:`LedgerStore` is the interface a backend implements; :class:`MemoryStore` keeps
runs in this process (the default when no path is given), and
:class:`~supervisors._sqlite_store.SqliteStore` keeps them in a SQLite file.
"""

from __future__ import annotations

import heapq
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import trio

from mira_actors import MiraError

from ._ledger import Status, StepRecord
from ._run_pages import RunCursor, RunPage, RunSummary, check_page, make_page

RUNNING = Status.RUNNING
OUTCOMES = (Status.SUCCESS, Status.TIMEOUT, Status.ERROR, Status.CANCELLED)
STATUSES = (RUNNING, *OUTCOMES)

# How long past its deadline a resume's claim still holds. A resume runs under its
# timeout, so one that has not released its claim by then has died (a crash, a kill)
# and the run can be taken by another resume.
CLAIM_GRACE = 30.0

Clock = Callable[[], float]


class UnknownRunError(MiraError, LookupError):
    """Raised when a store is asked to change a run it does not hold."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"no run with workflow_id {workflow_id!r} is stored; check the id "
            "(the store's list_runs(), or 'mira-actors runs', shows the stored ones)"
        )


class StoreUnavailableError(MiraError, TimeoutError):
    """Raised when a store cannot make a call within the caller's time (it is locked)."""

    def __init__(self, store: str, seconds: float) -> None:
        self.store = store
        self.seconds = seconds
        super().__init__(
            f"the ledger store {store!r} could not commit in the {seconds:.3g} seconds "
            "the call had (locked by another connection, or slow); nothing was written"
        )


class DamagedRunError(MiraError, ValueError):
    """Raised when a stored run's own row (its input or outcome) cannot be read back."""

    def __init__(self, workflow_id: str, field: str) -> None:
        self.workflow_id = workflow_id
        self.field = field
        super().__init__(
            f"the stored run {workflow_id!r} is damaged: its {field!r} cannot be read back; "
            "start the workflow again as a new run"
        )


class ResumeConflictError(MiraError, RuntimeError):
    """Raised when a run is resumed while it is still going: started or resumed elsewhere."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"run {workflow_id!r} is still going (started or being resumed by another caller); "
            "wait for it to finish, then resume again if it did not complete"
        )


@attrs.frozen(kw_only=True)
class StoredRun:
    """A run as a store holds it: what it runs, each step written, and how it ended.

    Values (``data``, each record's ``result``, ``response``) are decoded from JSON on
    every load: tuples come back as lists, and changing them changes nothing stored.

    Attributes:
        workflow_id: The run's id.
        workflow_type: The workflow's name.
        data: The workflow input.
        timeout: The timeout of its latest start or resume, in seconds.
        status: 'running' (started or resumed and not finished: live, or crashed),
            'success', 'timeout' or 'error'.
        records: Every step record, in the order written.
        response: The response it finished with, or None while it has not.
        created_at: Wall-clock time (``time.time()``) it was created.
        updated_at: Wall-clock time of its latest change.
        resumes: How many times it has been claimed for a resume.
    """

    workflow_id: str
    workflow_type: str
    data: Any
    timeout: float
    status: str
    records: tuple[StepRecord, ...] = ()
    response: dict[str, Any] | None = None
    created_at: float
    updated_at: float
    resumes: int = 0

    @property
    def completed_steps(self) -> list[str]:
        """The names of the steps that succeeded, in order."""
        return [r.step for r in self.records if r.completed]

    @property
    def results(self) -> dict[str, Any]:
        """Each succeeded step's result, by step name: what a resume carries over."""
        return {r.step: r.result for r in self.records if r.completed}


class LedgerStore(Protocol):
    """Where workflow runs are kept so they survive a timeout, a crash or a restart.

    A backend implements these coroutines with these guarantees:

    - Values are JSON: ``data``, results and responses are encoded with
      :func:`encode_json` when written, so a value JSON cannot hold fails at once,
      naming the step, and every store gives back the same values.
    - A write is durable and whole when it returns, and it is not cancellable: once
      called it completes (a cancelled caller sees the cancellation at its next
      checkpoint), so a step that finished just before a deadline is never lost. It
      never outlasts the caller's deadline by more than a small floor: a store that
      cannot commit in time raises :class:`StoreUnavailableError`, and the write does
      not count (for ``finish_run``, a durable store keeps trying it in the background
      until it lands or the store closes; until then the run stays 'running').
    - Reads never crash on damaged step records: a malformed one is logged (logger
      ``supervisors.store``, error_type 'invalid_step_format', 'invalid_steps_format'
      or 'step_extraction_failed', never its contents) and left out, so it counts as
      not completed.
    - :meth:`claim` is atomic across every process that shares the store.

    Usage::

        await store.create_run(run_id, "project_initialization", data, timeout=30.0)
        await store.record_step(run_id, record)  # the step counts as completed now
        await store.finish_run(run_id, outcome="timeout", response=resp, records=cut)
        if await store.claim(run_id, owner, timeout=30.0):
            try:
                run = await store.load_run(run_id)  # run.results feed the resume
                ...
            finally:
                await store.release(run_id, owner)
    """

    async def create_run(
        self, workflow_id: str, workflow_type: str, data: Any, timeout: float
    ) -> None:
        """Store a new run with status 'running', before its first step starts.

        Raises:
            ValueError: a run with this id is already stored, or ``data`` holds a
                value JSON cannot (NaN, infinity, a circular reference).
            TypeError: ``data`` holds a value of a type JSON cannot.
        """
        ...

    async def record_step(self, workflow_id: str, record: StepRecord) -> None:
        """Append a step record; it is durable when this returns.

        A step counts as completed only once its record has been written here.

        Raises:
            UnknownRunError: no such run.
            TypeError, ValueError: the record's result is not JSON (nothing is written).
        """
        ...

    async def finish_run(
        self,
        workflow_id: str,
        *,
        outcome: str,
        response: Mapping[str, Any],
        records: Sequence[StepRecord] = (),
    ) -> None:
        """Append ``records``, set the outcome and store the response, in one transaction.

        At a timeout, ``records`` are the steps the deadline cut short and ``response``
        carries the partial progress; either all of it is stored or none of it.

        Raises:
            UnknownRunError: no such run.
            ValueError: ``outcome`` is not 'success', 'timeout' or 'error'.
            TypeError, ValueError: a value is not JSON (nothing is written).
        """
        ...

    async def load_run(self, workflow_id: str) -> StoredRun | None:
        """Return the run with this id, or None when there is none.

        Raises:
            DamagedRunError: the run's own row is damaged (logged 'invalid_run_format').
        """
        ...

    async def list_runs(self) -> list[StoredRun]:
        """Return every readable run, newest first (damaged ones are logged and left out)."""
        ...

    async def page_runs(
        self, *, status: str | None = None, limit: int = 50, before: RunCursor | None = None
    ) -> RunPage:
        """Return a page of run summaries, newest first, for lists of runs.

        Runs are ordered by ``created_at``, then ``workflow_id``, both descending.
        ``status`` keeps only the runs with that status; ``before`` (a page's ``next``)
        starts the page after that run. A durable store walks an index from the
        cursor (keyset paging), so a page costs the same with 100,000 runs stored as
        with 100; summaries carry no input, results or response. A damaged run row
        is logged and left out, as in :meth:`list_runs`.

        Raises:
            ValueError: an unknown ``status``, or ``limit`` outside 1..1000.
            TypeError: ``before`` is not a RunCursor.
        """
        ...

    async def claim(self, workflow_id: str, owner: str, *, timeout: float) -> bool:
        """Take a run for a resume by ``owner`` under a new timeout, atomically.

        On success the run's status goes back to 'running', ``resumes`` grows by one
        and ``timeout`` becomes the new one. The claim holds until :meth:`release`, or
        until ``timeout`` plus :data:`CLAIM_GRACE` seconds have passed (its holder has
        died). A run's first start takes no claim, so a run that crashed can be claimed
        at once.

        Returns:
            False when another owner holds the run, or when it has already succeeded
            (load it to tell which); True when ``owner`` now holds it.

        Raises:
            UnknownRunError: no such run.
        """
        ...

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up ``owner``'s claim on a run; nothing happens when it holds none."""
        ...

    async def aclose(self) -> None:
        """Close the store; later calls raise RuntimeError. Closing twice is allowed."""
        ...


# Made once: json.dumps() with options builds a new encoder on every call.
_ENCODE = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
_ENCODE_ALLOWING_NAN = json.JSONEncoder(allow_nan=True, separators=(",", ":")).encode


def encode_json(value: Any, what: str, *, allow_nan: bool = False) -> str:
    """Return ``value`` as JSON text, or raise naming ``what`` could not be stored.

    Raises:
        TypeError: a value of a type JSON cannot hold (a set, an object, a non-str key).
        ValueError: NaN or infinity (unless ``allow_nan``), a circular reference, or
            nesting too deep to encode.
    """
    try:
        return (_ENCODE_ALLOWING_NAN if allow_nan else _ENCODE)(value)
    except TypeError as exc:
        msg = f"{what} cannot be stored: a ledger store keeps JSON values only ({exc})"
        raise TypeError(msg) from exc
    except (ValueError, RecursionError) as exc:
        msg = f"{what} cannot be stored: a ledger store keeps JSON values only ({exc})"
        raise ValueError(msg) from exc


def encode_result(record: StepRecord) -> str:
    """Return the record's result as JSON text, or raise naming the step."""
    return encode_json(record.result, f"the result of step {record.step!r}")


def encode_response(response: Mapping[str, Any]) -> str:
    """Return a run's response as JSON text.

    Infinity is allowed: a run with no deadline (``math.inf``) whose step timed out
    reports ``timeout_seconds: inf``. The results inside were checked strictly when
    their steps were recorded.
    """
    if not isinstance(response, Mapping):
        msg = f"a run's response must be a dict, got {type(response).__name__}"
        raise TypeError(msg)
    return encode_json(dict(response), "the run's response", allow_nan=True)


def check_outcome(outcome: str) -> None:
    """Raise ValueError unless ``outcome`` is one a run can finish with."""
    if outcome not in OUTCOMES:
        allowed = ", ".join(repr(str(o)) for o in OUTCOMES)
        msg = f"outcome must be one of {allowed}, got {outcome!r}"
        raise ValueError(msg)


def claim_until(now: float, timeout: float) -> float:
    """Return when a claim taken at ``now`` for a resume under ``timeout`` lapses."""
    return now + timeout + CLAIM_GRACE


# A record as MemoryStore keeps it: its fields but the result, and the result as JSON.
_RecordFields = tuple[str, str, str, float, float, int, "str | None", "str | None"]


@attrs.define
class _MemoryRun:
    """A run as :class:`MemoryStore` holds it: values as JSON text, never shared."""

    seq: int  # creation order
    workflow_type: str
    data: str
    timeout: float
    created_at: float
    updated_at: float
    status: str = RUNNING
    records: list[tuple[_RecordFields, str]] = attrs.Factory(list)
    response: str | None = None
    resumes: int = 0
    claimed_by: str | None = None
    claimed_until: float = 0.0

    def append(self, record: StepRecord, result: str) -> None:
        # A plain tuple: cheaper than a copy of the record without its result.
        fields = (
            record.step,
            record.agent,
            record.status,
            record.started_at,
            record.ended_at,
            record.attempts,
            record.error,
            record.error_type,
        )
        self.records.append((fields, result))

    def summary(self, workflow_id: str) -> RunSummary:
        return RunSummary(
            workflow_id=workflow_id,
            workflow_type=self.workflow_type,
            status=self.status,
            timeout=self.timeout,
            created_at=self.created_at,
            updated_at=self.updated_at,
            resumes=self.resumes,
            steps_done=sum(1 for fields, _ in self.records if fields[2] == Status.SUCCESS),
        )

    def stored(self, workflow_id: str) -> StoredRun:
        return StoredRun(
            workflow_id=workflow_id,
            workflow_type=self.workflow_type,
            data=json.loads(self.data),
            timeout=self.timeout,
            status=self.status,
            records=tuple(_record(fields, text) for fields, text in self.records),
            response=None if self.response is None else json.loads(self.response),
            created_at=self.created_at,
            updated_at=self.updated_at,
            resumes=self.resumes,
        )


def _record(fields: _RecordFields, result: str) -> StepRecord:
    step, agent, status, started_at, ended_at, attempts, error, error_type = fields
    return StepRecord(
        step=step,
        agent=agent,
        status=status,
        started_at=started_at,
        ended_at=ended_at,
        attempts=attempts,
        result=json.loads(result),
        error=error,
        error_type=error_type,
    )


class MemoryStore:
    """A :class:`LedgerStore` in this process's memory: lost when the process ends.

    It keeps values as JSON text, as a durable store does, so it accepts and gives
    back exactly what one would, and nothing a caller holds can change what it keeps.

    Args:
        clock: The wall clock for ``created_at``, ``updated_at`` and claims.
        max_runs: How many runs it keeps; past that, creating a run forgets the oldest
            finished one, so a long-lived process does not grow without bound (None:
            keep every run).
    """

    def __init__(self, *, clock: Clock = time.time, max_runs: int | None = 10_000) -> None:
        if max_runs is not None and (
            isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1
        ):
            msg = f"max_runs must be an int >= 1 or None, got {max_runs!r}"
            raise ValueError(msg)
        self._clock = clock
        self._max_runs = max_runs
        self._runs: dict[str, _MemoryRun] = {}
        self._created = itertools.count()
        # Finished runs by creation order, (seq, id): the oldest is forgotten first. An
        # entry whose run has since been resumed or forgotten is stale, and skipped.
        self._finished: list[tuple[int, str]] = []
        self._closed = False

    def _forget_oldest_finished(self) -> None:
        """Forget the oldest finished run when the store is full: O(log n), no scan."""
        if self._max_runs is None or len(self._runs) < self._max_runs:
            return
        finished = self._finished
        while finished:
            seq, workflow_id = heapq.heappop(finished)
            run = self._runs.get(workflow_id)
            if run is not None and run.seq == seq and run.status != RUNNING:
                del self._runs[workflow_id]
                return

    def _run(self, workflow_id: str) -> _MemoryRun:
        self._check_open()
        if (run := self._runs.get(workflow_id)) is None:
            raise UnknownRunError(workflow_id)
        return run

    def _check_open(self) -> None:
        if self._closed:
            msg = "the ledger store is closed"
            raise RuntimeError(msg)

    async def create_run(
        self, workflow_id: str, workflow_type: str, data: Any, timeout: float
    ) -> None:
        """Store a new run; see :meth:`LedgerStore.create_run`."""
        self._check_open()
        if workflow_id in self._runs:
            msg = f"a run with workflow_id {workflow_id!r} is already stored"
            raise ValueError(msg)
        encoded = encode_json(data, "workflow data")
        self._forget_oldest_finished()
        now = self._clock()
        self._runs[workflow_id] = _MemoryRun(
            seq=next(self._created),
            workflow_type=workflow_type,
            data=encoded,
            timeout=timeout,
            created_at=now,
            updated_at=now,
        )
        # Writes are not cancellable: the run is stored, so no cancellation is raised.
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def record_step(self, workflow_id: str, record: StepRecord) -> None:
        """Append a step record; see :meth:`LedgerStore.record_step`."""
        run = self._run(workflow_id)
        result = encode_result(record)
        run.append(record, result)
        run.updated_at = self._clock()
        # A memory write completes at once, so it does not yield: that would cost every
        # run a scheduling round per step (the asks around it yield).

    async def finish_run(
        self,
        workflow_id: str,
        *,
        outcome: str,
        response: Mapping[str, Any],
        records: Sequence[StepRecord] = (),
    ) -> None:
        """Store how the run ended; see :meth:`LedgerStore.finish_run`."""
        run = self._run(workflow_id)
        check_outcome(outcome)
        # Everything is encoded before anything changes: all of it is stored, or none.
        encoded = [(record, encode_result(record)) for record in records]
        text = encode_response(response)
        for record, result in encoded:
            run.append(record, result)
        if run.status == RUNNING:
            heapq.heappush(self._finished, (run.seq, workflow_id))
        run.status, run.response, run.updated_at = outcome, text, self._clock()
        # No yield, as in record_step: at a deadline burst, each run's last write would
        # otherwise put its answer behind another round of every other run.

    async def load_run(self, workflow_id: str) -> StoredRun | None:
        """Return the run, or None; see :meth:`LedgerStore.load_run`."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        return None if (run := self._runs.get(workflow_id)) is None else run.stored(workflow_id)

    async def list_runs(self) -> list[StoredRun]:
        """Return every run, newest first; see :meth:`LedgerStore.list_runs`."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        # Reversed insertion order breaks ties between runs created at the same time.
        newest = reversed(list(self._runs.items()))
        runs = sorted(newest, key=lambda item: item[1].created_at, reverse=True)
        return [run.stored(workflow_id) for workflow_id, run in runs]

    async def page_runs(
        self, *, status: str | None = None, limit: int = 50, before: RunCursor | None = None
    ) -> RunPage:
        """Return a page of runs, newest first; see :meth:`LedgerStore.page_runs`.

        One pass over the runs held (at most ``max_runs``), not an index walk.
        """
        self._check_open()
        check_page(status, limit, before)
        await trio.lowlevel.checkpoint()
        end = None if before is None else (before.created_at, before.workflow_id)
        keys = (
            (run.created_at, workflow_id)
            for workflow_id, run in self._runs.items()
            if (status is None or run.status == status)
            and (end is None or (run.created_at, workflow_id) < end)
        )
        newest = heapq.nlargest(limit + 1, keys)
        return make_page(
            (self._runs[workflow_id].summary(workflow_id) for _, workflow_id in newest[:limit]),
            more=len(newest) > limit,
        )

    async def claim(self, workflow_id: str, owner: str, *, timeout: float) -> bool:
        """Take a run for a resume; see :meth:`LedgerStore.claim`."""
        run = self._run(workflow_id)
        now = self._clock()
        held = run.claimed_by not in (None, owner) and run.claimed_until >= now
        taken = not held and run.status != Status.SUCCESS
        if taken:
            run.claimed_by, run.claimed_until = owner, claim_until(now, timeout)
            run.status, run.timeout, run.updated_at = RUNNING, timeout, now
            run.response = None  # running again: the old outcome no longer stands
            run.resumes += 1
        await trio.lowlevel.cancel_shielded_checkpoint()
        return taken

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up a claim; see :meth:`LedgerStore.release`."""
        self._check_open()
        if (run := self._runs.get(workflow_id)) is not None and run.claimed_by == owner:
            run.claimed_by, run.claimed_until = None, 0.0
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def aclose(self) -> None:
        """Close the store; see :meth:`LedgerStore.aclose`."""
        self._closed = True
        await trio.lowlevel.cancel_shielded_checkpoint()
