"""The MIRA agents as actors, the built-in workflows, and the OrchestratorAgent facade."""

from .base_agent import BaseAgent as BaseAgent
from .orchestrator_agent import OrchestratorAgent as OrchestratorAgent
from .project_plan_agent import ProjectPlanAgent as ProjectPlanAgent
from .risk_assessment_agent import RiskAssessmentAgent as RiskAssessmentAgent
from .status_reporter_agent import StatusReporterAgent as StatusReporterAgent
from .workflows import BUILTIN_WORKFLOWS as BUILTIN_WORKFLOWS
from .workflows import MESSAGE_ROUTES as MESSAGE_ROUTES
from .workflows import PROJECT_INITIALIZATION as PROJECT_INITIALIZATION

__all__ = [
    "BUILTIN_WORKFLOWS",
    "MESSAGE_ROUTES",
    "PROJECT_INITIALIZATION",
    "BaseAgent",
    "OrchestratorAgent",
    "ProjectPlanAgent",
    "RiskAssessmentAgent",
    "StatusReporterAgent",
]
