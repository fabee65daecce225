"""RiskAssessmentAgent: finds risks in a project plan by keyword and task density."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from mira_actors import check_deadline

from ._validation import require_dict, require_list, require_str, require_weeks
from .base_agent import BaseAgent


@attrs.frozen(kw_only=True)
class RiskPattern:
    """A kind of project risk, signalled by any of its keywords in a description."""

    category: str
    pattern: str
    keywords: tuple[str, ...]  # lower-case, matched as substrings
    severity: str
    mitigation: str


RISK_PATTERNS: tuple[RiskPattern, ...] = (
    RiskPattern(
        category="schedule",
        pattern="tight_deadline",
        keywords=("urgent", "asap", "short timeline"),
        severity="high",
        mitigation="Add buffer time, reduce scope, or increase resources",
    ),
    RiskPattern(
        category="technical",
        pattern="new_technology",
        keywords=("new", "unfamiliar", "learning"),
        severity="medium",
        mitigation="Allocate time for training and proof-of-concept",
    ),
    RiskPattern(
        category="resource",
        pattern="limited_resources",
        keywords=("limited", "insufficient", "lack of"),
        severity="high",
        mitigation="Secure additional resources or adjust project scope",
    ),
    RiskPattern(
        category="dependency",
        pattern="external_dependency",
        keywords=("depends on", "waiting for", "third party"),
        severity="medium",
        mitigation="Establish clear SLAs and backup plans",
    ),
)

SEVERITY_POINTS: Mapping[str, int] = {"low": 1, "medium": 2, "high": 3}

MAX_TASKS_PER_WEEK = 5


class RiskAssessmentAgent(BaseAgent):
    """Assess a plan's risks from its description and task density, and update risks.

    Usage::

        agent = RiskAssessmentAgent()
        response = agent.respond(
            {"type": "assess_risks", "data": {"name": "Apollo", "description": "Urgent"}}
        )
        response["data"]["risk_score"]  # 100.0: one high-severity risk
    """

    agent_id = "risk_assessment_agent"
    handlers = {"assess_risks": "assess_risks", "update_risk": "update_risk"}

    def assess_risks(self, data: object) -> dict[str, Any]:
        """Identify the risks in a plan and score them.

        Args:
            data: A plan: ``{name, description, tasks, duration_weeks}``; every key is
                optional, and a missing ``duration_weeks`` skips the task-density check.

        Returns:
            ``{project_name, risk_score, total_risks, risks, assessed_by}``.

        Raises:
            TypeError: When ``data`` or one of its fields has the wrong type.
            ValueError: When ``duration_weeks`` is negative or not finite.
        """
        data = require_dict(data, "assess_risks data")
        project_name = require_str(data.get("name", "Unknown Project"), "assess_risks name")
        description = require_str(data.get("description", ""), "assess_risks description").lower()
        tasks = require_list(data.get("tasks", []), "assess_risks tasks")
        duration_weeks = require_weeks(data.get("duration_weeks", 0), "assess_risks duration_weeks")

        risks: list[dict[str, Any]] = []
        points = 0
        for risk_pattern in RISK_PATTERNS:
            check_deadline()  # a long description is searched once per pattern
            for keyword in risk_pattern.keywords:
                if keyword in description:
                    risks.append(
                        {
                            "id": f"R{len(risks) + 1}",
                            "category": risk_pattern.category,
                            "pattern": risk_pattern.pattern,
                            "severity": risk_pattern.severity,
                            "description": f"Potential {risk_pattern.category} risk detected",
                            "mitigation": risk_pattern.mitigation,
                            "status": "identified",
                        }
                    )
                    points += SEVERITY_POINTS[risk_pattern.severity]
                    break  # one risk per pattern, however many keywords match

        if tasks and duration_weeks > 0:
            tasks_per_week = len(tasks) / duration_weeks
            if tasks_per_week > MAX_TASKS_PER_WEEK:
                risks.append(
                    {
                        "id": f"R{len(risks) + 1}",
                        "category": "schedule",
                        "pattern": "high_task_density",
                        "severity": "high",
                        "description": f"High task density: {tasks_per_week:.1f} tasks per week",
                        "mitigation": "Consider extending timeline or adding resources",
                        "status": "identified",
                    }
                )
                points += SEVERITY_POINTS["high"]

        # The score is the share of the worst case: every risk found being high.
        risk_score = round(100 * points / (3 * len(risks)), 2) if risks else 0.0
        return {
            "project_name": project_name,
            "risk_score": risk_score,
            "total_risks": len(risks),
            "risks": risks,
            "assessed_by": self.agent_id,
        }

    def update_risk(self, data: object) -> dict[str, Any]:
        """Return ``data['risk']`` with ``data['updates']`` merged in, as a new dict.

        The merge is shallow, like :meth:`dict.update`. Neither input is modified.

        Args:
            data: ``{risk, updates}``; each defaults to an empty dict.

        Returns:
            The merged risk.

        Raises:
            TypeError: When ``data``, the risk or the updates is not a dict.
        """
        data = require_dict(data, "update_risk data")
        risk = require_dict(data.get("risk", {}), "update_risk risk")
        updates = require_dict(data.get("updates", {}), "update_risk updates")
        return {**risk, **updates}
