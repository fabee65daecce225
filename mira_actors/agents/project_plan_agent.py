"""ProjectPlanAgent: turns project requirements into milestones and tasks."""

from __future__ import annotations

import time
from typing import Any

from mira_actors import DeadlineExceededError, check_deadline, time_left

from ._collector import free_in_slices
from ._validation import require_dict, require_list, require_str, require_weeks
from .base_agent import BaseAgent

TASKS_PER_MILESTONE = 3
TASK_ESTIMATED_HOURS = 8


PLAN_KEYS = ("name", "description", "duration_weeks", "milestones", "tasks", "created_by")
FORECAST_EVERY = 1_024
"""Goals built between two forecasts of whether the plan can be done by its deadline."""
FORECAST_MARGIN = 2.0
"""A plan is given up when what is left would take this many times the time left."""


def _give_up_if_too_slow(done: int, total: int, elapsed: float) -> None:
    """Raise DeadlineExceededError now when the rest of the plan cannot be built in time.

    Building on would only make more for the worker to free after the deadline (as
    long again as a quarter of the building), work after the deadline on a thread.
    """
    left = time_left()
    needed = (total - done) * elapsed / done
    if needed > FORECAST_MARGIN * left:
        msg = (
            f"the plan cannot be built by the step's deadline: {total - done} goals left, "
            f"about {needed:.3f} s of work, {left:.3f} s left"
        )
        raise DeadlineExceededError(msg)


class ProjectPlanAgent(BaseAgent):
    """Generate project plans (one milestone per goal, three tasks each) and update them.

    A plan over the agent's ``max_result_items`` (four items a goal) is refused before
    it is built. A plan that cannot be built by the step's deadline, as forecast from
    its pace so far, is given up at once with ``DeadlineExceededError``.

    Usage::

        agent = ProjectPlanAgent()
        response = agent.respond(
            {"type": "generate_plan", "data": {"name": "Apollo", "goals": ["Design", "Build"]}}
        )
        response["data"]["milestones"][0]["week"]  # 6: goal 1 of 2 over 12 weeks
    """

    agent_id = "project_plan_agent"
    handlers = {"generate_plan": "generate_plan", "update_plan": "update_plan"}

    def generate_plan(self, data: object) -> dict[str, Any]:
        """Build a plan from ``{name, description, goals, duration_weeks}``.

        Args:
            data: The project requirements; every key is optional.

        Returns:
            ``{name, description, duration_weeks, milestones, tasks, created_by}``.

        Raises:
            TypeError: When ``data`` or one of its fields has the wrong type.
            ValueError: When ``duration_weeks`` is negative or not finite.
        """
        data = require_dict(data, "generate_plan data")
        name = require_str(data.get("name", "Unnamed Project"), "generate_plan name")
        description = require_str(data.get("description", ""), "generate_plan description")
        goals = require_list(data.get("goals", []), "generate_plan goals")
        duration_weeks = require_weeks(
            data.get("duration_weeks", 12), "generate_plan duration_weeks"
        )

        # The size check a result gets (BaseAgent.max_result_items), made before building
        # a plan that would only be thrown away, and on the trio thread at that.
        items = len(PLAN_KEYS) + (1 + TASKS_PER_MILESTONE) * len(goals)
        if items > self.max_result_items:
            msg = (
                f"result too large: about {items} items, over this agent's limit of "
                f"{self.max_result_items} (BaseAgent.max_result_items)"
            )
            raise ValueError(msg)

        milestones: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        try:
            self._build(goals, duration_weeks, milestones, tasks)
        except BaseException:  # its deadline, or a bad goal
            # The partial plan is freed here and now, the GIL handed over between slices,
            # not wherever (and in one go) the traceback is dropped.
            free_in_slices(tasks)
            free_in_slices(milestones)
            raise
        return {
            "name": name,
            "description": description,
            "duration_weeks": duration_weeks,
            "milestones": milestones,
            "tasks": tasks,
            "created_by": self.agent_id,
        }

    @staticmethod
    def _build(
        goals: list[Any],
        duration_weeks: float,
        milestones: list[dict[str, Any]],
        tasks: list[dict[str, Any]],
    ) -> None:
        goal_count = len(goals)
        began = time.perf_counter()
        for i, goal in enumerate(goals, 1):
            check_deadline()  # a big plan stops at the step's deadline, on any backend
            if i % FORECAST_EVERY == 0:
                _give_up_if_too_slow(i, goal_count, time.perf_counter() - began)
            if not isinstance(goal, str):
                msg = f"generate_plan goals[{i - 1}] must be a str, got {type(goal).__name__}"
                raise TypeError(msg)
            milestone_id = f"M{i}"
            milestones.append(
                {
                    "id": milestone_id,
                    "name": goal,
                    # Spreads the goals evenly, the last one landing on the final week.
                    "week": (i * duration_weeks) // goal_count,
                    "deliverables": [f"Deliverable for {goal}"],
                    "status": "not_started",
                }
            )
            for j in range(1, TASKS_PER_MILESTONE + 1):
                tasks.append(
                    {
                        "id": f"{milestone_id}-T{j}",
                        "milestone_id": milestone_id,
                        "name": f"Task {j} for {goal}",
                        "status": "not_started",
                        "priority": "medium",
                        "estimated_hours": TASK_ESTIMATED_HOURS,
                    }
                )

    def update_plan(self, data: object) -> dict[str, Any]:
        """Return ``data['plan']`` with ``data['updates']`` merged in, as a new dict.

        The merge is shallow, like :meth:`dict.update`: a key in the updates replaces
        the plan's value whole. Neither input is modified.

        Args:
            data: ``{plan, updates}``; each defaults to an empty dict.

        Returns:
            The merged plan.

        Raises:
            TypeError: When ``data``, the plan or the updates is not a dict.
        """
        data = require_dict(data, "update_plan data")
        plan = require_dict(data.get("plan", {}), "update_plan plan")
        updates = require_dict(data.get("updates", {}), "update_plan updates")
        return {**plan, **updates}
