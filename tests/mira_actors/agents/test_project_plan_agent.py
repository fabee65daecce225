import copy
import json
import time
from typing import Any

import pytest

from mira_actors import DeadlineExceededError, wall_clock_deadline
from mira_actors.agents.project_plan_agent import ProjectPlanAgent


def generate(data: Any) -> dict[str, Any]:
    response = ProjectPlanAgent().respond({"type": "generate_plan", "data": data})
    assert response["status"] == "success", response["error"]
    assert response["error"] is None
    result: dict[str, Any] = response["data"]
    return result


def test_agent_id_and_message_types() -> None:
    """The plan agent is 'project_plan_agent' and answers generate_plan and update_plan."""
    agent = ProjectPlanAgent()
    assert agent.agent_id == "project_plan_agent"
    assert agent.message_types == frozenset({"generate_plan", "update_plan"})


def test_one_goal_gives_the_exact_plan() -> None:
    """One goal yields one milestone on the last week and its three tasks."""
    plan = generate(
        {
            "name": "Apollo",
            "description": "Go to the moon",
            "goals": ["Launch"],
            "duration_weeks": 8,
        }
    )
    assert plan == {
        "name": "Apollo",
        "description": "Go to the moon",
        "duration_weeks": 8,
        "milestones": [
            {
                "id": "M1",
                "name": "Launch",
                "week": 8,
                "deliverables": ["Deliverable for Launch"],
                "status": "not_started",
            }
        ],
        "tasks": [
            {
                "id": "M1-T1",
                "milestone_id": "M1",
                "name": "Task 1 for Launch",
                "status": "not_started",
                "priority": "medium",
                "estimated_hours": 8,
            },
            {
                "id": "M1-T2",
                "milestone_id": "M1",
                "name": "Task 2 for Launch",
                "status": "not_started",
                "priority": "medium",
                "estimated_hours": 8,
            },
            {
                "id": "M1-T3",
                "milestone_id": "M1",
                "name": "Task 3 for Launch",
                "status": "not_started",
                "priority": "medium",
                "estimated_hours": 8,
            },
        ],
        "created_by": "project_plan_agent",
    }


def test_three_goals_over_twelve_weeks() -> None:
    """Three goals over 12 weeks give milestones M1-M3 at weeks 4, 8 and 12, in order."""
    plan = generate({"goals": ["Design", "Build", "Ship"], "duration_weeks": 12})
    assert [(m["id"], m["name"], m["week"]) for m in plan["milestones"]] == [
        ("M1", "Design", 4),
        ("M2", "Build", 8),
        ("M3", "Ship", 12),
    ]
    assert [m["deliverables"] for m in plan["milestones"]] == [
        ["Deliverable for Design"],
        ["Deliverable for Build"],
        ["Deliverable for Ship"],
    ]


def test_three_tasks_per_milestone_in_order() -> None:
    """Each milestone gets tasks <id>-T1..T3 named after it, milestone by milestone."""
    plan = generate({"goals": ["Design", "Build"], "duration_weeks": 12})
    assert [(t["id"], t["milestone_id"], t["name"]) for t in plan["tasks"]] == [
        ("M1-T1", "M1", "Task 1 for Design"),
        ("M1-T2", "M1", "Task 2 for Design"),
        ("M1-T3", "M1", "Task 3 for Design"),
        ("M2-T1", "M2", "Task 1 for Build"),
        ("M2-T2", "M2", "Task 2 for Build"),
        ("M2-T3", "M2", "Task 3 for Build"),
    ]


@pytest.mark.parametrize(
    ("goal_count", "duration_weeks", "weeks"),
    [
        (2, 5, [2, 5]),  # 5 // 2 = 2, 10 // 2 = 5
        (3, 10, [3, 6, 10]),  # 10 // 3 = 3, 20 // 3 = 6, 30 // 3 = 10
        (4, 2, [0, 1, 1, 2]),  # 2 // 4 = 0, 4 // 4 = 1, 6 // 4 = 1, 8 // 4 = 2
        (2, 0, [0, 0]),
        (2, 3.0, [1.0, 3.0]),  # 3.0 // 2 = 1.0, 6.0 // 2 = 3.0
    ],
)
def test_milestone_weeks_use_floor_division(
    goal_count: int, duration_weeks: float, weeks: list[float]
) -> None:
    """Milestone i lands on week (i * duration_weeks) // len(goals)."""
    goals = [f"Goal {n}" for n in range(1, goal_count + 1)]
    plan = generate({"goals": goals, "duration_weeks": duration_weeks})
    assert [m["week"] for m in plan["milestones"]] == weeks


def test_defaults() -> None:
    """Empty requirements give an unnamed 12-week plan with no milestones or tasks."""
    assert generate({}) == {
        "name": "Unnamed Project",
        "description": "",
        "duration_weeks": 12,
        "milestones": [],
        "tasks": [],
        "created_by": "project_plan_agent",
    }


def test_no_goals_with_zero_weeks() -> None:
    """Zero weeks and no goals is a valid, empty plan."""
    plan = generate({"goals": [], "duration_weeks": 0})
    assert plan["milestones"] == []
    assert plan["tasks"] == []
    assert plan["duration_weeks"] == 0


def test_plan_is_json_serialisable() -> None:
    """The generated plan survives a JSON round trip unchanged."""
    plan = generate({"name": "Apollo", "goals": ["Design", "Build"]})
    assert json.loads(json.dumps(plan)) == plan


def test_requirements_are_not_modified() -> None:
    """generate_plan leaves the caller's requirements untouched."""
    data = {"name": "Apollo", "goals": ["Design", "Build"], "duration_weeks": 6}
    before = copy.deepcopy(data)
    generate(data)
    assert data == before


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "generate_plan data must be a dict, got list"),
        (None, "generate_plan data must be a dict, got NoneType"),
        ({"name": 7}, "generate_plan name must be a str, got int"),
        ({"description": None}, "generate_plan description must be a str, got NoneType"),
        ({"goals": "Design"}, "generate_plan goals must be a list, got str"),
        ({"goals": ("Design",)}, "generate_plan goals must be a list, got tuple"),
        ({"goals": ["Design", 2]}, "generate_plan goals[1] must be a str, got int"),
        ({"duration_weeks": "12"}, "generate_plan duration_weeks must be a number, got str"),
        ({"duration_weeks": True}, "generate_plan duration_weeks must be a number, got bool"),
        ({"duration_weeks": None}, "generate_plan duration_weeks must be a number, got NoneType"),
        ({"duration_weeks": -1}, "generate_plan duration_weeks must be non-negative, got -1"),
        ({"duration_weeks": -0.5}, "generate_plan duration_weeks must be non-negative, got -0.5"),
        ({"duration_weeks": float("nan")}, "generate_plan duration_weeks must be finite, got nan"),
        ({"duration_weeks": float("inf")}, "generate_plan duration_weeks must be finite, got inf"),
    ],
)
def test_bad_requirements_give_clear_errors(data: Any, error: str) -> None:
    """Requirements of the wrong shape give an 'error' response that names the field."""
    response = ProjectPlanAgent().respond({"type": "generate_plan", "data": data})
    assert response["status"] == "error"
    assert response["error"] == error
    assert response["data"] is None


def test_update_plan_merges_into_a_new_dict() -> None:
    """update_plan returns the plan with the updates merged in, leaving both inputs alone."""
    plan = {"name": "Apollo", "duration_weeks": 12, "milestones": [{"id": "M1"}]}
    updates = {"duration_weeks": 16, "status": "active"}
    response = ProjectPlanAgent().respond(
        {"type": "update_plan", "data": {"plan": plan, "updates": updates}}
    )
    assert response["status"] == "success"
    assert response["data"] == {
        "name": "Apollo",
        "duration_weeks": 16,
        "milestones": [{"id": "M1"}],
        "status": "active",
    }
    assert plan == {"name": "Apollo", "duration_weeks": 12, "milestones": [{"id": "M1"}]}
    assert updates == {"duration_weeks": 16, "status": "active"}


def test_update_plan_replaces_nested_values_whole() -> None:
    """The merge is shallow: an updated key's value replaces the old one entirely."""
    response = ProjectPlanAgent().respond(
        {
            "type": "update_plan",
            "data": {"plan": {"meta": {"a": 1, "b": 2}}, "updates": {"meta": {"a": 3}}},
        }
    )
    assert response["data"] == {"meta": {"a": 3}}


def test_update_plan_defaults_to_empty() -> None:
    """Missing plan and updates merge to an empty plan."""
    response = ProjectPlanAgent().respond({"type": "update_plan", "data": {}})
    assert response["status"] == "success"
    assert response["data"] == {}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("plan", "update_plan data must be a dict, got str"),
        ({"plan": [], "updates": {}}, "update_plan plan must be a dict, got list"),
        ({"plan": {}, "updates": None}, "update_plan updates must be a dict, got NoneType"),
    ],
)
def test_update_plan_bad_shapes(data: Any, error: str) -> None:
    """update_plan rejects a plan or updates that are not dicts, naming which."""
    response = ProjectPlanAgent().respond({"type": "update_plan", "data": data})
    assert response["status"] == "error"
    assert response["error"] == error


def test_other_agents_types_are_unknown() -> None:
    """The plan agent does not answer another agent's message types."""
    response = ProjectPlanAgent().respond({"type": "assess_risks", "data": {}})
    assert response["status"] == "error"
    assert response["error"] == "Unknown message type: assess_risks"


async def test_handle_generates_a_plan() -> None:
    """The actor entry point handle() answers generate_plan."""
    response = await ProjectPlanAgent().handle(
        {"type": "generate_plan", "data": {"goals": ["A", "B", "C"], "duration_weeks": 6}}
    )
    assert response["agent_id"] == "project_plan_agent"
    assert response["status"] == "success"
    assert [m["week"] for m in response["data"]["milestones"]] == [2, 4, 6]


def test_a_plan_that_cannot_be_built_in_time_is_given_up_at_once() -> None:
    """200,000 goals in 50 ms: the agent stops at its first forecast, not at the deadline."""
    goals = [f"Goal {i}" for i in range(200_000)]
    agent = ProjectPlanAgent()
    agent.max_result_items = 10**9  # room for it: the deadline is what stops it
    with (
        wall_clock_deadline(time.time() + 0.05),
        pytest.raises(DeadlineExceededError, match="cannot be built by the step's deadline"),
    ):
        agent.generate_plan({"goals": goals})


def test_a_plan_over_the_result_limit_is_refused_before_it_is_built() -> None:
    """Four items a goal: 25,000 goals fit the default 100,000 items, 25,001 do not."""
    agent = ProjectPlanAgent()
    fits = agent.respond({"type": "generate_plan", "data": {"goals": ["g"] * 24_998}})
    assert fits["status"] == "success"
    refused = agent.respond({"type": "generate_plan", "data": {"goals": ["g"] * 24_999}})
    assert refused["error"] == (
        "result too large: about 100002 items, over this agent's limit of 100000 "
        "(BaseAgent.max_result_items)"
    )
