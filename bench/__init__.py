"""The mira-actors benchmark suite: ``python -m bench`` (see bench/README.md)."""

from ._results import CaseResult as CaseResult
from ._results import Metric as Metric
from ._results import Target as Target
from ._runner import RunResult as RunResult
from ._runner import run as run
from ._sizes import Sizes as Sizes

__all__ = ["CaseResult", "Metric", "RunResult", "Sizes", "Target", "run"]
