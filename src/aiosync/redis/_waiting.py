"""How a call waits on Redis, for every aiosync.redis primitive: ask (a script call that
settles the matter or registers the caller as a waiter), then wait for a pushed wake-up
or a bounded re-check, ask again; give up cleanly on timeout or cancellation.

Redis calls made here are shielded: a cancellation never reaches redis-py, which can
swallow one (CPython 3.11's ``asyncio.wait_for`` in its socket code, seen on 3.10 too). It
is raised once the call is over, and the caller's clean-up then undoes what the call got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["BROKEN", "REGISTRATION", "Waiter", "shielded", "wait_on_redis"]

#: How long a waiter's registration (Event, CountdownLatch, Condition) lasts unless renewed
#: (seconds); it asks again, and so renews it, every third of that, which bounds what a
#: lost wake-up costs.
REGISTRATION = 30.0

#: The news of a barrier that broke.
BROKEN = "broken"


class Waiter:
    """What one waiting call hears from its session: ``event`` is set by any news;
    ``news`` is what a message settled (a grant, a signal), ``next_by`` when it was told
    it is next (re-check by then). ``clear()`` before each call to Redis."""

    __slots__ = ("event", "news", "next_by")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.news: Any = None
        self.next_by: float | None = None

    def clear(self) -> None:
        self.event.clear()
        self.news = None
        self.next_by = None

    async def wait(self, until: float, deadline: float | None) -> bool:
        """Wait for news or until ``until`` (loop clock); False if ``deadline`` passed."""
        loop = asyncio.get_running_loop()
        while True:
            end = until if deadline is None else min(until, deadline)
            # Not asyncio.wait_for: before 3.12 it can swallow a cancellation that arrives
            # as the wake-up does (bpo-42130).
            timer = loop.call_later(max(end - loop.time(), 0.0), self.event.set)
            try:
                await self.event.wait()
            finally:
                timer.cancel()
            if self.next_by is not None and self.news is None:
                # Told we are next: someone was granted before us and must confirm within
                # its claim window; look again once it is over (unless woken before).
                until, self.next_by = min(until, self.next_by + 0.05), None
                self.event.clear()
                continue
            return deadline is None or loop.time() < deadline


#: What ``ask`` returns: (settled, result, seconds before asking again if not settled).
Answer = tuple[bool, Any, float]


async def wait_on_redis(
    session: Any,
    waiter_id: str,
    timeout: float | None,
    ask: Callable[[bool], Awaitable[Answer]],
    hear: Callable[[Any], Any],
    give_up: Callable[[], Awaitable[Any]],
) -> Any:
    """Repeat ``ask(register)`` until it settles, and return its result; or ``hear(news)``
    if a message settled it first (messages for ``waiter_id`` reach this call through
    ``session``). None if ``timeout`` ran out: then, as when cancelled, ``give_up()`` has
    undone whatever the calls got. ``register`` is False when ``timeout`` is 0 (only try).
    """
    loop = session.loop
    deadline = None if timeout is None else loop.time() + timeout
    # Expected before the first call: its reply and news of a grant made just after it
    # may arrive in the same loop turn, and news for no one is dropped.
    waiter = session.expect(waiter_id)
    try:
        while True:
            # News that came since the last call is stale: this call sees the state after it.
            waiter.clear()
            settled, result, recheck = await shielded(ask(timeout != 0))
            if settled:
                return result
            if timeout == 0:
                return None
            if not session.listening:
                # News sent before Redis confirmed the subscription went unheard: ask again
                # once it has.
                await shielded(session.listen())
                continue
            in_time = await waiter.wait(loop.time() + recheck, deadline)
            if waiter.news is not None:
                return hear(waiter.news)
            if not in_time:
                await shielded(give_up())
                return None
    except BaseException:
        # Cancelled (or failed) with the outcome of the last call unknown: undo whatever
        # it may have got, even if cancelled again meanwhile.
        await shielded(give_up())
        raise
    finally:
        session.forget(waiter_id)


async def shielded(awaitable: Awaitable[Any]) -> Any:
    """Await ``awaitable`` to the end even if the caller is cancelled meanwhile, then
    re-raise that cancellation: a release or a clean-up must not stop half-way."""
    inner = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        while not inner.done():
            try:
                await asyncio.wait({inner})
            except asyncio.CancelledError:
                continue
        if not inner.cancelled():
            inner.exception()  # retrieved: the cancellation is what the caller hears of
        raise
