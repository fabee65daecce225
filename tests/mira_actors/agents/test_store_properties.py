"""Property tests: a stored run damaged in any column resumes, or fails as documented."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisors import DamagedRunError, ResumeConflictError, SqliteStore, UnknownRunError
from tests.mira_actors.agents.orchestrators import SlowRiskAgent, make
from tests.strategies import json_like

VALID = {"type": "workflow", "data": {"workflow_type": "project_initialization", "data": {}}}
# What resume() documents that it raises, for a run it cannot continue.
DOCUMENTED = (UnknownRunError, DamagedRunError, ResumeConflictError, ValueError)


def json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return "{"


# What a disk error, a hand edit or another program could leave in a column.
stored_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.binary(max_size=30),
    json_like.map(json_text),
    st.sampled_from(["running", "success", "timeout", "error", "cancelled", ""]),
    st.integers(min_value=1, max_value=100_000).map(lambda depth: "[" * depth + "]" * depth),
)


def damage(path: Path, table: str, column_index: int, value: Any, row: int) -> bool:
    """Set one column of one row; False when SQLite refuses the value (a NOT NULL)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        columns = [c[1] for c in connection.execute(f"PRAGMA table_info({table})")]
        column = columns[column_index % len(columns)]
        rowids = [r[0] for r in connection.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
        try:
            connection.execute(
                f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                (value, rowids[row % len(rowids)]),
            )
        except sqlite3.IntegrityError:
            return False
    return True


@settings(max_examples=30)
@given(
    table=st.sampled_from(["runs", "steps"]),
    column_index=st.integers(min_value=0, max_value=30),
    row=st.integers(min_value=0, max_value=5),
    value=stored_values,
)
def test_a_damaged_row_resumes_or_fails_as_documented(
    table: str, column_index: int, row: int, value: Any
) -> None:
    """Resume gives a dict response or a documented error; the store still takes new runs."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.db"

        async def main() -> None:
            store = SqliteStore(path, threaded=False)
            try:
                orchestrator = make(SlowRiskAgent(5), store=store)
                first = await orchestrator.process_async(VALID, timeout=1)
                assert first["status"] == "timeout"
                if not damage(path, table, column_index, value, row):
                    return
                assert isinstance(await store.list_runs(), list)
                with trio.fail_after(3600):  # virtual: a hang fails
                    try:
                        response = await orchestrator.resume(first["workflow_id"], timeout=10)
                    except DOCUMENTED:
                        pass
                    else:
                        assert isinstance(response, dict)
                    again = await orchestrator.process_async(VALID, timeout=10)
                assert "status" not in again, again
            finally:
                await store.aclose()

        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
