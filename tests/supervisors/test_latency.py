"""LatencyHistory and AdaptiveTimeouts: medians, percentiles, saving, and adapted timeouts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from supervisors import AdaptiveTimeouts, LatencyHistory

KEY = LatencyHistory.key("flow", "step")


def history_of(*seconds: float, samples: int = 200) -> LatencyHistory:
    history = LatencyHistory(samples=samples)
    for value in seconds:
        history.observe(KEY, value)
    return history


def test_key_names_the_workflow_and_the_step() -> None:
    """A step's key is '<workflow>/<step>'."""
    assert KEY == "flow/step"


def test_an_unseen_step_has_no_expectation() -> None:
    """Before any observation there is no count, median or percentile."""
    history = LatencyHistory()
    assert history.count(KEY) == 0
    assert history.expected(KEY) is None
    assert history.percentile(KEY, 0.5) is None


def test_expected_is_the_median() -> None:
    """expected() is the median: the middle value, or the mean of the middle two."""
    assert history_of(3, 1, 2).expected(KEY) == 2
    assert history_of(4, 1, 3, 2).expected(KEY) == 2.5
    assert history_of(0.5).expected(KEY) == 0.5


def test_steps_are_kept_apart() -> None:
    """Each key has its own observations."""
    history = history_of(1, 1)
    history.observe("flow/other", 9)
    assert (history.count(KEY), history.expected(KEY)) == (2, 1)
    assert (history.count("flow/other"), history.expected("flow/other")) == (1, 9)


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.01, 1), (0.1, 1), (0.11, 2), (0.5, 5), (0.9, 9), (1.0, 10)]
)
def test_percentile_is_the_nearest_rank(fraction: float, expected: float) -> None:
    """percentile(p) is the smallest value with at least p of the observations at or below it."""
    assert history_of(*range(10, 0, -1)).percentile(KEY, fraction) == expected


@pytest.mark.parametrize(("fraction", "expected"), [(0.07, 7), (0.14, 14), (0.57, 57)])
def test_percentile_is_not_pushed_up_a_rank_by_rounding(fraction: float, expected: float) -> None:
    """Where fraction * count is a whole number in decimal, float rounding does not skip it.

    0.07 * 100 is 7.000000000000001 in binary floating point: the rank is still 7.
    """
    assert history_of(*range(1, 101)).percentile(KEY, fraction) == expected


def test_only_the_latest_samples_are_kept() -> None:
    """Beyond ``samples`` observations the oldest are forgotten."""
    history = history_of(100, 100, 1, 2, 3, samples=3)
    assert (history.count(KEY), history.expected(KEY), history.percentile(KEY, 1)) == (3, 2, 3)


@pytest.mark.parametrize("samples", [0, -1, 1.5, True, "200"])
def test_samples_must_be_a_positive_int(samples: Any) -> None:
    """The window size is an int of at least 1."""
    with pytest.raises(ValueError, match=r"^samples must be an int >= 1, got "):
        LatencyHistory(samples=samples)


@pytest.mark.parametrize("seconds", [-1, math.nan, True, "1"])
def test_observations_must_be_durations(seconds: Any) -> None:
    """Only numbers of seconds >= 0 are observed, so every history saved loads again."""
    history = LatencyHistory()
    with pytest.raises(ValueError, match=r"^a duration must be a number of seconds >= 0, got "):
        history.observe(KEY, seconds)
    assert history.count(KEY) == 0


def test_json_round_trip_keeps_every_step_and_the_window() -> None:
    """from_json(to_json()) gives back the observations, in order, and the window size."""
    history = history_of(0.25, 4, 1.5, samples=3)
    history.observe("flow/other", 2)
    text = history.to_json()
    assert json.loads(text) == {"samples": 3, "steps": {KEY: [0.25, 4, 1.5], "flow/other": [2]}}
    loaded = LatencyHistory.from_json(text)
    assert json.loads(loaded.to_json()) == json.loads(text)
    loaded.observe(KEY, 10)  # the window still holds three
    assert (loaded.count(KEY), loaded.expected(KEY)) == (3, 4)


def test_save_and_load(tmp_path: Path) -> None:
    """save() writes a file that load() reads back as the same history."""
    history = history_of(1, 2, 3, 5)
    path = tmp_path / "latency.json"
    history.save(path)
    loaded = LatencyHistory.load(str(path))
    assert json.loads(loaded.to_json()) == json.loads(history.to_json())
    assert (loaded.expected(KEY), loaded.percentile(KEY, 0.75)) == (2.5, 3)


def test_loading_keeps_only_the_latest_samples() -> None:
    """A saved history longer than its window keeps its latest observations."""
    loaded = LatencyHistory.from_json('{"samples": 2, "steps": {"flow/step": [9, 1, 2]}}')
    assert (loaded.count(KEY), loaded.expected(KEY)) == (2, 1.5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        "null",
        '"history"',
        '{"steps": {}}',
        '{"samples": 3}',
        '{"samples": 0, "steps": {}}',
        '{"samples": "3", "steps": {}}',
        '{"samples": 3, "steps": 5}',
        '{"samples": 3, "steps": {"flow/step": 1.5}}',
        '{"samples": 3, "steps": {"flow/step": ["1.5"]}}',
        '{"samples": 3, "steps": {"flow/step": [true]}}',
        '{"samples": 3, "steps": {"flow/step": [-1]}}',
        '{"samples": 3, "steps": {"flow/step": [NaN]}}',
    ],
)
def test_malformed_json_is_a_value_error(text: str) -> None:
    """Text that is not a saved history is a ValueError, whatever is wrong with it."""
    with pytest.raises(ValueError, match=r"samples must be|not a saved latency history"):
        LatencyHistory.from_json(text)


def test_loading_a_malformed_file_is_a_value_error(tmp_path: Path) -> None:
    """load() of a file that holds something else is a ValueError."""
    path = tmp_path / "latency.json"
    path.write_text('{"samples": 3, "steps": {"flow/step": {"a": 1}}}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"^not a saved latency history: step 'flow/step'"):
        LatencyHistory.load(path)


# AdaptiveTimeouts


def test_default_until_min_samples() -> None:
    """Until a step has min_samples observations its timeout is the default."""
    adaptive = AdaptiveTimeouts(percentile=0.5, factor=3, default=7, min_samples=4)
    history = LatencyHistory()
    timeouts = []
    for seconds in (1, 1, 2, 2, 2):
        timeouts.append(adaptive.timeout_for(history, KEY))
        history.observe(KEY, seconds)
    timeouts.append(adaptive.timeout_for(history, KEY))
    assert timeouts == [7, 7, 7, 7, 3, 6]


def test_timeout_is_the_percentile_times_the_factor() -> None:
    """With enough samples the timeout is percentile(p) * factor."""
    adaptive = AdaptiveTimeouts(percentile=0.9, factor=1.5, min_samples=10)
    assert adaptive.timeout_for(history_of(*range(1, 11)), KEY) == 13.5


def test_timeout_is_clamped_between_floor_and_ceiling() -> None:
    """A timeout below the floor is raised to it; one above the ceiling is lowered to it."""
    adaptive = AdaptiveTimeouts(percentile=1, factor=2, floor=0.5, ceiling=8, min_samples=1)
    assert adaptive.timeout_for(history_of(0.1), KEY) == 0.5
    assert adaptive.timeout_for(history_of(0.25), KEY) == 0.5
    assert adaptive.timeout_for(history_of(3), KEY) == 6
    assert adaptive.timeout_for(history_of(4), KEY) == 8
    assert adaptive.timeout_for(history_of(60), KEY) == 8


def test_timeouts_converge_on_a_shifting_distribution() -> None:
    """Fed a synthetic distribution, the timeout settles on its p95 * factor, and follows a shift.

    The step takes 0.1 s, 0.2 s ... 2.0 s in turn (p95 1.9 s); later it becomes four times
    slower (p95 7.6 s). Once the 200-sample window holds only the new durations, the
    timeout is that distribution's p95 times the factor.
    """
    adaptive = AdaptiveTimeouts(percentile=0.95, factor=2, ceiling=60, default=10, min_samples=20)
    history = LatencyHistory(samples=200)
    cycle = [k / 10 for k in range(1, 21)]
    seen: list[float] = []
    for seconds in cycle * 10:
        seen.append(adaptive.timeout_for(history, KEY))
        history.observe(KEY, seconds)
    assert seen[:20] == [10] * 20
    assert set(seen[20:]) == {3.8}  # every full cycle has the same p95; partial ones too
    assert adaptive.timeout_for(history, KEY) == 3.8
    for seconds in [4 * s for s in cycle] * 10:
        history.observe(KEY, seconds)
    assert adaptive.timeout_for(history, KEY) == 15.2
    assert history.expected(KEY) == 4.2


@pytest.mark.parametrize(
    "fields",
    [
        {"percentile": 0},
        {"percentile": 1.5},
        {"percentile": math.nan},
        {"floor": 0},
        {"floor": 5, "ceiling": 4},
        {"ceiling": math.nan},
        {"factor": 0},
        {"factor": math.nan},
        {"min_samples": 0},
        {"default": -1},
        {"default": math.nan},
    ],
)
def test_bad_settings_are_refused(fields: dict[str, Any]) -> None:
    """Settings that could not give a sensible timeout are a ValueError when made."""
    with pytest.raises(ValueError, match=r"must be|need "):
        AdaptiveTimeouts(**fields)


def test_median_and_percentile_follow_the_window() -> None:
    """Once the window is full, the oldest sample leaves the median and the percentiles."""
    history = LatencyHistory(samples=3)
    for seconds in (9, 1, 2):
        history.observe("w/a", seconds)
    assert (history.expected("w/a"), history.percentile("w/a", 1.0)) == (2, 9)
    history.observe("w/a", 3)  # 9 leaves
    assert (history.expected("w/a"), history.percentile("w/a", 1.0)) == (2, 3)
    history.observe("w/a", 3)  # 1 leaves: 2, 3, 3
    assert (history.expected("w/a"), history.percentile("w/a", 0.01)) == (3, 2)
