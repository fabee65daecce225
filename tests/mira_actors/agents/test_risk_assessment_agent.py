import copy
import json
from typing import Any

import pytest

from mira_actors.agents.risk_assessment_agent import RiskAssessmentAgent


def assess(data: Any) -> dict[str, Any]:
    response = RiskAssessmentAgent().respond({"type": "assess_risks", "data": data})
    assert response["status"] == "success", response["error"]
    assert response["error"] is None
    result: dict[str, Any] = response["data"]
    return result


def test_agent_id_and_message_types() -> None:
    """The risk agent is 'risk_assessment_agent' and answers assess_risks and update_risk."""
    agent = RiskAssessmentAgent()
    assert agent.agent_id == "risk_assessment_agent"
    assert agent.message_types == frozenset({"assess_risks", "update_risk"})


def test_no_risks_scores_zero() -> None:
    """A plan with no risk keywords and few tasks has no risks and a score of 0."""
    assert assess({"name": "Calm", "description": "A steady project", "duration_weeks": 4}) == {
        "project_name": "Calm",
        "risk_score": 0,
        "total_risks": 0,
        "risks": [],
        "assessed_by": "risk_assessment_agent",
    }


def test_defaults() -> None:
    """An empty plan is 'Unknown Project' with no risks."""
    assert assess({}) == {
        "project_name": "Unknown Project",
        "risk_score": 0,
        "total_risks": 0,
        "risks": [],
        "assessed_by": "risk_assessment_agent",
    }


def test_one_high_and_one_medium_risk() -> None:
    """'urgent' and 'new' give R1 (schedule, high) and R2 (technical, medium), scoring 83.33."""
    assessment = assess({"name": "Apollo", "description": "Urgent rollout of a new platform"})
    assert assessment == {
        "project_name": "Apollo",
        "risk_score": 83.33,  # 100 * (3 + 2) / (3 * 2)
        "total_risks": 2,
        "risks": [
            {
                "id": "R1",
                "category": "schedule",
                "pattern": "tight_deadline",
                "severity": "high",
                "description": "Potential schedule risk detected",
                "mitigation": "Add buffer time, reduce scope, or increase resources",
                "status": "identified",
            },
            {
                "id": "R2",
                "category": "technical",
                "pattern": "new_technology",
                "severity": "medium",
                "description": "Potential technical risk detected",
                "mitigation": "Allocate time for training and proof-of-concept",
                "status": "identified",
            },
        ],
        "assessed_by": "risk_assessment_agent",
    }


@pytest.mark.parametrize(
    ("description", "category", "pattern", "severity", "mitigation"),
    [
        (
            "needed asap",
            "schedule",
            "tight_deadline",
            "high",
            "Add buffer time, reduce scope, or increase resources",
        ),
        (
            "a short timeline",
            "schedule",
            "tight_deadline",
            "high",
            "Add buffer time, reduce scope, or increase resources",
        ),
        (
            "an unfamiliar stack",
            "technical",
            "new_technology",
            "medium",
            "Allocate time for training and proof-of-concept",
        ),
        (
            "a learning curve",
            "technical",
            "new_technology",
            "medium",
            "Allocate time for training and proof-of-concept",
        ),
        (
            "limited staff",
            "resource",
            "limited_resources",
            "high",
            "Secure additional resources or adjust project scope",
        ),
        (
            "insufficient budget",
            "resource",
            "limited_resources",
            "high",
            "Secure additional resources or adjust project scope",
        ),
        (
            "a lack of testers",
            "resource",
            "limited_resources",
            "high",
            "Secure additional resources or adjust project scope",
        ),
        (
            "depends on a vendor",
            "dependency",
            "external_dependency",
            "medium",
            "Establish clear SLAs and backup plans",
        ),
        (
            "waiting for approval",
            "dependency",
            "external_dependency",
            "medium",
            "Establish clear SLAs and backup plans",
        ),
        (
            "a third party API",
            "dependency",
            "external_dependency",
            "medium",
            "Establish clear SLAs and backup plans",
        ),
    ],
)
def test_each_keyword_maps_to_its_pattern(
    description: str, category: str, pattern: str, severity: str, mitigation: str
) -> None:
    """Each keyword of the table raises its pattern's risk, with its mitigation."""
    assessment = assess({"description": description})
    assert assessment["risks"] == [
        {
            "id": "R1",
            "category": category,
            "pattern": pattern,
            "severity": severity,
            "description": f"Potential {category} risk detected",
            "mitigation": mitigation,
            "status": "identified",
        }
    ]
    assert assessment["risk_score"] == (100.0 if severity == "high" else 66.67)


def test_keywords_match_case_insensitively() -> None:
    """Keywords are found in the description whatever its case."""
    assessment = assess({"description": "ASAP, and Waiting For the THIRD PARTY"})
    assert [r["pattern"] for r in assessment["risks"]] == ["tight_deadline", "external_dependency"]


def test_keywords_match_inside_words() -> None:
    """A keyword counts wherever it occurs, even inside a longer word."""
    assessment = assess({"description": "Renewal of the contract"})
    assert [r["pattern"] for r in assessment["risks"]] == ["new_technology"]


def test_one_risk_per_pattern() -> None:
    """Several keywords of one pattern still give a single risk."""
    assessment = assess({"description": "urgent, asap, on a short timeline"})
    assert assessment["total_risks"] == 1
    assert [r["id"] for r in assessment["risks"]] == ["R1"]


def test_all_patterns_in_table_order() -> None:
    """Risks follow the table order, numbered R1-R4, whatever the description's order."""
    assessment = assess({"description": "depends on a limited, new and urgent team"})
    assert [(r["id"], r["category"]) for r in assessment["risks"]] == [
        ("R1", "schedule"),
        ("R2", "technical"),
        ("R3", "resource"),
        ("R4", "dependency"),
    ]
    assert assessment["total_risks"] == 4
    assert assessment["risk_score"] == 83.33  # 100 * (3 + 2 + 3 + 2) / (3 * 4)


def test_two_medium_risks_score() -> None:
    """Two medium risks score 100 * 4 / 6 = 66.67."""
    assessment = assess({"description": "new tools, third party hosting"})
    assert assessment["risk_score"] == 66.67


def test_high_task_density_risk() -> None:
    """15 tasks over 2 weeks is 7.5 per week: a high schedule risk."""
    assessment = assess({"tasks": [{}] * 15, "duration_weeks": 2})
    assert assessment == {
        "project_name": "Unknown Project",
        "risk_score": 100.0,
        "total_risks": 1,
        "risks": [
            {
                "id": "R1",
                "category": "schedule",
                "pattern": "high_task_density",
                "severity": "high",
                "description": "High task density: 7.5 tasks per week",
                "mitigation": "Consider extending timeline or adding resources",
                "status": "identified",
            }
        ],
        "assessed_by": "risk_assessment_agent",
    }


def test_task_density_risk_comes_after_keyword_risks() -> None:
    """The density risk is numbered after the keyword risks."""
    assessment = assess({"description": "new", "tasks": [{}] * 18, "duration_weeks": 3})
    assert [(r["id"], r["pattern"]) for r in assessment["risks"]] == [
        ("R1", "new_technology"),
        ("R2", "high_task_density"),
    ]
    assert assessment["risks"][1]["description"] == "High task density: 6.0 tasks per week"
    assert assessment["risk_score"] == 83.33  # 100 * (2 + 3) / (3 * 2)


def test_task_density_is_shown_to_one_decimal() -> None:
    """16 tasks over 3 weeks is shown as 5.3 tasks per week."""
    assessment = assess({"tasks": [{}] * 16, "duration_weeks": 3})
    assert assessment["risks"][0]["description"] == "High task density: 5.3 tasks per week"


@pytest.mark.parametrize(
    "data",
    [
        {"tasks": [{}] * 10, "duration_weeks": 2},  # exactly 5 per week
        {"tasks": [{}] * 10, "duration_weeks": 0},  # no duration to divide by
        {"tasks": [{}] * 10},  # duration defaults to 0
        {"tasks": [], "duration_weeks": 1},
    ],
)
def test_no_task_density_risk(data: dict[str, Any]) -> None:
    """No density risk at 5 tasks per week or less, without tasks, or without a duration."""
    assert assess(data)["risks"] == []


def test_generated_plan_with_three_tasks_a_week_has_no_density_risk() -> None:
    """A 4-goal, 12-week generated plan (12 tasks) is under the density threshold."""
    tasks = [{"id": f"M{m}-T{t}", "status": "not_started"} for m in range(1, 5) for t in (1, 2, 3)]
    assert assess({"name": "Apollo", "tasks": tasks, "duration_weeks": 12})["total_risks"] == 0


def test_assessment_is_json_serialisable_and_input_untouched() -> None:
    """The assessment survives JSON, and the plan it read is not modified."""
    plan = {"name": "Apollo", "description": "Urgent", "tasks": [{}] * 12, "duration_weeks": 2}
    before = copy.deepcopy(plan)
    assessment = assess(plan)
    assert json.loads(json.dumps(assessment)) == assessment
    assert plan == before


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "assess_risks data must be a dict, got list"),
        ({"name": None}, "assess_risks name must be a str, got NoneType"),
        ({"description": 3}, "assess_risks description must be a str, got int"),
        ({"tasks": {}}, "assess_risks tasks must be a list, got dict"),
        ({"tasks": 5}, "assess_risks tasks must be a list, got int"),
        ({"duration_weeks": "2"}, "assess_risks duration_weeks must be a number, got str"),
        ({"duration_weeks": False}, "assess_risks duration_weeks must be a number, got bool"),
        ({"duration_weeks": -2}, "assess_risks duration_weeks must be non-negative, got -2"),
        ({"duration_weeks": float("nan")}, "assess_risks duration_weeks must be finite, got nan"),
    ],
)
def test_bad_plans_give_clear_errors(data: Any, error: str) -> None:
    """Plans of the wrong shape give an 'error' response that names the field."""
    response = RiskAssessmentAgent().respond({"type": "assess_risks", "data": data})
    assert response["status"] == "error"
    assert response["error"] == error
    assert response["data"] is None


def test_update_risk_merges_into_a_new_dict() -> None:
    """update_risk returns the risk with the updates merged in, leaving both inputs alone."""
    risk = {"id": "R1", "severity": "high", "status": "identified"}
    updates = {"status": "mitigated", "owner": "Ada"}
    response = RiskAssessmentAgent().respond(
        {"type": "update_risk", "data": {"risk": risk, "updates": updates}}
    )
    assert response["status"] == "success"
    assert response["data"] == {
        "id": "R1",
        "severity": "high",
        "status": "mitigated",
        "owner": "Ada",
    }
    assert risk == {"id": "R1", "severity": "high", "status": "identified"}
    assert updates == {"status": "mitigated", "owner": "Ada"}


def test_update_risk_defaults_to_empty() -> None:
    """Missing risk and updates merge to an empty risk."""
    response = RiskAssessmentAgent().respond({"type": "update_risk", "data": {}})
    assert response["status"] == "success"
    assert response["data"] == {}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (None, "update_risk data must be a dict, got NoneType"),
        ({"risk": "R1"}, "update_risk risk must be a dict, got str"),
        (
            {"risk": {}, "updates": [("status", "closed")]},
            "update_risk updates must be a dict, got list",
        ),
    ],
)
def test_update_risk_bad_shapes(data: Any, error: str) -> None:
    """update_risk rejects a risk or updates that are not dicts, naming which."""
    response = RiskAssessmentAgent().respond({"type": "update_risk", "data": data})
    assert response["status"] == "error"
    assert response["error"] == error


async def test_handle_assesses_risks() -> None:
    """The actor entry point handle() answers assess_risks."""
    response = await RiskAssessmentAgent().handle(
        {"type": "assess_risks", "data": {"description": "insufficient staff"}}
    )
    assert response["agent_id"] == "risk_assessment_agent"
    assert response["status"] == "success"
    assert response["data"]["risk_score"] == 100.0
