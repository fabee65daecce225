"""Restart kinds: which exits lead to a restart."""

from __future__ import annotations

import pytest

from supervisors import Restart


@pytest.mark.parametrize(
    ("restart", "after_crash", "after_normal_exit"),
    [
        (Restart.PERMANENT, True, True),
        (Restart.TRANSIENT, True, False),
        (Restart.TEMPORARY, False, False),
    ],
)
def test_applies(restart: Restart, after_crash: bool, after_normal_exit: bool) -> None:
    """Permanent always restarts, transient only after a crash, temporary never."""
    assert restart.applies(crashed=True) is after_crash
    assert restart.applies(crashed=False) is after_normal_exit
