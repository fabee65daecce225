import copy
import datetime
import json
from typing import Any

import pytest

from mira_actors.agents.status_reporter_agent import StatusReporterAgent

WEDNESDAY = datetime.date(2024, 5, 15)


def report(data: Any) -> dict[str, Any]:
    response = StatusReporterAgent().respond({"type": "generate_report", "data": data})
    assert response["status"] == "success", response["error"]
    assert response["error"] is None
    result: dict[str, Any] = response["data"]
    return result


def schedule(data: Any, today: datetime.date = WEDNESDAY) -> dict[str, Any]:
    agent = StatusReporterAgent(today=lambda: today)
    response = agent.respond({"type": "schedule_report", "data": data})
    assert response["status"] == "success", response["error"]
    result: dict[str, Any] = response["data"]
    return result


def task(name: str, status: str) -> dict[str, Any]:
    return {"id": name, "name": name, "status": status}


def test_agent_id_and_message_types() -> None:
    """The reporter is 'status_reporter_agent' and answers generate_report and schedule_report."""
    agent = StatusReporterAgent()
    assert agent.agent_id == "status_reporter_agent"
    assert agent.message_types == frozenset({"generate_report", "schedule_report"})


def test_full_report() -> None:
    """A report counts tasks, lists accomplishments, milestones, high risks and next steps."""
    data = {
        "name": "Apollo",
        "week_number": 3,
        "tasks": [
            task("Design", "completed"),
            task("Prototype", "completed"),
            task("Build", "in_progress"),
            task("Test", "not_started"),
            task("Ship", "not_started"),
            task("Audit", "not_started"),
            task("Hire", "blocked"),
        ],
        "milestones": [
            {"id": "M1", "name": "Alpha", "week": 2},
            {"id": "M2", "name": "Beta", "week": 3},
            {"id": "M3", "name": "RC", "week": 5},
            {"id": "M4", "name": "GA", "week": 6},
        ],
        "risks": [
            {"id": "R1", "description": "Potential schedule risk detected", "severity": "high"},
            {"id": "R2", "description": "Potential technical risk detected", "severity": "medium"},
            {"id": "R3", "description": "Vendor late", "severity": "high", "status": "identified"},
        ],
    }
    result = report(data)
    report_date = result.pop("report_date")
    assert datetime.datetime.fromisoformat(report_date).utcoffset() == datetime.timedelta(0)
    assert result == {
        "project_name": "Apollo",
        "week_number": 3,
        "summary": {
            "total_tasks": 7,
            "completed_tasks": 2,
            "in_progress_tasks": 1,
            "not_started_tasks": 3,
            "completion_percentage": 28.57,  # 100 * 2 / 7
        },
        "accomplishments": ["Completed 2 tasks this week", "Design", "Prototype"],
        "upcoming_milestones": [{"name": "Beta", "week": 3}, {"name": "RC", "week": 5}],
        "risks_and_blockers": [
            {"id": "R1", "description": "Potential schedule risk detected", "severity": "high"},
            {"id": "R3", "description": "Vendor late", "severity": "high"},
        ],
        "next_week_plan": ["Continue work on 1 in-progress tasks", "Start 3 new tasks"],
        "generated_by": "status_reporter_agent",
    }


def test_empty_report() -> None:
    """An empty plan reports week 1 of 'Unknown Project' with zero counts and 0 percent."""
    result = report({})
    del result["report_date"]
    assert result == {
        "project_name": "Unknown Project",
        "week_number": 1,
        "summary": {
            "total_tasks": 0,
            "completed_tasks": 0,
            "in_progress_tasks": 0,
            "not_started_tasks": 0,
            "completion_percentage": 0,
        },
        "accomplishments": ["Completed 0 tasks this week"],
        "upcoming_milestones": [],
        "risks_and_blockers": [],
        "next_week_plan": ["Continue work on 0 in-progress tasks"],
        "generated_by": "status_reporter_agent",
    }


def test_accomplishments_list_at_most_three_names() -> None:
    """Only the first three completed tasks are named."""
    tasks = [task(name, "completed") for name in ("A", "B", "C", "D")]
    result = report({"tasks": tasks})
    assert result["accomplishments"] == ["Completed 4 tasks this week", "A", "B", "C"]
    assert result["summary"]["completion_percentage"] == 100.0


def test_completed_task_without_a_name() -> None:
    """A completed task with no name is listed as 'Unknown'."""
    result = report({"tasks": [{"status": "completed"}]})
    assert result["accomplishments"] == ["Completed 1 tasks this week", "Unknown"]


def test_new_tasks_are_capped_at_five() -> None:
    """The plan starts at most five new tasks next week."""
    tasks = [task(f"T{n}", "not_started") for n in range(7)]
    assert report({"tasks": tasks})["next_week_plan"] == [
        "Continue work on 0 in-progress tasks",
        "Start 5 new tasks",
    ]


def test_completion_percentage_rounds_to_two_places() -> None:
    """One of three tasks done is 33.33 percent."""
    tasks = [task("A", "completed"), task("B", "in_progress"), task("C", "in_progress")]
    result = report({"tasks": tasks})
    assert result["summary"]["completion_percentage"] == 33.33
    assert result["next_week_plan"] == ["Continue work on 2 in-progress tasks"]


def test_tasks_without_status_count_only_in_total() -> None:
    """A task with no status or another status counts towards the total only."""
    result = report({"tasks": [{"name": "A"}, task("B", "blocked"), task("C", "completed")]})
    assert result["summary"] == {
        "total_tasks": 3,
        "completed_tasks": 1,
        "in_progress_tasks": 0,
        "not_started_tasks": 0,
        "completion_percentage": 33.33,
    }


@pytest.mark.parametrize(
    ("week_number", "names"),
    [
        (1, ["W1", "W2", "W3"]),
        (3, ["W3", "W4"]),
        (5, []),
        (0, ["W0", "W1", "W2"]),
    ],
)
def test_upcoming_milestones_window(week_number: int, names: list[str]) -> None:
    """Upcoming milestones are those in weeks week_number to week_number + 2, inclusive."""
    milestones = [{"name": f"W{week}", "week": week} for week in (0, 1, 2, 3, 4)]
    result = report({"milestones": milestones, "week_number": week_number})
    assert [m["name"] for m in result["upcoming_milestones"]] == names


def test_milestone_without_week_is_not_upcoming() -> None:
    """A milestone with no week is never listed as upcoming."""
    result = report({"milestones": [{"name": "Someday"}, {"name": "Now", "week": 1}]})
    assert result["upcoming_milestones"] == [{"name": "Now", "week": 1}]


def test_generated_plan_milestone_weeks() -> None:
    """Milestones at weeks 4, 8, 12 show week 4 as upcoming from week 2."""
    milestones = [
        {"id": "M1", "name": "Design", "week": 4, "status": "not_started"},
        {"id": "M2", "name": "Build", "week": 8, "status": "not_started"},
        {"id": "M3", "name": "Ship", "week": 12, "status": "not_started"},
    ]
    result = report({"milestones": milestones, "week_number": 2})
    assert result["upcoming_milestones"] == [{"name": "Design", "week": 4}]


def test_report_is_json_serialisable_and_input_untouched() -> None:
    """The report survives JSON, and the plan it read is not modified."""
    data = {
        "name": "Apollo",
        "tasks": [task("A", "completed"), task("B", "not_started")],
        "milestones": [{"name": "M", "week": 2}],
        "risks": [{"id": "R1", "description": "d", "severity": "high"}],
    }
    before = copy.deepcopy(data)
    result = report(data)
    assert json.loads(json.dumps(result)) == result
    assert data == before


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ((), "generate_report data must be a dict, got tuple"),
        ({"name": 1}, "generate_report name must be a str, got int"),
        ({"tasks": "A"}, "generate_report tasks must be a list, got str"),
        ({"tasks": [{}, "B"]}, "generate_report tasks[1] must be a dict, got str"),
        ({"milestones": {}}, "generate_report milestones must be a list, got dict"),
        ({"milestones": [None]}, "generate_report milestones[0] must be a dict, got NoneType"),
        (
            {"milestones": [{"week": "3"}]},
            "generate_report milestones[0] week must be a number, got str",
        ),
        ({"risks": None}, "generate_report risks must be a list, got NoneType"),
        ({"risks": [{}, {}, "R3"]}, "generate_report risks[2] must be a dict, got str"),
        ({"week_number": "2"}, "generate_report week_number must be an int, got str"),
        ({"week_number": True}, "generate_report week_number must be an int, got bool"),
        ({"week_number": 2.5}, "generate_report week_number must be an int, got float"),
        ({"week_number": -1}, "generate_report week_number must be non-negative, got -1"),
    ],
)
def test_bad_report_data_gives_clear_errors(data: Any, error: str) -> None:
    """Report data of the wrong shape gives an 'error' response that names the field."""
    response = StatusReporterAgent().respond({"type": "generate_report", "data": data})
    assert response["status"] == "error"
    assert response["error"] == error
    assert response["data"] is None


def test_schedule_defaults() -> None:
    """The default schedule is weekly, to nobody, on Friday: from a Wednesday, two days on."""
    assert schedule({}) == {
        "frequency": "weekly",
        "recipients": [],
        "day_of_week": "Friday",
        "next_run": "2024-05-17",
        "created_by": "status_reporter_agent",
    }


@pytest.mark.parametrize(
    ("day_of_week", "next_run"),
    [
        ("Monday", "2024-05-20"),
        ("Tuesday", "2024-05-21"),
        ("Wednesday", "2024-05-22"),  # today: a week ahead
        ("Thursday", "2024-05-16"),
        ("Friday", "2024-05-17"),
        ("Saturday", "2024-05-18"),
        ("Sunday", "2024-05-19"),
    ],
)
def test_next_run_is_the_next_such_weekday(day_of_week: str, next_run: str) -> None:
    """next_run is the first such weekday after Wednesday 2024-05-15, never the same day."""
    assert schedule({"day_of_week": day_of_week})["next_run"] == next_run


@pytest.mark.parametrize("day_of_week", ["Funday", "", "Fri"])
def test_unknown_day_means_friday(day_of_week: str) -> None:
    """An unknown day name schedules for Friday and is echoed back as given."""
    result = schedule({"day_of_week": day_of_week})
    assert result["next_run"] == "2024-05-17"
    assert result["day_of_week"] == day_of_week


def test_day_names_ignore_case_and_spaces() -> None:
    """'  monday ' is Monday."""
    result = schedule({"day_of_week": "  monday "})
    assert result["next_run"] == "2024-05-20"
    assert result["day_of_week"] == "  monday "


def test_next_run_crosses_the_year() -> None:
    """From Monday 2024-12-30 the next Friday is 2025-01-03."""
    assert schedule({}, today=datetime.date(2024, 12, 30))["next_run"] == "2025-01-03"


def test_next_run_a_week_ahead_on_the_day() -> None:
    """On a Friday, the next Friday run is seven days later."""
    assert schedule({}, today=datetime.date(2024, 5, 17))["next_run"] == "2024-05-24"


def test_schedule_echoes_and_copies_its_settings() -> None:
    """Frequency, recipients and day come back as given; the recipients list is a copy."""
    recipients = ["ada@example.com", "grace@example.com"]
    data = {"frequency": "biweekly", "recipients": recipients, "day_of_week": "Monday"}
    result = schedule(data)
    assert result == {
        "frequency": "biweekly",
        "recipients": ["ada@example.com", "grace@example.com"],
        "day_of_week": "Monday",
        "next_run": "2024-05-20",
        "created_by": "status_reporter_agent",
    }
    assert result["recipients"] is not recipients
    assert json.loads(json.dumps(result)) == result


def test_default_today_is_the_utc_date() -> None:
    """Without an injected date, next_run is the next Friday after today in UTC."""
    before = datetime.datetime.now(datetime.UTC).date()
    response = StatusReporterAgent().respond({"type": "schedule_report", "data": {}})
    after = datetime.datetime.now(datetime.UTC).date()
    next_run = datetime.date.fromisoformat(response["data"]["next_run"])
    assert next_run.weekday() == 4
    assert before < next_run <= after + datetime.timedelta(days=7)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "schedule_report data must be a dict, got list"),
        ({"frequency": None}, "schedule_report frequency must be a str, got NoneType"),
        ({"recipients": "ada@example.com"}, "schedule_report recipients must be a list, got str"),
        (
            {"recipients": ["ada@example.com", 7]},
            "schedule_report recipients[1] must be a str, got int",
        ),
        ({"day_of_week": 4}, "schedule_report day_of_week must be a str, got int"),
    ],
)
def test_bad_schedule_data_gives_clear_errors(data: Any, error: str) -> None:
    """Schedule data of the wrong shape gives an 'error' response that names the field."""
    agent = StatusReporterAgent(today=lambda: WEDNESDAY)
    response = agent.respond({"type": "schedule_report", "data": data})
    assert response["status"] == "error"
    assert response["error"] == error


async def test_handle_schedules_a_report() -> None:
    """The actor entry point handle() answers schedule_report."""
    agent = StatusReporterAgent(today=lambda: WEDNESDAY)
    response = await agent.handle({"type": "schedule_report", "data": {"day_of_week": "Sunday"}})
    assert response["agent_id"] == "status_reporter_agent"
    assert response["status"] == "success"
    assert response["data"]["next_run"] == "2024-05-19"
