"""The ledger: step records in the MIRA step shape, and the completed steps read from them."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from supervisors import Ledger, StepRecord


def record(step: str, status: str, result: Any = None, **fields: Any) -> StepRecord:
    """A record of ``step`` that ran from t=1 to t=2 on actor 'agent'."""
    return StepRecord(
        step=step,
        agent="agent",
        status=status,
        started_at=1.0,
        ended_at=2.0,
        result=result,
        **fields,
    )


def test_step_record_defaults() -> None:
    """A record made with only the required fields was sent once and carries no result."""
    made = StepRecord(step="s", agent="a", status="success", started_at=0.0, ended_at=0.5)
    assert (made.attempts, made.result, made.error, made.error_type) == (1, None, None, None)


def test_step_record_is_frozen_and_keyword_only() -> None:
    """A record cannot be changed once written, nor built from positional arguments."""
    made = record("s", "success")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.status = "error"  # type: ignore[misc]
    with pytest.raises(TypeError):
        StepRecord("s", "a", "success", 0.0, 1.0)  # type: ignore[misc]


def test_as_step_is_the_mira_step_shape() -> None:
    """as_step() gives exactly {step, status, result, attempts}: no agent, times or error."""
    failed = record("plan", "error", result={"partial": 1}, error="bad", error_type="agent_error")
    assert failed.as_step() == {
        "step": "plan",
        "status": "error",
        "result": {"partial": 1},
        "attempts": 1,
    }


@pytest.mark.parametrize(
    ("status", "completed"),
    [("success", True), ("error", False), ("timeout", False), ("cancelled", False)],
)
def test_only_success_counts_as_completed(status: str, completed: bool) -> None:
    """A step is completed when its status is 'success', and for no other status."""
    assert record("s", status).completed is completed


def test_ledger_keeps_records_in_the_order_they_were_written() -> None:
    """Records are kept in the order the steps finished, whatever their names."""
    ledger = Ledger(workflow_id="id-1", workflow_type="wf")
    written = [record("c", "success"), record("a", "error"), record("b", "success")]
    for one in written:
        ledger.record(one)
    assert ledger.records == written


def test_completed_views_agree() -> None:
    """completed(), completed_steps() and results() list the same succeeded steps in order."""
    ledger = Ledger(workflow_id="id-1", workflow_type="wf")
    for one in [
        record("a", "success", result=1),
        record("b", "error", result=2),
        record("c", "success", result=None),
        record("d", "timeout"),
        record("e", "cancelled"),
    ]:
        ledger.record(one)
    assert [r.step for r in ledger.completed()] == ["a", "c"]
    assert ledger.completed_steps() == ["a", "c"]
    assert ledger.results() == {"a": 1, "c": None}


def test_empty_ledger_has_no_completed_steps() -> None:
    """A new ledger has no records, and its completed steps are an empty list."""
    ledger = Ledger(workflow_id="id-1", workflow_type="wf")
    assert ledger.records == []
    assert ledger.completed_steps() == []
    assert ledger.results() == {}


def test_ledgers_do_not_share_records() -> None:
    """Each ledger has its own list of records."""
    first = Ledger(workflow_id="1", workflow_type="wf")
    second = Ledger(workflow_id="2", workflow_type="wf")
    first.record(record("a", "success"))
    assert second.records == []
