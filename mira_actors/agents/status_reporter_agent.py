"""StatusReporterAgent: weekly status reports on a plan, and their schedule."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from mira_actors import check_deadline

from ._validation import require_dict, require_list, require_str
from .base_agent import BaseAgent

WEEKDAYS: Mapping[str, int] = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
DEFAULT_WEEKDAY = WEEKDAYS["friday"]

MAX_LISTED_ACCOMPLISHMENTS = 3
MAX_NEW_TASKS_PER_WEEK = 5
MILESTONE_LOOKAHEAD_WEEKS = 2


def utc_today() -> datetime.date:
    """Return today's date in UTC."""
    return datetime.datetime.now(datetime.UTC).date()


class StatusReporterAgent(BaseAgent):
    """Report on a plan's progress, and schedule recurring reports.

    Args:
        today: Returns the date that ``schedule_report`` counts from; tests pass a
            fixed one.

    Usage::

        agent = StatusReporterAgent(today=lambda: datetime.date(2024, 5, 15))
        response = agent.respond({"type": "schedule_report", "data": {}})
        response["data"]["next_run"]  # '2024-05-17': the Friday after that Wednesday
    """

    agent_id = "status_reporter_agent"
    handlers = {"generate_report": "generate_report", "schedule_report": "schedule_report"}

    def __init__(self, *, today: Callable[[], datetime.date] = utc_today) -> None:
        super().__init__()
        self._today = today

    def generate_report(self, data: object) -> dict[str, Any]:
        """Summarise a plan's tasks, milestones and risks for one week.

        Args:
            data: A plan plus ``risks`` and ``week_number`` (default 1); every key is
                optional. Tasks, milestones and risks are lists of dicts.

        Returns:
            ``{project_name, report_date, week_number, summary, accomplishments,
            upcoming_milestones, risks_and_blockers, next_week_plan, generated_by}``.

        Raises:
            TypeError: When ``data`` or one of its fields has the wrong type.
            ValueError: When ``week_number`` is negative.
        """
        data = require_dict(data, "generate_report data")
        project_name = require_str(data.get("name", "Unknown Project"), "generate_report name")
        tasks = require_list(data.get("tasks", []), "generate_report tasks")
        milestones = require_list(data.get("milestones", []), "generate_report milestones")
        risks = require_list(data.get("risks", []), "generate_report risks")
        week_number = data.get("week_number", 1)
        if isinstance(week_number, bool) or not isinstance(week_number, int):
            msg = f"generate_report week_number must be an int, got {type(week_number).__name__}"
            raise TypeError(msg)
        if week_number < 0:
            msg = f"generate_report week_number must be non-negative, got {week_number}"
            raise ValueError(msg)

        completed = in_progress = not_started = 0
        completed_names: list[Any] = []
        for index, task in enumerate(tasks):
            check_deadline()
            if not isinstance(task, dict):
                msg = f"generate_report tasks[{index}] must be a dict, got {type(task).__name__}"
                raise TypeError(msg)
            # A task with any other status (or none) counts only towards the total.
            status = task.get("status")
            if status == "completed":
                completed += 1
                if completed <= MAX_LISTED_ACCOMPLISHMENTS:
                    completed_names.append(task.get("name", "Unknown"))
            elif status == "in_progress":
                in_progress += 1
            elif status == "not_started":
                not_started += 1
        total = len(tasks)

        last_week = week_number + MILESTONE_LOOKAHEAD_WEEKS
        upcoming_milestones: list[dict[str, Any]] = []
        for index, milestone in enumerate(milestones):
            check_deadline()
            if not isinstance(milestone, dict):
                msg = (
                    f"generate_report milestones[{index}] must be a dict, "
                    f"got {type(milestone).__name__}"
                )
                raise TypeError(msg)
            # A milestone without a week is never upcoming.
            week = milestone.get("week")
            if week is None:
                continue
            if isinstance(week, bool) or not isinstance(week, int | float):
                msg = (
                    f"generate_report milestones[{index}] week must be a number, "
                    f"got {type(week).__name__}"
                )
                raise TypeError(msg)
            if week_number <= week <= last_week:
                upcoming_milestones.append({"name": milestone.get("name"), "week": week})

        risks_and_blockers: list[dict[str, Any]] = []
        for index, risk in enumerate(risks):
            check_deadline()
            if not isinstance(risk, dict):
                msg = f"generate_report risks[{index}] must be a dict, got {type(risk).__name__}"
                raise TypeError(msg)
            if risk.get("severity") == "high":
                risks_and_blockers.append(
                    {
                        "id": risk.get("id"),
                        "description": risk.get("description"),
                        "severity": "high",
                    }
                )

        next_week_plan = [f"Continue work on {in_progress} in-progress tasks"]
        if not_started:
            next_week_plan.append(f"Start {min(not_started, MAX_NEW_TASKS_PER_WEEK)} new tasks")

        return {
            "project_name": project_name,
            "report_date": datetime.datetime.now(datetime.UTC).isoformat(),
            "week_number": week_number,
            "summary": {
                "total_tasks": total,
                "completed_tasks": completed,
                "in_progress_tasks": in_progress,
                "not_started_tasks": not_started,
                "completion_percentage": round(100 * completed / total, 2) if total else 0.0,
            },
            "accomplishments": [f"Completed {completed} tasks this week", *completed_names],
            "upcoming_milestones": upcoming_milestones,
            "risks_and_blockers": risks_and_blockers,
            "next_week_plan": next_week_plan,
            "generated_by": self.agent_id,
        }

    def schedule_report(self, data: object) -> dict[str, Any]:
        """Schedule a recurring report and compute its next run.

        Args:
            data: ``{frequency='weekly', recipients=[], day_of_week='Friday'}``. The day
                is matched ignoring case and surrounding spaces; an unknown day means
                Friday.

        Returns:
            ``{frequency, recipients, day_of_week, next_run, created_by}``, where
            ``next_run`` is the ISO date of the first such weekday after today: a week
            ahead when today is that weekday.

        Raises:
            TypeError: When ``data`` or one of its fields has the wrong type.
        """
        data = require_dict(data, "schedule_report data")
        frequency = require_str(data.get("frequency", "weekly"), "schedule_report frequency")
        recipients = require_list(data.get("recipients", []), "schedule_report recipients")
        for index, recipient in enumerate(recipients):
            check_deadline()
            if not isinstance(recipient, str):
                msg = (
                    f"schedule_report recipients[{index}] must be a str, "
                    f"got {type(recipient).__name__}"
                )
                raise TypeError(msg)
        day_of_week = require_str(data.get("day_of_week", "Friday"), "schedule_report day_of_week")

        weekday = WEEKDAYS.get(day_of_week.strip().lower(), DEFAULT_WEEKDAY)
        today = self._today()
        # 1 to 7 days ahead: today itself is never the next run.
        days_ahead = (weekday - today.weekday() - 1) % 7 + 1
        return {
            "frequency": frequency,
            # A copy, so the schedule does not change when the caller's list does.
            "recipients": list(recipients),
            "day_of_week": day_of_week,
            "next_run": (today + datetime.timedelta(days=days_ahead)).isoformat(),
            "created_by": self.agent_id,
        }
