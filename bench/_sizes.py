"""How big each case runs: the full sizes the issue names, a quick mode, and tiny test sizes."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Sizes:
    """The sizes and repetitions of every case.

    Attributes:
        repeats: Measured repetitions per case (the median and min-max come from these).
        warmup: Unmeasured repetitions before them.
        tells: Case 1: messages told to one actor.
        asks: Case 2: sequential ask round trips.
        workflows: Case 3: concurrent ``project_initialization`` runs.
        deadline_runs: Case 4a: sequential runs of the workflow that times out.
        concurrent_timeouts: Case 4b/5: concurrent runs of it.
        timeout: Cases 4, 5, 7: the workflow deadline, seconds.
        block_seconds: Cases 5, 7: how long the blocking step blocks.
        blocking_runs: Case 7: sequential runs with the blocking step.
        idle_actors: Case 6: idle actors (and raw tasks) per process.
        scale_warmup: Case 6: start one small process per kind first, to warm the
            file cache (the test sizes skip it).
        store_commits: Case 8: ``record_step`` calls per store and repetition.
        store_workflows: Case 8: sequential workflows per store and repetition.
        adversity_runs: Case 10: durable runs per scenario and repetition.
        adversity_goals: Case 10: goals in the big input.
        adversity_timeout: Case 10: the runs' deadline, seconds.
        soak_runs: Case 11: mixed runs in one ``running()`` block.
        soak_every: Case 11: runs between two samples of the process's resources.
    """

    repeats: int = 3
    warmup: int = 1
    tells: int = 200_000
    asks: int = 50_000
    workflows: int = 1_000
    deadline_runs: int = 200
    concurrent_timeouts: int = 1_000
    timeout: float = 0.05
    block_seconds: float = 0.2
    blocking_runs: int = 50
    idle_actors: int = 100_000
    scale_warmup: bool = True
    store_commits: int = 2_000
    store_workflows: int = 200
    adversity_runs: int = 30
    adversity_goals: int = 200_000
    adversity_timeout: float = 0.2
    soak_runs: int = 20_000
    soak_every: int = 2_000

    @classmethod
    def full(cls) -> Sizes:
        """Return the sizes the issue asks for."""
        return cls()

    @classmethod
    def quick(cls) -> Sizes:
        """Return sizes that run every case, and every ratio, in well under a minute."""
        return cls(
            tells=20_000,
            asks=5_000,
            workflows=200,
            deadline_runs=16,
            concurrent_timeouts=200,
            blocking_runs=5,
            idle_actors=5_000,
            store_commits=300,
            store_workflows=50,
            adversity_runs=8,
            soak_runs=4_000,
            soak_every=400,
        )

    @classmethod
    def tiny(cls) -> Sizes:
        """Return sizes that only exercise the code paths (for the test suite)."""
        return cls(
            repeats=1,
            warmup=1,
            tells=200,
            asks=50,
            workflows=5,
            deadline_runs=2,
            concurrent_timeouts=5,
            timeout=0.005,
            block_seconds=0.02,
            blocking_runs=2,
            idle_actors=100,
            scale_warmup=False,
            store_commits=20,
            store_workflows=3,
            adversity_runs=2,
            adversity_goals=20_000,
            adversity_timeout=0.05,
            soak_runs=40,
            soak_every=10,
        )
