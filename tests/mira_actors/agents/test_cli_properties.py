"""Property tests of the command line: any arguments and input file, a documented exit."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mira_actors.agents._cli import main
from tests.strategies import json_like

# Exit codes: success, error, bad input, timeout.
DOCUMENTED = {0, 1, 2, 3}


def write_store(kind: str, path: Path) -> None:
    """Leave at ``path`` a store file of the given kind (or nothing, for 'none')."""
    if kind == "foreign":
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("CREATE TABLE runs (id INTEGER)")
            connection.commit()
    elif kind == "random":
        path.write_bytes(os.urandom(2048))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()


def json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return "{"


input_files = st.one_of(
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
    json_like.map(json_text),
    st.integers(min_value=10, max_value=100_000).map(lambda depth: "[" * depth + "]" * depth),
    st.just('{"type": "workflow", "data": NaN}'),
    st.just(
        '{"type": "workflow", "data": {"workflow_type": "project_initialization",'
        ' "data": {"name": "P", "goals": ["a"]}}}'
    ),
    st.just('{"type": "generate_plan", "data": {"name": "P"}}'),
)

option_values = st.one_of(
    st.sampled_from(["0", "1", "-1", "nan", "inf", "1e400", "x", "", "a=1", "generate_plan=2"]),
    st.text(max_size=6),
)
options = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["--timeout", "--step-timeout", "--retries"]), option_values),
        st.tuples(st.just("--backend"), st.sampled_from(["inline", "thread", "gpu"])),
        st.tuples(st.just("--log-format"), st.sampled_from(["text", "json", "xml"])),
        st.tuples(st.just("--progress")),
    ),
    max_size=4,
)


@settings(max_examples=40)
@given(
    command=st.sampled_from(["run", "resume", "runs"]),
    content=input_files,
    chosen=options,
    store_kind=st.sampled_from([None, "new", "foreign", "random", "empty"]),
)
def test_any_arguments_and_input_end_in_a_documented_exit(
    command: str, content: str, chosen: list[tuple[str, ...]], store_kind: str | None
) -> None:
    """Every run of the CLI returns a documented code; exit 2 says why in one line."""
    with tempfile.TemporaryDirectory() as folder:
        message = Path(folder) / "message.json"
        message.write_text(content, encoding="utf-8", errors="surrogateescape")
        store = Path(folder) / "store.db"
        argv = [command, str(message)] if command == "run" else [command]
        if command == "resume":
            argv.append("some-id")
        for option in chosen:
            argv += list(option)
        if store_kind is not None:
            write_store(store_kind, store)
        if store_kind is not None or command != "run":
            argv += ["--store", str(store)]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse: usage and one error line
                code = exit_.code
                assert code == 2
                assert "error:" in stderr.getvalue()
        assert code in DOCUMENTED
        assert "Traceback" not in stderr.getvalue()
        if code == 2 and not stdout.getvalue():
            assert stderr.getvalue().count("\n") == 1 or "usage:" in stderr.getvalue()
