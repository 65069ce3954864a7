"""Helpers shared by the parity and regression tests.

A scenario is an ``async def`` taking an :class:`Impl` (the set of classes under test:
asyncio's or aiosync's) and returning a trace: a list of tuples recording what the tasks
observed, in order. Running one scenario against both implementations and comparing the
traces is a differential test.

Everything is ordered with ``asyncio.sleep(0)`` steps, never with wall-clock time; the only
timeout is a generous guard that turns a deadlock into a failure instead of a hang.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosync
import aiosync.threadsafe

__all__ = [
    "AIOSYNC",
    "ASYNCIO",
    "GUARD",
    "Impl",
    "Trace",
    "exc_name",
    "outcome",
    "run",
    "settle",
    "step",
]

T = TypeVar("T")

#: Seconds after which a scenario is considered deadlocked.
GUARD = 10.0

#: Python version whose asyncio is the reference behaviour.
REFERENCE = (3, 13)


@dataclass(frozen=True)
class Impl:
    """The synchronization classes of one implementation."""

    name: str
    Lock: Any
    Event: Any
    Condition: Any
    Semaphore: Any
    BoundedSemaphore: Any
    Barrier: Any  # None for asyncio on Python 3.10
    BrokenBarrierError: Any

    def __repr__(self) -> str:
        return self.name


ASYNCIO = Impl(
    "asyncio",
    asyncio.Lock,
    asyncio.Event,
    asyncio.Condition,
    asyncio.Semaphore,
    asyncio.BoundedSemaphore,
    getattr(asyncio, "Barrier", None),
    getattr(asyncio, "BrokenBarrierError", None),
)

AIOSYNC = Impl(
    "aiosync",
    aiosync.Lock,
    aiosync.Event,
    aiosync.Condition,
    aiosync.Semaphore,
    aiosync.BoundedSemaphore,
    aiosync.Barrier,
    aiosync.BrokenBarrierError,
)


THREADSAFE = Impl(
    "threadsafe",
    aiosync.threadsafe.Lock,
    aiosync.threadsafe.Event,
    aiosync.threadsafe.Condition,
    aiosync.threadsafe.Semaphore,
    aiosync.threadsafe.BoundedSemaphore,
    aiosync.threadsafe.Barrier,
    aiosync.threadsafe.BrokenBarrierError,
)

#: aiosync's implementations of asyncio's primitives: the single-loop classes, and the
#: thread-safe ones, whose async face must behave the same.
AIOSYNC_IMPLS = (AIOSYNC, THREADSAFE)


def asyncio_matches(since: tuple[int, ...] = (3, 10), *, barrier: bool = False) -> bool:
    """Whether this Python's asyncio can serve as the reference for a scenario.

    ``since`` is the first Python version whose asyncio behaves as 3.13's does in that
    scenario (older ones have bugs fixed since); ``barrier`` scenarios also need
    ``asyncio.Barrier`` (3.11+).
    """
    if barrier and ASYNCIO.Barrier is None:
        return False
    return sys.version_info[: len(since)] >= since


class Trace(list):  # type: ignore[type-arg]
    """A list of events; ``trace("got", "A")`` appends ``("got", "A")``."""

    def __call__(self, *event: Any) -> None:
        self.append(event)


def run(fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = GUARD) -> T:
    """Run ``fn(*args)`` in a fresh event loop, failing if it takes longer than ``timeout``."""

    async def main() -> T:
        return await asyncio.wait_for(fn(*args), timeout)

    return asyncio.run(main())


async def step(n: int = 1) -> None:
    """Let the event loop run ``n`` iterations."""
    for _ in range(n):
        await asyncio.sleep(0)


async def settle() -> None:
    """Run the loop until every task that can make progress has (generously)."""
    await step(50)


def exc_name(exc: BaseException) -> str:
    return type(exc).__name__


def outcome(task: asyncio.Task[Any]) -> str:
    """A task's state as a short string: pending / cancelled / raised X / returned r."""
    if not task.done():
        return "pending"
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is not None:
        return f"raised {exc_name(exc)}"
    return f"returned {task.result()!r}"
