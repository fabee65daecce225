"""Supervisor nurseries, restart strategies, workflow runs and their ledger."""

from ._exceptions import RestartIntensityError as RestartIntensityError
from ._ledger import Ledger as Ledger
from ._ledger import StepRecord as StepRecord
from ._policy import Restart as Restart
from ._policy import Strategy as Strategy
from ._run import RunReport as RunReport
from ._run import check_timeout as check_timeout
from ._run import run_workflow as run_workflow
from ._supervisor import ChildStatus as ChildStatus
from ._supervisor import Supervisor as Supervisor
from ._supervisor import open_supervisor as open_supervisor
from ._workflow import Step as Step
from ._workflow import Workflow as Workflow
from ._workflow import read_agent_reply as read_agent_reply
from ._workflow_supervisor import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._workflow_supervisor import WorkflowReply as WorkflowReply
from ._workflow_supervisor import WorkflowRequest as WorkflowRequest
from ._workflow_supervisor import WorkflowSupervisor as WorkflowSupervisor
from ._workflow_supervisor import open_workflow_supervisor as open_workflow_supervisor

__all__ = [
    "DEFAULT_TIMEOUT",
    "ChildStatus",
    "Ledger",
    "Restart",
    "RestartIntensityError",
    "RunReport",
    "Step",
    "StepRecord",
    "Strategy",
    "Supervisor",
    "Workflow",
    "WorkflowReply",
    "WorkflowRequest",
    "WorkflowSupervisor",
    "check_timeout",
    "open_supervisor",
    "open_workflow_supervisor",
    "read_agent_reply",
    "run_workflow",
]
