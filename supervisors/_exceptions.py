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
            f"supervisor {supervisor!r} gave up: more than {max_restarts} restarts within "
            f"{within} seconds, the last after actor {child!r} crashed; fix the crash or "
            "raise max_restarts"
        )
