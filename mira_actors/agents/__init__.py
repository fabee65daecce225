"""The MIRA agents as actors, the built-in workflows, and the OrchestratorAgent facade."""

from ._backend import BACKEND_NAMES as BACKEND_NAMES
from ._backend import Backend as Backend
from ._backend import resolve_backend as resolve_backend
from ._local_backends import InlineBackend as InlineBackend
from ._local_backends import ThreadBackend as ThreadBackend
from ._local_backends import ThreadStatistics as ThreadStatistics
from ._process_backend import ProcessBackend as ProcessBackend
from ._progress import ProgressDisplay as ProgressDisplay
from ._ray_backend import RayBackend as RayBackend
from ._ray_backend import RayStep as RayStep
from ._ray_backend import init_ray as init_ray
from ._step import StepContext as StepContext
from .base_agent import BaseAgent as BaseAgent
from .orchestrator_agent import OrchestratorAgent as OrchestratorAgent
from .project_plan_agent import ProjectPlanAgent as ProjectPlanAgent
from .risk_assessment_agent import RiskAssessmentAgent as RiskAssessmentAgent
from .status_reporter_agent import StatusReporterAgent as StatusReporterAgent
from .workflows import BUILTIN_WORKFLOWS as BUILTIN_WORKFLOWS
from .workflows import MESSAGE_ROUTES as MESSAGE_ROUTES
from .workflows import PROJECT_INITIALIZATION as PROJECT_INITIALIZATION

__all__ = [
    "BACKEND_NAMES",
    "BUILTIN_WORKFLOWS",
    "MESSAGE_ROUTES",
    "PROJECT_INITIALIZATION",
    "Backend",
    "BaseAgent",
    "InlineBackend",
    "OrchestratorAgent",
    "ProcessBackend",
    "ProgressDisplay",
    "ProjectPlanAgent",
    "RayBackend",
    "RayStep",
    "RiskAssessmentAgent",
    "StatusReporterAgent",
    "StepContext",
    "ThreadBackend",
    "ThreadStatistics",
    "init_ray",
    "resolve_backend",
]
