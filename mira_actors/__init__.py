"""mira-actors: a Trio actor runtime for multi-agent workflows.

The runtime alone: actors, mailboxes, references and errors. Supervisors live in the
``supervisors`` package and the MIRA agents in ``mira_actors.agents``.
"""

from ._actor import Actor as Actor
from ._budget import DeadlineExceededError as DeadlineExceededError
from ._budget import check_deadline as check_deadline
from ._budget import time_left as time_left
from ._budget import wall_clock_deadline as wall_clock_deadline
from ._deadlines import current_deadline as current_deadline
from ._exceptions import ActorCrashedError as ActorCrashedError
from ._exceptions import ActorStoppedError as ActorStoppedError
from ._exceptions import AskCycleError as AskCycleError
from ._exceptions import MailboxFullError as MailboxFullError
from ._exceptions import MiraError as MiraError
from ._headers import request_headers as request_headers
from ._headers import using_headers as using_headers
from ._mailbox import DEFAULT_CAPACITY as DEFAULT_CAPACITY
from ._mailbox import Mailbox as Mailbox
from ._mailbox import MailboxStatistics as MailboxStatistics
from ._ref import ActorRef as ActorRef
from ._runner import open_actor as open_actor
from ._runner import run_actor as run_actor
from ._safe_repr import SAFE_REPR_LIMIT as SAFE_REPR_LIMIT
from ._safe_repr import exception_text as exception_text
from ._safe_repr import safe_repr as safe_repr
from ._safe_repr import safe_str as safe_str

__all__ = [
    "DEFAULT_CAPACITY",
    "SAFE_REPR_LIMIT",
    "Actor",
    "ActorCrashedError",
    "ActorRef",
    "ActorStoppedError",
    "AskCycleError",
    "DeadlineExceededError",
    "Mailbox",
    "MailboxFullError",
    "MailboxStatistics",
    "MiraError",
    "check_deadline",
    "current_deadline",
    "exception_text",
    "open_actor",
    "request_headers",
    "run_actor",
    "safe_repr",
    "safe_str",
    "time_left",
    "using_headers",
    "wall_clock_deadline",
]
