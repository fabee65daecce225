"""Supervisor nurseries, restart strategies, workflow runs and their ledger."""

from ._child import ChildStatus as ChildStatus
from ._events import EventSink as EventSink
from ._events import RunEvent as RunEvent
from ._events import RunFinished as RunFinished
from ._events import RunStarted as RunStarted
from ._events import StepCompleted as StepCompleted
from ._events import StepFailed as StepFailed
from ._events import StepRetried as StepRetried
from ._events import StepStarted as StepStarted
from ._exceptions import RestartIntensityError as RestartIntensityError
from ._latency import AdaptiveTimeouts as AdaptiveTimeouts
from ._latency import LatencyHistory as LatencyHistory
from ._leases import LeaseKeeper as LeaseKeeper
from ._leases import new_owner_id as new_owner_id
from ._ledger import ErrorType as ErrorType
from ._ledger import Ledger as Ledger
from ._ledger import Status as Status
from ._ledger import StepRecord as StepRecord
from ._options import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._options import RunOptions as RunOptions
from ._policy import Restart as Restart
from ._policy import Strategy as Strategy
from ._recovery import Recovery as Recovery
from ._recovery import serve_recovery as serve_recovery
from ._report import RunReport as RunReport
from ._report import check_timeout as check_timeout
from ._retry import RetryPolicy as RetryPolicy
from ._retry import StepFailedError as StepFailedError
from ._retry import StepTimeoutError as StepTimeoutError
from ._run import run_workflow as run_workflow
from ._supervisor import Supervisor as Supervisor
from ._supervisor import open_supervisor as open_supervisor
from ._workflow import Parallel as Parallel
from ._workflow import Step as Step
from ._workflow import Workflow as Workflow
from ._workflow import read_agent_reply as read_agent_reply
from ._workflow_channel import WorkflowReply as WorkflowReply
from ._workflow_channel import WorkflowRequest as WorkflowRequest
from ._workflow_supervisor import WorkflowSupervisor as WorkflowSupervisor
from ._workflow_supervisor import open_workflow_supervisor as open_workflow_supervisor
from .stores import HEARTBEAT_INTERVAL as HEARTBEAT_INTERVAL
from .stores import LEASE_TIME as LEASE_TIME
from .stores import DamagedRunError as DamagedRunError
from .stores import ForeignDatabaseError as ForeignDatabaseError
from .stores import LeaseLostError as LeaseLostError
from .stores import LedgerStore as LedgerStore
from .stores import MemoryStore as MemoryStore
from .stores import PostgresStore as PostgresStore
from .stores import ResumeConflictError as ResumeConflictError
from .stores import RunCursor as RunCursor
from .stores import RunPage as RunPage
from .stores import RunSummary as RunSummary
from .stores import SqliteStore as SqliteStore
from .stores import StoredRun as StoredRun
from .stores import StoreFileError as StoreFileError
from .stores import StoreUnavailableError as StoreUnavailableError
from .stores import UnknownRunError as UnknownRunError
from .stores import is_postgres_url as is_postgres_url
from .stores import open_postgres_store as open_postgres_store
from .stores import open_sqlite_store as open_sqlite_store
from .stores import open_store as open_store

__all__ = [
    "DEFAULT_TIMEOUT",
    "HEARTBEAT_INTERVAL",
    "LEASE_TIME",
    "AdaptiveTimeouts",
    "ChildStatus",
    "DamagedRunError",
    "ErrorType",
    "EventSink",
    "ForeignDatabaseError",
    "LatencyHistory",
    "LeaseKeeper",
    "LeaseLostError",
    "Ledger",
    "LedgerStore",
    "MemoryStore",
    "Parallel",
    "PostgresStore",
    "Recovery",
    "Restart",
    "RestartIntensityError",
    "ResumeConflictError",
    "RetryPolicy",
    "RunCursor",
    "RunEvent",
    "RunFinished",
    "RunOptions",
    "RunPage",
    "RunReport",
    "RunStarted",
    "RunSummary",
    "SqliteStore",
    "Status",
    "Step",
    "StepCompleted",
    "StepFailed",
    "StepFailedError",
    "StepRecord",
    "StepRetried",
    "StepStarted",
    "StepTimeoutError",
    "StoreFileError",
    "StoreUnavailableError",
    "StoredRun",
    "Strategy",
    "Supervisor",
    "UnknownRunError",
    "Workflow",
    "WorkflowReply",
    "WorkflowRequest",
    "WorkflowSupervisor",
    "check_timeout",
    "is_postgres_url",
    "new_owner_id",
    "open_postgres_store",
    "open_sqlite_store",
    "open_store",
    "open_supervisor",
    "open_workflow_supervisor",
    "read_agent_reply",
    "run_workflow",
    "serve_recovery",
]
