"""Serving the web view on trio: hypercorn's trio worker, owned by an ``async with`` block."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import cast

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from hypercorn.typing import Framework

from supervisors import LedgerStore, WorkflowSupervisor

from ._actions import Actions
from ._app import create_app

logger = logging.getLogger("mira_actors.web")

# How long open connections get to finish when the server stops (live streams end at once).
GRACE = 1.0
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


class NonLoopbackError(ValueError):
    """Raised when asked to listen beyond this machine without saying so explicitly."""


@attrs.frozen(kw_only=True)
class WebServer:
    """A running web view.

    Attributes:
        url: Where it listens, for example 'http://127.0.0.1:8000' (the real port when
            0 was asked for).
        allow_actions: Whether it offers the actions.
    """

    url: str
    allow_actions: bool


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or 'localhost') is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, *, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless ``allow_remote``.

    Raises:
        NonLoopbackError: ``host`` reaches beyond this machine and ``allow_remote`` is off.
    """
    if not is_loopback(host) and not allow_remote:
        msg = (
            f"refusing to listen on {host!r}: it is not a loopback address, and the web view "
            "shows every run's steps and errors; pass --allow-remote (allow_remote=True) "
            "if other machines should reach it"
        )
        raise NonLoopbackError(msg)


def _listening_socket(host: str, port: int) -> int:
    """Bind ``host:port`` and return the socket's file descriptor, for hypercorn to own.

    Bound here rather than by hypercorn, whose binding leaves its socket unclosed when
    the address is taken.
    """
    address = host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except BaseException:
        sock.close()
        raise
    return sock.detach()


@asynccontextmanager
async def serve(
    source: WorkflowSupervisor | LedgerStore,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_actions: bool = False,
    allow_remote: bool = False,
) -> AsyncIterator[WebServer]:
    """Serve the web view of ``source`` for the body of an ``async with``.

    ``source`` is a live system (``orchestrator.running()`` yields one): the pages show
    its store's runs, its actors and its runs in flight. Or it is a store alone: the
    pages show its runs. The server binds 127.0.0.1 by default. It is read-only unless
    ``allow_actions`` (resume and cancel), which needs a live system to run the
    resumes. It stops with the block: its connections and any resume it started are
    cancelled.

    Usage::

        async with orchestrator.running() as system:
            async with serve(system, port=8000) as server:
                print("open", server.url)
                await trio.sleep_forever()

    Raises:
        NonLoopbackError: ``host`` is not a loopback address and ``allow_remote`` is off.
        ValueError: ``allow_actions`` without a live system.
        OSError: the address cannot be bound (the port is taken, say).
    """
    check_host(host, allow_remote=allow_remote)
    system = source if isinstance(source, WorkflowSupervisor) else None
    store = source.store if isinstance(source, WorkflowSupervisor) else source
    if allow_actions and system is None:
        msg = "actions resume runs, which needs a live system: serve(system, ...)"
        raise ValueError(msg)
    config = Config()
    config.accesslog = None
    config.errorlog = logger
    config.graceful_timeout = GRACE
    closing = trio.Event()
    # Bound before the nurseries, so a taken port raises OSError itself, not in a group.
    config.bind = [f"fd://{_listening_socket(host, port)}"]
    async with trio.open_nursery() as nursery, trio.open_nursery() as background:
        actions = None
        if allow_actions:
            assert system is not None
            actions = Actions(system, background)
        app = create_app(
            store,
            system=system,
            actions=actions,
            closing=closing,
            allowed_hosts=LOOPBACK_NAMES if is_loopback(host) else None,
        )
        binds: list[str] = await nursery.start(
            # Starlette's ASGI types are looser than hypercorn's: the same protocol.
            partial(hypercorn_serve, cast(Framework, app), config, shutdown_trigger=closing.wait)
        )
        try:
            yield WebServer(url=binds[0], allow_actions=allow_actions)
        finally:
            background.cancel_scope.cancel()  # resumes started here end with the server
            closing.set()  # live streams end, and the server stops taking requests
            nursery.cancel_scope.deadline = min(
                nursery.cancel_scope.deadline, trio.current_time() + 2 * GRACE
            )
