"""Behaviour shared by the acquire/release primitives: ``timeout=``, ``async with``, repr."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = [
    "Acquirable",
    "AcquireContext",
    "TaskOwned",
    "calling_task",
    "describe",
    "name_of",
    "positive_number",
    "running_task",
]

# The task that each running loop is running, by loop. Looking a task up here is one dict
# access, where asyncio.current_task() costs a getpid() system call before Python 3.12.
_running_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = getattr(
    asyncio.tasks, "_current_tasks", None
)


def _current_task_anywhere(loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


#: ``running_task(loop)``: the task ``loop`` is running right now, if any; cheap on every
#: Python (a C dict lookup where the interpreter offers one).
running_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = (
    _running_tasks.get if _running_tasks is not None else _current_task_anywhere
)


def calling_task(primitive: object) -> asyncio.Task[Any]:
    """The task calling into ``primitive``, which owns what it acquires.

    RuntimeError outside a task: holds of an owned primitive belong to tasks.
    """
    try:
        task = running_task(asyncio.get_running_loop())
    except RuntimeError:
        task = None
    if task is None:
        raise RuntimeError(f"{primitive!r} must be used from inside an asyncio task")
    return task


class TaskOwned:
    """For primitives whose holds belong to tasks: who is calling, cheaply."""

    __slots__ = ()

    # The loop of the last task that called in, where to look the caller up with one dict
    # access; a subclass declares the slot.
    _home: asyncio.AbstractEventLoop | None

    def _caller(self) -> asyncio.Task[Any]:
        """The calling task; RuntimeError outside a task."""
        if self._home is not None and (task := running_task(self._home)) is not None:
            return task
        task = calling_task(self)
        self._home = task.get_loop()  # type: ignore[misc]  # slot declared by the subclass
        return task


def positive_number(name: str, value: object) -> float:
    """Validate a positive finite real number (not bool or str); return it as a float."""
    # Any real number (int, float, Fraction, Decimal, numpy scalars); not bool or str.
    if isinstance(value, bool) or not hasattr(type(value), "__float__"):
        raise TypeError(f"{name} must be a number, not {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if not 0 < number < math.inf:
        raise ValueError(f"{name} must be a positive finite number, not {value!r}")
    return number


def whole_number(name: str, value: object, minimum: int) -> int:
    """Validate an int (not bool) of at least ``minimum``; return it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value!r}")
    return value


def name_of(owner: Any) -> str:
    """How an owner reads in messages: a task's name, or (thread-safe classes) a thread's."""
    get_name = getattr(owner, "get_name", None)
    return get_name() if get_name is not None else str(owner.name)


def describe(obj: object, state: str, waiting: int) -> str:
    """The repr shared by all primitives: asyncio's shape, ``<... [state, waiters:N]>``."""
    cls = type(obj)
    extra = f"{state}, waiters:{waiting}" if waiting else state
    return f"<{cls.__module__}.{cls.__qualname__} object at {id(obj):#x} [{extra}]>"


class AcquireContext:
    """``async with x`` as ``await x.acquire()`` ... ``x.release()``, giving None."""

    __slots__ = ()

    async def acquire(self, timeout: float | None = None) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Acquirable(ParkingLot):
    """``acquire(timeout=)`` for a primitive with a non-blocking ``_try_acquire()``; a
    parked acquirer is granted by the ``_resumed`` hook. (Each subclass writes its own
    ``async with``, its hottest path, with the same rules inlined.)

    ``timeout=0`` only tries: it succeeds where ``_try_acquire`` does, so it never overtakes
    a task already queued.
    """

    __slots__ = ()

    def _try_acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire, waiting in FIFO order; return True.

        With ``timeout`` (seconds), give up after that long and return False, holding
        nothing and leaving no waiter behind; ``timeout=0`` never blocks.
        """
        if timeout is None:
            if not self._try_acquire():
                await self._park()
            return True
        timeout = check_timeout(timeout)
        if self._try_acquire():
            return True
        if timeout == 0:
            return False
        return await self._park(timeout) is not TIMED_OUT
