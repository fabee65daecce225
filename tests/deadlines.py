"""The grace the README states for answers at a deadline, for real-time tests to assert."""

from __future__ import annotations

GRACE = 0.05
"""Seconds a response may come after its deadline (README, "Deadlines under strain")."""
