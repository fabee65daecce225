"""The errors supervisors raise."""

from __future__ import annotations

from mira_actors import MiraError


class RestartIntensityError(MiraError):
    """Raised when a child crashes more often than the supervisor's intensity allows.

    The last crash is the ``__cause__``.
    """

    def __init__(self, supervisor: str, child: str, max_restarts: int, within: float) -> None:
        self.supervisor = supervisor
        self.child = child
        super().__init__(
            f"supervisor {supervisor!r} gave up: actor {child!r} needed more than "
            f"{max_restarts} restarts within {within} seconds; fix the crash or raise "
            "max_restarts"
        )
