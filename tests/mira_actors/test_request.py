"""Request: the reply slot of an ask, and how an asker that gives up waits for unwinding."""

from __future__ import annotations

import math

import pytest
import trio
import trio.lowlevel

from mira_actors._request import Request


async def test_wait_returns_the_reply_or_raises_the_error() -> None:
    """wait returns what reply delivered, or raises what fail delivered."""
    replied, failed = Request("q", math.inf), Request("q", math.inf)
    replied.reply(42)
    failed.fail(KeyError("k"))
    assert await replied.wait() == 42
    with pytest.raises(KeyError):
        await failed.wait()


async def test_a_queued_request_is_abandoned_at_once(autojump_clock: trio.abc.Clock) -> None:
    """An asker cancelled while its request is still queued leaves at once, marking it abandoned."""
    request = Request("q", math.inf)
    with trio.move_on_after(1):
        await request.wait()
    assert trio.current_time() == 1
    assert request.abandoned


async def test_an_asker_waits_for_the_running_handler_to_unwind(
    autojump_clock: trio.abc.Clock,
) -> None:
    """An asker cancelled while its request runs cancels the handler and resumes once answered."""
    request = Request("q", math.inf)
    events: list[tuple[str, float]] = []

    async def handler() -> None:
        with trio.CancelScope() as scope:
            request.scope = scope
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    await trio.sleep(2)  # a slow cleanup
                events.append(("unwound", trio.current_time()))
                request.fail(trio.TooSlowError())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler)
        await trio.lowlevel.checkpoint()
        with trio.move_on_after(1):
            await request.wait()
        events.append(("asker resumed", trio.current_time()))
    assert events == [("unwound", 3), ("asker resumed", 3)]


async def test_expired_compares_the_deadline_with_trio_time(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A request expires once trio's clock reaches its deadline; inf never expires."""
    request, forever = Request("q", 2.0), Request("q", math.inf)
    assert not request.expired()
    await trio.sleep(2)
    assert request.expired()
    assert not forever.expired()
