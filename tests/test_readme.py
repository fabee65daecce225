"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every python block of the README runs, in order, in one namespace."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    message = namespace["message"]
    trio.run(namespace["many"], [message] * 3)
    projects = [{"name": f"P{i}", "goals": ["a"]} for i in range(3)]
    trio.run(namespace["produce"], namespace["orchestrator"], projects)
    out = capsys.readouterr().out
    assert "generate_report success" in out
    assert "3\n" in out  # the counter's total
    assert sorted(line for line in out.splitlines() if line.endswith(" success"))[:3] == [
        "0 success",
        "1 success",
        "2 success",
    ]
    trio.run(namespace["greetings"])
    assert "bo hello Bo" in capsys.readouterr().out
    careful = trio.run(namespace["careful_run"])
    assert "status" not in careful
    assert sorted(s["step"] for s in careful["steps"]) == ["plan", "risks", "schedule"]
    watched = trio.run(namespace["watch"], message)
    assert "status" not in watched
    shown = capsys.readouterr().err
    assert "project_initialization finished: success" in shown

    monkeypatch.chdir(tmp_path)  # the example writes runs.db where it runs
    durable = trio.run(namespace["durable"], message)
    assert [s["attempts"] for s in durable["steps"]] == [1, 1, 1]
    assert "status" not in durable
    estimate = namespace["EstimateAgent"]().respond({"type": "estimate", "data": {"tasks": [1, 2]}})
    assert estimate["data"] == {"hours": 16}


def test_readme_shared_store_example_runs_on_postgres(postgres_url: str) -> None:
    """The README's shared-store example runs a workflow through a PostgreSQL URL."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    response = trio.run(namespace["shared"], postgres_url, namespace["message"])
    assert "status" not in response
    assert [s["step"] for s in response["steps"]] == [
        "generate_plan",
        "assess_risks",
        "generate_report",
    ]
