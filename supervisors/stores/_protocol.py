"""Ledger stores: where runs and their step records are kept, so a run can be resumed.

:class:`LedgerStore` is the interface a backend implements;
:class:`~supervisors.stores._memory_store.MemoryStore` keeps runs in this process (the default
when no path is given), :class:`~supervisors.stores._sqlite_store.SqliteStore` in a SQLite file
and :class:`~supervisors.stores._postgres_store.PostgresStore` in a PostgreSQL database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from mira_actors import MiraError, safe_repr

from .._ledger import Status, StepRecord
from ._run_pages import RunCursor, RunPage

RUNNING = Status.RUNNING
OUTCOMES = (Status.SUCCESS, Status.TIMEOUT, Status.ERROR, Status.CANCELLED)
STATUSES = (RUNNING, *OUTCOMES)

# How long an owner's leases hold without a heartbeat, and how often it beats: a third
# of the lease, so two beats can be missed (a slow store, a busy loop) before its runs
# count as abandoned and another orchestrator may recover them.
LEASE_TIME = 15.0
HEARTBEAT_INTERVAL = LEASE_TIME / 3

Clock = Callable[[], float]


class UnknownRunError(MiraError, LookupError):
    """Raised when a store is asked to change a run it does not hold."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"no run with workflow_id {safe_repr(workflow_id)} is stored; check the id "
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
            f"the stored run {safe_repr(workflow_id)} is damaged: its {field!r} cannot be "
            "read back; start the workflow again as a new run"
        )


class ResumeConflictError(MiraError, RuntimeError):
    """Raised when a run is resumed while it is still going: started or resumed elsewhere."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"run {safe_repr(workflow_id)} is still going (started or being resumed by another "
            "caller); wait for it to finish, then resume again if it did not complete"
        )


class LeaseLostError(MiraError, RuntimeError):
    """Raised when a run's write is refused because its writer no longer holds its lease.

    Its owner stopped beating for longer than the lease (a stall, a lost connection)
    and another orchestrator took the run, or the run has ended; the write does not
    count, and the writer must stop the run: the new owner's records stand.
    """

    def __init__(self, workflow_id: str, owner: str) -> None:
        self.workflow_id = workflow_id
        self.owner = owner
        super().__init__(
            f"run {workflow_id!r} is no longer held by this orchestrator (owner {owner[:40]!r}):"
            " its lease lapsed and another orchestrator took it, or it has ended; nothing was"
            " written, and the run was stopped here"
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
        owner: The orchestrator holding its lease, or None when nobody does.
        lease_expires_at: When the owner's lease lapses unless it beats again, on the
            store's clock (None without an owner).
        cancel_requested: Whether someone asked, through the store, to cancel it.
        started_at: When its latest start or claim began, on the store's clock: its
            deadline is ``started_at + timeout`` (None for a run stored before this
            was kept).
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
    owner: str | None = None
    lease_expires_at: float | None = None
    cancel_requested: bool = False
    started_at: float | None = None

    def time_left(self, now: float) -> float:
        """Seconds left of its timeout at ``now`` (the store's clock), at most its timeout.

        Negative once its deadline has passed; the whole timeout when its start is not
        known.
        """
        if self.started_at is None:
            return self.timeout
        return self.timeout - max(0.0, now - self.started_at)

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
    - :meth:`claim` and :meth:`claim_expired` are atomic across every process that
      shares the store.
    - Leases: a live run is held by one owner (an orchestrator). An owner's leases hold
      until ``lease_time`` seconds after its latest :meth:`heartbeat`, judged by the
      store's clock (the database server's, for a server); one heartbeat renews all of
      them, however many runs it holds. A run whose owner's lease has lapsed is
      abandoned: :meth:`claim` and :meth:`claim_expired` may take it.

    Usage::

        await store.heartbeat(owner)  # before its first run, then every HEARTBEAT_INTERVAL
        await store.create_run(run_id, "project_initialization", data, 30.0, owner=owner)
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
        self,
        workflow_id: str,
        workflow_type: str,
        data: Any,
        timeout: float,
        *,
        owner: str | None = None,
        lease_time: float = LEASE_TIME,
    ) -> None:
        """Store a new run with status 'running', before its first step starts.

        With ``owner``, the run is leased to it from the start: the same transaction
        beats for the owner (as :meth:`heartbeat` does) with ``lease_time``.

        Raises:
            ValueError: a run with this id is already stored, or ``data`` holds a
                value JSON cannot (NaN, infinity, a circular reference).
            TypeError: ``data`` holds a value of a type JSON cannot.
        """
        ...

    async def record_step(
        self, workflow_id: str, record: StepRecord, *, owner: str | None = None
    ) -> None:
        """Append a step record; it is durable when this returns.

        A step counts as completed only once its record has been written here. With
        ``owner`` the write is fenced: it lands only while ``owner`` holds the run.

        Raises:
            UnknownRunError: no such run.
            LeaseLostError: ``owner`` no longer holds the run (nothing is written).
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
        owner: str | None = None,
    ) -> None:
        """Append ``records``, set the outcome and store the response, in one transaction.

        The run's lease (and any cancel request) ends with it. At a timeout, ``records``
        are the steps the deadline cut short and ``response`` carries the partial
        progress; either all of it is stored or none of it. With ``owner`` the write is
        fenced, as in :meth:`record_step`.

        Raises:
            UnknownRunError: no such run.
            LeaseLostError: ``owner`` no longer holds the run (nothing is written).
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

    async def claim(
        self, workflow_id: str, owner: str, *, timeout: float, lease_time: float = LEASE_TIME
    ) -> bool:
        """Take a run's lease for a resume by ``owner`` under a new timeout, atomically.

        On success the run's status goes back to 'running', ``resumes`` grows by one,
        ``timeout`` becomes the new one (counted from now: ``started_at``) and ``owner``
        holds its lease: the same
        transaction beats for it with ``lease_time``, and it must go on beating. The
        owner that holds a run may claim it again.

        Returns:
            False when another owner's lease on the run is live, or when it has already
            succeeded (load it to tell which); True when ``owner`` now holds it.

        Raises:
            UnknownRunError: no such run.
        """
        ...

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up ``owner``'s lease on a run; nothing happens when it holds none."""
        ...

    async def heartbeat(self, owner: str, *, lease_time: float = LEASE_TIME) -> frozenset[str]:
        """Renew every lease ``owner`` holds until ``lease_time`` from now, in one write.

        The first heartbeat makes ``owner`` known to the store; an owner that never
        beat holds no live lease.

        Returns:
            The ids of the owner's runs that someone asked to cancel.
        """
        ...

    async def claim_expired(self, owner: str, *, limit: int = 100) -> list[str]:
        """Take the leases of up to ``limit`` abandoned runs for ``owner``, atomically.

        Abandoned: status 'running' and no live lease (its owner stopped beating, or it
        has no owner). Each run is taken by one claimer only; the new owner then resumes
        it (:meth:`claim` by the holder succeeds). Oldest runs come first.

        Returns:
            The ids of the runs taken.
        """
        ...

    async def request_cancel(self, workflow_id: str) -> bool:
        """Ask the run's owner to cancel it; it sees the request at its next heartbeat.

        Returns:
            True when the run is running and now marked; False when it has finished.

        Raises:
            UnknownRunError: no such run.
        """
        ...

    async def now(self) -> float:
        """Return the store's clock: what lease expiry is judged by."""
        ...

    async def aclose(self) -> None:
        """Close the store; later calls raise RuntimeError. Closing twice is allowed."""
        ...


def check_outcome(outcome: str) -> None:
    """Raise ValueError unless ``outcome`` is one a run can finish with."""
    if outcome not in OUTCOMES:
        allowed = ", ".join(repr(str(o)) for o in OUTCOMES)
        msg = f"outcome must be one of {allowed}, got {outcome!r}"
        raise ValueError(msg)


def check_lease_time(lease_time: float) -> float:
    """Return ``lease_time`` as a float, or raise ValueError unless it is positive and finite."""
    if isinstance(lease_time, bool) or not isinstance(lease_time, int | float):
        msg = f"lease_time must be a number of seconds, got {type(lease_time).__name__}"
        raise TypeError(msg)
    if not 0 < lease_time < math.inf:
        msg = f"lease_time must be positive and finite, got {lease_time!r}"
        raise ValueError(msg)
    return float(lease_time)


def check_limit(limit: int) -> int:
    """Return ``limit``, or raise unless it is an int >= 1."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        msg = f"limit must be an int >= 1, got {limit!r}"
        raise ValueError(msg)
    return limit
