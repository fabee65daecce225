"""Supervisor nurseries, restart strategies, workflow runs and their ledger."""

from ._exceptions import RestartIntensityError as RestartIntensityError
from ._policy import Restart as Restart
from ._policy import Strategy as Strategy
from ._supervisor import ChildStatus as ChildStatus
from ._supervisor import Supervisor as Supervisor
from ._supervisor import open_supervisor as open_supervisor

__all__ = [
    "ChildStatus",
    "Restart",
    "RestartIntensityError",
    "Strategy",
    "Supervisor",
    "open_supervisor",
]
