"""Case 6 in a fresh process: spawn N idle actors (or raw tasks), measure, shut down.

Run as ``python -m bench._scale_worker --kind supervisor --n 100000``; prints one JSON
object: ``spawn_seconds``, ``rss_bytes`` (the VmRSS growth while they were alive),
``bytes_per_task`` and ``shutdown_seconds``. One process per measurement, so that
memory freed by one kind is not reused by the next.
"""

from __future__ import annotations

import argparse
import gc
import json
from typing import Any

import trio

from mira_actors import DEFAULT_CAPACITY, Actor, Mailbox, run_actor
from supervisors import open_supervisor

from ._case_scale import KINDS
from ._harness import Sample, now


def rss_bytes() -> int:
    """Return this process's resident set size (VmRSS in /proc/self/status), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    msg = "no VmRSS line in /proc/self/status"
    raise RuntimeError(msg)


class Idle(Actor):
    """An actor that waits for messages that never come."""

    async def handle(self, message: Any) -> Any:
        return message


async def _supervised(n: int) -> Sample:
    """``Supervisor.spawn``: what users of the runtime write."""
    async with open_supervisor(name="scale") as supervisor:
        base = _settled_rss()
        start = now()
        for i in range(n):
            await supervisor.spawn(Idle, name=f"idle-{i}")
        spawned = now() - start
        grown = _settled_rss() - base
        start = now()
    return _sample(n, spawned, grown, now() - start)


async def _mailboxes(n: int) -> Sample:
    """``run_actor`` with a ``Mailbox``, each started in a plain nursery."""
    mailboxes = []
    async with trio.open_nursery() as nursery:
        base = _settled_rss()
        start = now()
        for i in range(n):
            mailbox = Mailbox(f"idle-{i}")
            await nursery.start(run_actor, Idle(), mailbox)
            mailboxes.append(mailbox)
        spawned = now() - start
        grown = _settled_rss() - base
        start = now()
        for mailbox in mailboxes:
            mailbox.close()
    return _sample(n, spawned, grown, now() - start)


async def _raw_tasks(n: int) -> Sample:
    """Raw trio tasks, each blocked receiving on its own memory channel."""
    senders = []
    running = 0
    all_running = trio.Event()

    async def wait_on(receive: trio.MemoryReceiveChannel[Any]) -> None:
        nonlocal running
        running += 1
        if running == n:
            all_running.set()
        async with receive:
            async for _ in receive:
                pass

    async with trio.open_nursery() as nursery:
        base = _settled_rss()
        start = now()
        for _ in range(n):
            send, receive = trio.open_memory_channel[Any](DEFAULT_CAPACITY)
            nursery.start_soon(wait_on, receive)
            senders.append(send)
        await all_running.wait()
        spawned = now() - start
        grown = _settled_rss() - base
        start = now()
        for send in senders:
            send.close()
    return _sample(n, spawned, grown, now() - start)


def _settled_rss() -> int:
    gc.collect()
    return rss_bytes()


def _sample(n: int, spawned: float, grown: int, shutdown: float) -> Sample:
    return {
        "spawn_seconds": spawned,
        "spawn_rate": n / spawned,
        "rss_bytes": float(grown),
        "bytes_per_task": grown / n,
        "shutdown_seconds": shutdown,
    }


RUNNERS = {"supervisor": _supervised, "mailbox": _mailboxes, "raw": _raw_tasks}


def measure(kind: str, n: int) -> Sample:
    """Measure ``n`` idle actors (or raw tasks) of ``kind`` in this process."""
    if kind not in RUNNERS:
        msg = f"kind must be one of {', '.join(KINDS)}, got {kind!r}"
        raise ValueError(msg)
    if n < 1:
        msg = f"n must be >= 1, got {n}"
        raise ValueError(msg)
    return trio.run(RUNNERS[kind], n)


def main(argv: list[str] | None = None) -> None:
    """Parse ``--kind`` and ``--n``, measure, and print the sample as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench._scale_worker")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--n", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.kind, args.n)))


if __name__ == "__main__":
    main()
