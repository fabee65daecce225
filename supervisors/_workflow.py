"""Workflows as data: named sequences of steps, each an ask to the agent of a message type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ._ledger import Status
from ._retry import RetryPolicy

InputBuilder = Callable[[Any, Mapping[str, Any]], Any]
"""Builds a step's message data from the workflow data and earlier steps' results."""


def _check_name(instance: Any, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str):
        msg = f"{attribute.name} must be a non-empty str, got {type(value).__name__}"
        raise TypeError(msg)
    if not value:
        msg = f"{attribute.name} must be a non-empty str, got {value!r}"
        raise ValueError(msg)


def _check_timeout(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"a step timeout must be a number of seconds, got {type(value).__name__}"
        raise TypeError(msg)
    if not value >= 0:
        msg = f"a step timeout must be non-negative, got {value}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class Step:
    """One step: send ``{'type': message_type, 'data': build_input(data, results)}``.

    Attributes:
        name: The step's name, unique in its workflow; it names the step in responses.
        message_type: The message type sent; it decides which agent serves the step.
        build_input: ``(workflow data, results by step name) -> message data``; the
            default sends the workflow data unchanged.
        timeout: Seconds each attempt may take (None: only the workflow's deadline).
            The step runs under the earlier of this and the workflow's deadline.
        retry: When a failed attempt is tried again (None: the run's default policy).
        optional: Whether the run goes on without this step when it fails for good.
    """

    name: str = attrs.field(validator=_check_name)
    message_type: str = attrs.field(validator=_check_name)
    build_input: InputBuilder = attrs.field(
        default=lambda data, results: data, validator=attrs.validators.is_callable()
    )
    timeout: float | None = attrs.field(default=None, validator=_check_timeout)
    retry: RetryPolicy | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(RetryPolicy))
    )
    optional: bool = False


def _to_steps(steps: Iterable[Step]) -> tuple[Step, ...]:
    return tuple(steps)


@attrs.frozen(kw_only=True)
class Parallel:
    """Steps run at once in one nursery; the group completes when all of them have.

    A member that fails for good (and is not optional) cancels its siblings. Members see
    the results of the steps before the group, not of each other.

    Attributes:
        name: The group's name (for errors; each member keeps its own name).
        steps: The member steps.
    """

    name: str = attrs.field(validator=_check_name)
    steps: tuple[Step, ...] = attrs.field(converter=_to_steps)

    @steps.validator
    def _check_steps(self, attribute: attrs.Attribute[tuple[Step, ...]], steps: Any) -> None:
        if not steps or not all(isinstance(s, Step) for s in steps):
            msg = f"parallel group {self.name!r} needs a non-empty sequence of Step"
            raise TypeError(msg)


def _to_tuple(steps: Iterable[Step | Parallel]) -> tuple[Step | Parallel, ...]:
    return tuple(steps)


@attrs.frozen(kw_only=True)
class Workflow:
    """A named sequence of steps and parallel groups, run in order; a failed step ends the run.

    Usage::

        onboarding = Workflow(name="plan_only", steps=[Step(name="plan",
                                                            message_type="generate_plan")])
    """

    name: str = attrs.field(validator=_check_name)
    steps: tuple[Step | Parallel, ...] = attrs.field(converter=_to_tuple)

    @property
    def step_names(self) -> list[str]:
        """Every step's name, group members included, in definition order."""
        return [s.name for item in self.steps for s in _members(item)]

    @steps.validator
    def _check_steps(self, attribute: attrs.Attribute[tuple[Step, ...]], steps: Any) -> None:
        if not all(isinstance(s, Step | Parallel) for s in steps):
            msg = f"workflow {self.name!r} needs a non-empty sequence of Step, got {steps!r}"
            raise TypeError(msg)
        if not steps:
            msg = f"workflow {self.name!r} needs a non-empty sequence of Step, got {steps!r}"
            raise ValueError(msg)
        names = self.step_names
        if len(set(names)) != len(names):
            msg = f"workflow {self.name!r} has duplicate step names: {names}"
            raise ValueError(msg)


def _members(item: Step | Parallel) -> tuple[Step, ...]:
    return item.steps if isinstance(item, Parallel) else (item,)


def read_agent_reply(reply: Any) -> tuple[str, Any, str | None]:
    """Read an agent's reply as ``(status, result, error)``.

    Agents answer ``{'status', 'data', 'error', ...}``: any status but 'success' is a
    failure. A reply of any other shape is a successful result as it stands.
    """
    if isinstance(reply, Mapping) and "status" in reply:
        status = reply["status"]
        if status == Status.SUCCESS:
            return Status.SUCCESS, reply.get("data"), None
        # The explanation quotes what the agent answered, even a status that is not a str.
        error = str(reply.get("error") or f"the agent answered {status!r}")
        return status if isinstance(status, str) else Status.ERROR, reply.get("data"), error
    return Status.SUCCESS, reply, None
