"""The benchmark suite's code paths, at tiny sizes: structure only, never timings."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest

from bench import Metric, RunResult, Sizes, Target, run
from bench import __main__ as bench_main
from bench._case_leases import leases_case, postgres_missing
from bench._case_soak import soak_case
from bench._case_store import store_case
from bench._harness import lateness_summary, run_interleaved
from bench._results import percentile
from bench._runner import ALL_CASES
from bench._scale_worker import main as scale_worker_main
from bench._workload import Execution, StepLog


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """Run every case once at tiny sizes into a temporary folder."""
    out = tmp_path_factory.mktemp("bench")
    return run(Sizes.tiny(), out=out, mode="test", progress=lambda line: None)


def test_every_case_reports(tiny_run: RunResult) -> None:
    """A full run yields one result per case, each with metrics, and ratios where compared."""
    assert [case.number for case in tiny_run.cases] == list(ALL_CASES)
    for case in tiny_run.cases:
        assert case.metrics
        # Cases 5 and 10 count work and lateness against bounds, with no peer to compare.
        assert case.number in (5, 10, 11) or case.ratios, f"case {case.number} has no ratio"


def test_every_ratio_is_positive_and_finite(tiny_run: RunResult) -> None:
    """Every ratio sample is a positive finite number."""
    ratios = [m for case in tiny_run.cases for m in case.ratios]
    assert len(ratios) >= 15
    for metric in ratios:
        for value in metric.samples:
            assert math.isfinite(value), metric.key
            assert value > 0, metric.key


def test_json_has_the_documented_shape(tiny_run: RunResult) -> None:
    """latest.json holds sizes, machine, targets and each case's metrics with summaries."""
    data = json.loads(tiny_run.json_path.read_text(encoding="utf-8"))
    assert tiny_run.json_path.name == "latest.json"
    assert data["schema"] == 1
    assert data["sizes"]["repeats"] == 1
    assert data["machine"]["versions"]["trio"]
    assert [case["number"] for case in data["cases"]] == list(ALL_CASES)
    keys = {m["key"] for case in data["cases"] for m in case["metrics"]}
    for key in (
        "tell.ratio.raw",
        "tell.ratio.pykka",
        "ask.ratio.raw",
        "ask.ratio.pykka",
        "workflow.ratio.threadpool",
        "workflow.ratio.direct",
        "workflow.ratio.floor_raw_actors",
        "lateness.one.target",
        "lateness.burst.ratio.raw",
        "work_after.burst.ours",
        "work_after.burst.threadpool",
        "new_request.ours",
        "scale.ratio.memory",
        "blocking.work_after.thread",
        "blocking.work_after.process",
        "store.commit.ratio.p50",
        "store.workflow.ratio",
    ):
        assert key in keys
    for case in data["cases"]:
        for metric in case["metrics"]:
            assert metric["min"] <= metric["median"] <= metric["max"]
            assert len(metric["samples"]) == 1
    assert {t["key"] for t in data["targets"]} >= {"tell.ratio.raw", "scale.ratio.memory"}
    assert all(isinstance(t["met"], bool) for t in data["targets"])


def test_markdown_lists_targets_ratios_and_cases(tiny_run: RunResult) -> None:
    """latest.md has the targets table, the ratios table, the chart and a section per case."""
    text = tiny_run.markdown_path.read_text(encoding="utf-8")
    assert "## Targets" in text
    assert "## All ratios" in text
    assert "![ratios, ours / reference](ratios.png)" in text
    for number in ALL_CASES:
        assert f"## Case {number}:" in text
    ratio_rows = [line for line in text.splitlines() if line.startswith("| ") and "x |" in line]
    assert ratio_rows


def test_chart_is_a_png(tiny_run: RunResult) -> None:
    """The chart is written as a PNG file."""
    assert tiny_run.chart_path.name == "ratios.png"
    assert tiny_run.chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_runs_the_chosen_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench --quick --cases 1,2 --out DIR` runs those cases and prints the table."""
    monkeypatch.setattr(bench_main.Sizes, "quick", classmethod(lambda cls: Sizes.tiny()))
    assert bench_main.main(["--quick", "--cases", "1,2", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert [case["number"] for case in data["cases"]] == [1, 2]
    assert data["mode"] == "python -m bench --quick --cases 1,2"
    assert "## Case 2:" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["", "0", "9", "1,x"])
def test_bad_case_lists_are_refused(text: str) -> None:
    """--cases refuses numbers outside 1-8 and text that is not numbers."""
    with pytest.raises(SystemExit):
        bench_main.main(["--cases", text])


def test_store_case_reports_commits_and_workflows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 8 reports positive, finite per-commit times, rates and ratios; leaves no files."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    case = store_case(Sizes.tiny())
    assert case.number == 8
    by_key = {m.key: m for m in case.metrics}
    assert set(by_key) == {
        "store.commit.sqlite.p50",
        "store.commit.sqlite.p99",
        "store.commit.memory.p50",
        "store.commit.memory.p99",
        "store.commit.ratio.p50",
        "store.commit.ratio.p99",
        "store.workflow.sqlite",
        "store.workflow.memory",
        "store.workflow.ratio",
    }
    assert {m.key for m in case.ratios} == {
        "store.commit.ratio.p50",
        "store.commit.ratio.p99",
        "store.workflow.ratio",
    }
    assert by_key["store.commit.sqlite.p50"].unit == "µs"
    assert by_key["store.workflow.memory"].unit == "runs/s"
    for metric in case.metrics:
        assert metric.target is None, metric.key
        assert len(metric.samples) == Sizes.tiny().repeats, metric.key
        for value in metric.samples:
            assert math.isfinite(value), metric.key
            assert value > 0, metric.key
    assert list(tmp_path.iterdir()) == []  # every temporary folder was removed


def test_leases_case_reports_each_store_and_the_recovery() -> None:
    """Case 12 reports runs/s per store with ratios to memory, and recovery times (or why not)."""
    case = leases_case(Sizes.tiny())
    assert case.number == 12
    kinds = ["memory", "sqlite"] if postgres_missing() else ["memory", "sqlite", "postgres"]
    by_key = {m.key: m for m in case.metrics}
    assert set(by_key) == {
        *(f"leases.workflow.{kind}" for kind in kinds),
        *(f"leases.workflow.ratio.{kind}" for kind in kinds[1:]),
        "leases.recovery.first",
        "leases.recovery.all",
    }
    assert {m.key for m in case.ratios} == {f"leases.workflow.ratio.{k}" for k in kinds[1:]}
    assert by_key["leases.recovery.all"].unit == "s"
    for metric in case.metrics:
        assert len(metric.samples) == Sizes.tiny().repeats, metric.key
        assert all(math.isfinite(v) and v > 0 for v in metric.samples), metric.key
    first, last = by_key["leases.recovery.first"].samples, by_key["leases.recovery.all"].samples
    assert all(a <= b for a, b in zip(first, last, strict=True))
    if postgres_missing():
        assert any(note.startswith("No PostgreSQL rows:") for note in case.notes)


def test_scale_worker_prints_one_json_sample(capsys: pytest.CaptureFixture[str]) -> None:
    """The scale worker's command line measures in-process and prints a JSON sample."""
    scale_worker_main(["--kind", "mailbox", "--n", "20"])
    sample = json.loads(capsys.readouterr().out)
    assert set(sample) == {
        "spawn_seconds",
        "spawn_rate",
        "rss_bytes",
        "bytes_per_task",
        "shutdown_seconds",
    }


def test_interleaving_rotates_the_order() -> None:
    """Repetitions run every variant once, rotating who goes first; warm-ups are dropped."""
    calls: list[str] = []

    def variant(name: str) -> dict[str, float]:
        calls.append(name)
        return {"value": float(len(calls))}

    samples = run_interleaved(
        {"a": lambda: variant("a"), "b": lambda: variant("b")}, repeats=2, warmup=1
    )
    assert calls == ["a", "b", "a", "b", "b", "a"]
    assert samples == {"a": {"value": [3.0, 6.0]}, "b": {"value": [4.0, 5.0]}}


def test_percentiles_and_lateness_summary() -> None:
    """percentile interpolates; lateness is reported in ms with a 1 us floor."""
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    summary = lateness_summary([0.0, 0.002])
    assert summary["max_ms"] == 2.0
    assert summary["p50_ms"] == pytest.approx(1.0005)


def test_targets_judge_medians_or_the_worst_sample() -> None:
    """A median target ignores one outlier; a worst-sample target does not."""
    median = Metric(
        key="k",
        label="l",
        unit="x",
        samples=(2.5, 0.5, 3.0),
        target=Target(bound=2, better="higher"),
    )
    worst = Metric(
        key="w",
        label="l",
        unit="count",
        samples=(0, 0, 1),
        target=Target(bound=0, better="lower", judged_on="worst"),
    )
    assert median.met is True
    assert worst.met is False


def test_step_log_counts_work_after_the_response() -> None:
    """Executions that start after, or are still running at, their caller's response count."""
    log = StepLog()
    log.executions = [
        Execution(key="done-before", started=1.0, ended=2.0),
        Execution(key="ends-after", started=1.0, ended=5.0),
        Execution(key="never-ends", started=1.0),
        Execution(key="starts-after", started=4.0, ended=6.0),
        Execution(key="no-caller", started=9.0),
    ]
    responded = dict.fromkeys(("done-before", "ends-after", "never-ends", "starts-after"), 3.0)
    assert log.work_after(responded) == (1, 2)


def test_soak_case_samples_resources_and_counts_outcomes() -> None:
    """Case 11 samples the process every soak_every runs and sees each kind of outcome."""
    case = soak_case(Sizes.tiny())
    assert case.number == 11
    by_key = {m.key: m for m in case.metrics}
    assert set(by_key) == {
        "soak.rss_growth",
        "soak.rss_peak_over_warm",
        "soak.tasks_growth",
        "soak.fds_growth",
        "soak.threads_growth",
        "soak.unexpected_outcomes",
    }
    assert by_key["soak.unexpected_outcomes"].samples == (0.0,)
    assert by_key["soak.tasks_growth"].samples == (0.0,)
    assert case.notes[0].count(" tasks") == Sizes.tiny().soak_runs // Sizes.tiny().soak_every
    assert "error/error 4" in case.notes[1]
    assert "success/success 28" in case.notes[1]
    assert "timeout/timeout 4" in case.notes[1]
