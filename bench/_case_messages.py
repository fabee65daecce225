"""Cases 1 and 2: tell throughput and ask round trips, one actor, against raw trio and pykka."""

from __future__ import annotations

from typing import Any

import trio

from mira_actors import DEFAULT_CAPACITY, Actor
from supervisors import open_supervisor

from . import _pykka_refs, _raw_trio
from ._harness import now, run_interleaved
from ._results import CaseResult, Metric, ratio_metric
from ._sizes import Sizes


class _Counter(Actor):
    """Counts the messages it handles and sets ``done`` at the ``n``-th."""

    def __init__(self, n: int, done: trio.Event) -> None:
        self.n = n
        self.count = 0
        self.done = done

    async def handle(self, message: Any) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


class _Echo(Actor):
    """Replies with the message it received."""

    async def handle(self, message: Any) -> Any:
        return message


async def ours_tell(n: int) -> float:
    """Tell ``n`` messages to one supervised actor; return seconds until all are handled."""
    done = trio.Event()
    async with open_supervisor(name="bench") as supervisor:
        ref = await supervisor.spawn(_Counter, n, done, name="counter")
        start = now()
        for i in range(n):
            await ref.tell(i)
        await done.wait()
        return now() - start


async def ours_ask(n: int) -> float:
    """Make ``n`` sequential asks to one supervised actor; return the seconds they took."""
    async with open_supervisor(name="bench") as supervisor:
        ref = await supervisor.spawn(_Echo, name="echo")
        start = now()
        for i in range(n):
            if await ref.ask(i) != i:
                msg = f"ask got the wrong reply for {i!r}"
                raise AssertionError(msg)
        return now() - start


def tell_case(sizes: Sizes) -> CaseResult:
    """Case 1: tell throughput to one actor vs a raw channel and pykka's tell."""
    n = sizes.tells
    samples = run_interleaved(
        {
            "ours": lambda: {"rate": n / trio.run(ours_tell, n)},
            "raw": lambda: {"rate": n / trio.run(_raw_trio.channel_tell, n, DEFAULT_CAPACITY)},
            "pykka": lambda: {"rate": n / _pykka_refs.pykka_tell(n)},
        },
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    rate = {name: quantities["rate"] for name, quantities in samples.items()}
    return CaseResult(
        number=1,
        title=f"tell throughput ({n:,} messages to one actor)",
        metrics=[
            Metric(
                key="tell.ours",
                label="mira-actors tell",
                unit="msg/s",
                samples=rate["ours"],
                better="higher",
            ),
            Metric(
                key="tell.raw",
                label="raw memory channel, await send",
                unit="msg/s",
                samples=rate["raw"],
                better="higher",
            ),
            Metric(
                key="tell.pykka",
                label="pykka tell",
                unit="msg/s",
                samples=rate["pykka"],
                better="higher",
            ),
            ratio_metric(
                "tell.ratio.raw",
                "tell / raw channel",
                rate["ours"],
                rate["raw"],
                better="higher",
                target=2.0,
            ),
            ratio_metric(
                "tell.ratio.pykka",
                "tell / pykka tell",
                rate["ours"],
                rate["pykka"],
                better="higher",
                target=3.0,
            ),
        ],
        notes=[
            "Throughput = messages / seconds from the first send until the actor has "
            f"handled the last; mailbox and raw channel both hold {DEFAULT_CAPACITY}.",
        ],
    )


def ask_case(sizes: Sizes) -> CaseResult:
    """Case 2: sequential ask round trips vs raw trio Event-and-slot and pykka's ask."""
    n = sizes.asks
    samples = run_interleaved(
        {
            "ours": lambda: {"rate": n / trio.run(ours_ask, n)},
            "raw": lambda: {"rate": n / trio.run(_raw_trio.event_slot_ask, n, DEFAULT_CAPACITY)},
            "pykka": lambda: {"rate": n / _pykka_refs.pykka_ask(n)},
        },
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    rate = {name: quantities["rate"] for name, quantities in samples.items()}
    return CaseResult(
        number=2,
        title=f"ask round trips ({n:,} sequential)",
        metrics=[
            Metric(
                key="ask.ours",
                label="mira-actors ask",
                unit="asks/s",
                samples=rate["ours"],
                better="higher",
            ),
            Metric(
                key="ask.raw",
                label="raw trio Event and result slot",
                unit="asks/s",
                samples=rate["raw"],
                better="higher",
            ),
            Metric(
                key="ask.pykka",
                label="pykka ask",
                unit="asks/s",
                samples=rate["pykka"],
                better="higher",
            ),
            ratio_metric(
                "ask.ratio.raw",
                "ask / raw Event-and-slot",
                rate["ours"],
                rate["raw"],
                better="higher",
                target=0.9,
            ),
            ratio_metric(
                "ask.ratio.pykka",
                "ask / pykka ask",
                rate["ours"],
                rate["pykka"],
                better="higher",
                target=5.0,
            ),
        ],
        notes=["One asker, one actor that echoes; each ask waits for its reply."],
    )
