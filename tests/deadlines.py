"""The grace the README states for answers at a deadline, for real-time tests to assert."""

from __future__ import annotations

GRACE = 0.05
"""Seconds a response may come after its deadline (README, "Deadlines under strain")."""

ATTEMPTS = 5
"""How many times a real-time lateness is measured; the best one is held to GRACE.

On a shared machine one measurement can lose the CPU for longer than the grace; a
runtime that is late by design (a store waiting for a lock, a loop held by a big step)
is late every time, so the best of a few still catches it.
"""
