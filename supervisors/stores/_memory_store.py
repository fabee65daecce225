"""The in-memory ledger store: runs kept in this process, as JSON text, lost when it ends."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio

from .._ledger import Status, StepRecord
from ._json_pieces import looks_small
from ._json_values import encode_result
from ._off_loop import Encoders
from ._protocol import (
    LEASE_TIME,
    RUNNING,
    Clock,
    LeaseLostError,
    StoredRun,
    UnknownRunError,
    check_lease_time,
    check_limit,
    check_outcome,
)
from ._response_text import RecordedResults, response_text
from ._run_pages import RunCursor, RunPage, RunSummary, check_page, make_page

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
    owner: str | None = None
    started_at: float | None = None
    # This run's results as recorded, while it runs: its response reuses their text.
    recorded: RecordedResults | None = None

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

    def stored(
        self, workflow_id: str, lease_expires_at: float | None, cancel_requested: bool
    ) -> StoredRun:
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
            owner=self.owner,
            lease_expires_at=lease_expires_at,
            cancel_requested=cancel_requested,
            started_at=self.started_at,
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
    """A :class:`~supervisors.LedgerStore` in this process's memory, lost at its end.

    It keeps values as JSON text, as a durable store does, so it accepts and gives
    back exactly what one would, and nothing a caller holds can change what it keeps.
    A big input or step result (more than 1,000 items one level down, and 20,000 in
    all) is encoded in a worker thread of its own, a piece at a time, within the
    write's time (at least 25 ms), or the write raises StoreUnavailableError.

    Args:
        clock: The wall clock for ``created_at``, ``updated_at`` and leases.
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
        # Each owner's lease: when it lapses, on this store's clock.
        self._leases: dict[str, float] = {}
        # The runs someone asked to cancel, while they run: no scan at a heartbeat.
        self._cancel_requested: set[str] = set()
        self._closed = False
        self._encoders = Encoders("MemoryStore")  # big values: off the trio thread

    def _lease_of(self, run: _MemoryRun) -> float | None:
        return None if run.owner is None else self._leases.get(run.owner, -math.inf)

    def _abandoned(self, run: _MemoryRun, now: float) -> bool:
        """Whether nobody holds a live lease on ``run``."""
        lease = self._lease_of(run)
        return lease is None or lease < now

    def _stored(self, workflow_id: str, run: _MemoryRun) -> StoredRun:
        cancel = workflow_id in self._cancel_requested
        return run.stored(workflow_id, self._lease_of(run), cancel)

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

    def _held(self, workflow_id: str, owner: str | None) -> _MemoryRun:
        """The run, for a write by ``owner``: raise LeaseLostError unless it holds it."""
        run = self._run(workflow_id)
        if owner is not None and run.owner != owner:
            raise LeaseLostError(workflow_id, owner)
        return run

    def _check_open(self) -> None:
        if self._closed:
            msg = "the ledger store is closed"
            raise RuntimeError(msg)

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
        """Store a new run; see :meth:`~supervisors.LedgerStore.create_run`."""
        self._check_open()
        if workflow_id in self._runs:
            msg = f"a run with workflow_id {workflow_id!r} is already stored"
            raise ValueError(msg)
        encoded = await self._encoders.encode(data, "workflow data", budget=timeout)
        if workflow_id in self._runs:  # created while this one was being encoded
            msg = f"a run with workflow_id {workflow_id!r} is already stored"
            raise ValueError(msg)
        lease_time = check_lease_time(lease_time)
        self._forget_oldest_finished()
        now = self._clock()
        if owner is not None:
            self._leases[owner] = now + lease_time
        self._runs[workflow_id] = _MemoryRun(
            seq=next(self._created),
            workflow_type=workflow_type,
            data=encoded,
            timeout=timeout,
            created_at=now,
            updated_at=now,
            owner=owner,
            started_at=now,
        )
        # No yield, as in record_step: the run's first ask yields soon after, and a yield
        # here would cost each run a scheduling round of its own. At a burst of runs that
        # round ends every start at once, bunching their deadlines together.

    async def record_step(
        self, workflow_id: str, record: StepRecord, *, owner: str | None = None
    ) -> None:
        """Append a step record; see :meth:`~supervisors.LedgerStore.record_step`."""
        run = self._held(workflow_id, owner)
        if looks_small(record.result):
            result = encode_result(record)
        else:  # encoded off the trio thread, within the time left; the run may change
            what = f"the result of step {record.step!r}"
            result = await self._encoders.encode(record.result, what)
            run = self._held(workflow_id, owner)
        run.append(record, result)
        if run.recorded is None:
            run.recorded = RecordedResults()
        run.recorded.add(record.result, result)
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
        owner: str | None = None,
    ) -> None:
        """Store how the run ended; see :meth:`~supervisors.LedgerStore.finish_run`."""
        run = self._held(workflow_id, owner)
        check_outcome(outcome)
        # Everything is encoded before anything changes: all of it is stored, or none.
        encoded = [(record, encode_result(record)) for record in records]
        text = response_text(response, run.recorded or RecordedResults())
        for record, result in encoded:
            run.append(record, result)
        if run.status == RUNNING:
            heapq.heappush(self._finished, (run.seq, workflow_id))
        run.status, run.response, run.updated_at = outcome, text, self._clock()
        run.owner = None  # the lease ends with the run
        run.recorded = None
        self._cancel_requested.discard(workflow_id)
        # No yield, as in record_step: at a deadline burst, each run's last write would
        # otherwise put its answer behind another round of every other run.

    async def load_run(self, workflow_id: str) -> StoredRun | None:
        """Return the run, or None; see :meth:`~supervisors.LedgerStore.load_run`."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        if (run := self._runs.get(workflow_id)) is None:
            return None
        return self._stored(workflow_id, run)

    async def list_runs(self) -> list[StoredRun]:
        """Return every run, newest first; see :meth:`~supervisors.LedgerStore.list_runs`."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        # Reversed insertion order breaks ties between runs created at the same time.
        newest = reversed(list(self._runs.items()))
        runs = sorted(newest, key=lambda item: item[1].created_at, reverse=True)
        return [self._stored(workflow_id, run) for workflow_id, run in runs]

    async def page_runs(
        self, *, status: str | None = None, limit: int = 50, before: RunCursor | None = None
    ) -> RunPage:
        """Return a page of runs, newest first; see the ``LedgerStore`` protocol.

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

    async def claim(
        self, workflow_id: str, owner: str, *, timeout: float, lease_time: float = LEASE_TIME
    ) -> bool:
        """Take a run's lease for a resume; see :meth:`~supervisors.LedgerStore.claim`."""
        run = self._run(workflow_id)
        lease_time = check_lease_time(lease_time)
        now = self._clock()
        free = run.owner == owner or self._abandoned(run, now)
        taken = free and run.status != Status.SUCCESS
        if taken:
            run.owner = owner
            self._cancel_requested.discard(workflow_id)
            run.status, run.timeout, run.updated_at = RUNNING, timeout, now
            run.started_at = now
            run.response = None  # running again: the old outcome no longer stands
            run.recorded = None
            run.resumes += 1
            self._leases[owner] = now + lease_time
        await trio.lowlevel.cancel_shielded_checkpoint()
        return taken

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up a lease; see :meth:`~supervisors.LedgerStore.release`."""
        self._check_open()
        if (run := self._runs.get(workflow_id)) is not None and run.owner == owner:
            run.owner = None
            run.recorded = None
            self._cancel_requested.discard(workflow_id)
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def heartbeat(self, owner: str, *, lease_time: float = LEASE_TIME) -> frozenset[str]:
        """Renew the owner's leases; see :meth:`~supervisors.LedgerStore.heartbeat`."""
        self._check_open()
        lease_time = check_lease_time(lease_time)
        self._leases[owner] = self._clock() + lease_time
        await trio.lowlevel.cancel_shielded_checkpoint()
        runs = self._runs
        return frozenset(
            workflow_id
            for workflow_id in self._cancel_requested
            if (run := runs.get(workflow_id)) is not None and run.owner == owner
        )

    async def claim_expired(self, owner: str, *, limit: int = 100) -> list[str]:
        """Take abandoned runs; see :meth:`~supervisors.LedgerStore.claim_expired`.

        A pass over the runs held (at most ``max_runs``): recovery is rare, and a store
        in memory is seen by this process only.
        """
        self._check_open()
        limit = check_limit(limit)
        now = self._clock()
        abandoned = (
            (run.created_at, run.seq, workflow_id)
            for workflow_id, run in self._runs.items()
            if run.status == RUNNING and self._abandoned(run, now)
        )
        taken = [workflow_id for _, _, workflow_id in heapq.nsmallest(limit, abandoned)]
        for workflow_id in taken:
            run = self._runs[workflow_id]
            run.owner, run.updated_at = owner, now
            self._cancel_requested.discard(workflow_id)
        await trio.lowlevel.cancel_shielded_checkpoint()
        return taken

    async def request_cancel(self, workflow_id: str) -> bool:
        """Mark a run for cancelling; see the ``LedgerStore`` protocol."""
        run = self._run(workflow_id)
        marked = run.status == RUNNING
        if marked:
            self._cancel_requested.add(workflow_id)
        await trio.lowlevel.cancel_shielded_checkpoint()
        return marked

    async def now(self) -> float:
        """Return the store's clock; see :meth:`~supervisors.LedgerStore.now`."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        return self._clock()

    async def aclose(self) -> None:
        """Close the store; see :meth:`~supervisors.LedgerStore.aclose`."""
        self._closed = True
        await trio.lowlevel.cancel_shielded_checkpoint()
