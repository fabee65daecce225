"""The web view's page bench, at a tiny size: structure only, never timings."""

from __future__ import annotations

import pytest

from bench._web_page import PATHS, main


def test_the_page_bench_times_each_page(capsys: pytest.CaptureFixture[str]) -> None:
    """It fills a store, serves each page, and prints one row per page."""
    assert main(["--runs", "30", "--repetitions", "2"]) == 0
    out = capsys.readouterr().out
    assert "with 30 stored runs" in out
    for page in PATHS:
        assert f"| `GET {page}` |" in out
