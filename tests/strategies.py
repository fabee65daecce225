"""Hypothesis strategies for what a careless or hostile caller sends."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st


def nested(depth: int, leaf: Any = "x") -> Any:
    """``leaf`` inside ``depth`` lists."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


class RaisingRepr:
    """A value whose repr and str raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


# Built by map, so that no strategy's repr holds them (Python will not print 10**5000).
HUGE_INTS = st.sampled_from([400, 5000, -400]).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    HUGE_INTS,
)

json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)

# Anything small enough to stay on the trio thread: JSON-like values, very deep ones,
# and objects no store keeps.
small_values = st.one_of(
    json_like,
    st.integers(min_value=100, max_value=5_000).map(nested),
    st.builds(object),
    st.builds(RaisingRepr),
    st.frozensets(st.integers(), max_size=3),
)
# A 1 MB string or a 100,000-item list: an agent's step on either runs in a worker thread,
# in real time, so tests that draw them cannot run on the autojump clock.
big_values = st.sampled_from(["x", 0]).map(
    lambda item: item * 1_000_000 if item else [0] * 100_000
)
values = small_values | big_values

MESSAGE_TYPES = [
    "workflow",
    "generate_plan",
    "update_plan",
    "assess_risks",
    "update_risk",
    "generate_report",
    "schedule_report",
]

workflow_data = st.one_of(
    values,
    st.fixed_dictionaries(
        {"workflow_type": st.just("project_initialization") | values},
        optional={"data": values},
    ),
)

messages = st.one_of(
    values,  # not a message at all
    st.fixed_dictionaries({"type": st.sampled_from(MESSAGE_TYPES) | values, "data": values}),
    st.fixed_dictionaries({"type": st.just("workflow"), "data": workflow_data}),
    st.dictionaries(st.sampled_from(["type", "data", "kind"]), values, max_size=2),
)

timeouts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=10**6),
    HUGE_INTS,
    st.text(max_size=4),
    st.none(),
    st.booleans(),
)


def is_valid_timeout(timeout: Any) -> bool:
    """Whether ``timeout`` is a number of seconds a run accepts (0 to inf, within a float)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return False
    if isinstance(timeout, int) and abs(timeout) > 2**1023:
        return False
    return not math.isnan(timeout) and timeout >= 0
