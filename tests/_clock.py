"""Fake-clock helpers shared by the unit tests of the newer primitives.

Tests run their ``main()`` with ``run()`` on a ``FakeClockLoop``: time only moves when every
task is blocked, and then jumps to the next timer, so timeouts are exact and instant. Import
with ``from _clock import ...`` (``tests/`` is on ``sys.path`` under pytest, as for
``_scenarios``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class FakeClockLoop(asyncio.SelectorEventLoop):
    """A selector loop whose clock jumps to the next timer whenever nothing is ready.

    The clock is the attribute ``now`` (starting at 0.0); a test may set it to move time by
    hand. If nothing is ready and no timer is pending, the loop raises ``RuntimeError``
    ("stalled") instead of blocking forever.

    With ``lateness``, each jump overshoots the timer by ``lateness()`` seconds: every timer
    (the primitive's and ``asyncio.sleep``'s alike) then fires late.
    """

    def __init__(self, lateness: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.now = 0.0
        self.lateness = lateness

    def time(self) -> float:
        return self.now

    def _run_once(self) -> None:
        if not self._ready:  # type: ignore[attr-defined]
            whens = [h.when() for h in self._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
            if not whens:
                raise RuntimeError("stalled: nothing runnable and no timer pending")
            target = min(whens) + (self.lateness() if self.lateness else 0.0)
            self.now = max(self.now, target)
        super()._run_once()  # type: ignore[misc]


def run(coro: Coroutine[Any, Any, T], lateness: Callable[[], float] | None = None) -> T:
    """Run ``coro`` to its end on a fresh ``FakeClockLoop`` (``lateness`` as there) and
    return its result; then cancel and await the tasks still pending, and close the loop."""
    loop = FakeClockLoop(lateness)
    try:
        return loop.run_until_complete(coro)
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def now() -> float:
    """The running loop's (fake) time."""
    return asyncio.get_running_loop().time()


def live_timers() -> list[asyncio.TimerHandle]:
    """The running loop's scheduled timers that are not cancelled."""
    loop = asyncio.get_running_loop()
    return [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]


async def settle(n: int = 5) -> None:
    """Yield to the loop ``n`` times, so that the other ready tasks run (no time passes)."""
    for _ in range(n):
        await asyncio.sleep(0)


def no_block(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end in one step; fail if it suspends (i.e. would block)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the call suspended instead of returning at once")


async def fire_due_timers_only(until: float) -> None:
    """Move the fake clock to ``until`` and fire the timers due by then, returning to the
    caller before the tasks those timers woke have run."""
    loop = asyncio.get_running_loop()
    loop.now = until  # type: ignore[attr-defined]
    await asyncio.sleep(0)  # the timers' callbacks are queued behind this task
    await asyncio.sleep(0)  # ... and have now run; the tasks they woke have not
