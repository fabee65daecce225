"""A run's writes to its store: each step, each retried attempt, the outcome; all fenced.

Every write is fenced by the run's owner: once another orchestrator holds the run's
lease, the write is refused (LeaseLostError), kept in ``lease_lost`` for the run to
stop on, so the new owner's records stand. No write may push the caller's answer past its deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any

import attrs
import trio

from ._ledger import ErrorType, Status, StepRecord
from ._report import RunReport
from .stores._memory_store import MemoryStore
from .stores._protocol import LeaseLostError, LedgerStore, StoreUnavailableError

logger = logging.getLogger("supervisors.workflow")

# How long a run its caller cancelled may take to store that it was cancelled: a store
# that needs longer (it is locked) finishes the commit in the background.
CANCELLED_COMMIT_GRACE = 0.05


class RunWrites:
    """What one run writes to its store, and what a write that fails means for the run.

    Args:
        store: Where the run is kept.
        workflow_id: The run's id.
        owner: The lease holder the writes are fenced by (None: not fenced).

    Attributes:
        lease_lost: Why a write was refused because another owner holds the run, once
            one was. The run reads it after each write (no callback to the run: that
            would be a reference cycle, and every finished run would wait for the
            cyclic garbage collector to free its results).
    """

    def __init__(
        self,
        store: LedgerStore,
        workflow_id: str,
        *,
        owner: str | None,
    ) -> None:
        self._store = store
        # A MemoryStore never waits, and encodes what it is given before it returns.
        self._in_memory = isinstance(store, MemoryStore)
        self._workflow_id = workflow_id
        self._owner = owner
        self.lease_lost: LeaseLostError | None = None

    def _lost(self, exc: LeaseLostError) -> None:
        if self.lease_lost is None:
            self.lease_lost = exc

    async def step(self, record: StepRecord) -> tuple[StepRecord, bool]:
        """Commit a finished step; return the record as written, and whether it waits.

        A step counts as completed only once committed. A result the store cannot keep
        (not JSON) fails the step instead; a store that cannot commit in time fails it
        too, and the record waits to go with the outcome's commit (True).
        """
        try:  # the store's own call, not _write's: a frame less on every step
            await self._store.record_step(self._workflow_id, record, owner=self._owner)
        except LeaseLostError as exc:
            # Not committed: another owner's records stand. The run stops at once.
            self._lost(exc)
            return _failed(record, str(exc), ErrorType.LEASE_LOST), False
        except StoreUnavailableError as exc:
            error = f"its record could not be committed in time: {exc}"
            return _failed(record, error, ErrorType.STORE_UNAVAILABLE), True
        except (TypeError, ValueError) as exc:
            failed = _failed(
                record, f"its result cannot be stored: {exc}", ErrorType.UNSTORABLE_RESULT
            )
            try:
                await self._write(failed)
            except LeaseLostError as lost:
                self._lost(lost)
            return failed, False
        return record, False

    async def attempt(self, record: StepRecord) -> None:
        """Keep a failed attempt that will be retried (in the store, not the ledger).

        Best effort: a store that cannot take it in time costs only the exactness of
        the idempotency key after a crash, never the run's deadline.
        """
        try:
            await self._write(record)
        except StoreUnavailableError:
            pass
        except LeaseLostError as exc:
            self._lost(exc)

    async def outcome(
        self, report: RunReport, cut: Sequence[StepRecord], deadline: float
    ) -> RunReport:
        """Commit how the run ended, with the steps ``cut`` short, by ``deadline``.

        The store gets its small floor past the deadline at most. One that cannot
        commit in time makes the report an 'error' that says so (error_type
        'store_unavailable'); the store retries the commit on its own.
        """
        response = report.response()
        try:
            if self._in_memory:
                # No scope: at a deadline burst, one whose deadline has passed would cost
                # each run a cancellation. The store has encoded the response and let it
                # go, so the caller gets it rather than another one built the same way.
                await self._finish(report, cut, response)
                report.hand_back(response)
            else:
                with trio.CancelScope(deadline=deadline):  # bounds the store's waits
                    await self._finish(report, cut, response)
        except LeaseLostError as exc:
            self._lost(exc)
        except StoreUnavailableError as exc:
            error = (
                f"the run ended ({report.outcome}) but could not be committed in time: {exc}; "
                "the store keeps trying, and until it lands the run can be resumed"
            )
            return attrs.evolve(
                report, outcome=Status.ERROR, error=error, error_type=ErrorType.STORE_UNAVAILABLE
            )
        return report

    async def cancelled(self, report: RunReport, cut: Sequence[StepRecord]) -> None:
        """Store a run its caller cancelled, shielded but bounded.

        The caller is waiting to unwind, so the store gets no more than
        :data:`CANCELLED_COMMIT_GRACE`; one that cannot make it keeps trying in the
        background, and until then the run stays 'running' (resumable as well).
        """
        with trio.move_on_after(CANCELLED_COMMIT_GRACE, shield=True):
            try:
                await self._finish(report, cut, report.response())
            except StoreUnavailableError:
                pass  # the store retries it; the caller's cancellation goes on
            except Exception as exc:  # nothing may take the place of the caller's cancellation
                logger.warning(
                    "a cancelled run could not be stored as cancelled: %s",
                    type(exc).__name__,
                    extra={"workflow_id": self._workflow_id, "error_type": type(exc).__name__},
                )

    async def _write(self, record: StepRecord) -> None:
        await self._store.record_step(self._workflow_id, record, owner=self._owner)

    def _finish(
        self, report: RunReport, cut: Sequence[StepRecord], response: dict[str, Any]
    ) -> Awaitable[None]:
        # Not a coroutine itself: the store's call, a frame less.
        return self._store.finish_run(
            self._workflow_id,
            outcome=report.outcome,
            response=response,
            records=cut,
            owner=self._owner,
        )


def _failed(record: StepRecord, error: str, error_type: ErrorType) -> StepRecord:
    return attrs.evolve(
        record, status=Status.ERROR, result=None, error=error, error_type=error_type
    )
