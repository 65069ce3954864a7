"""Behaviour shared by the acquire/release primitives: ``timeout=`` and ``async with``."""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType
from typing import Any

from ._parking import check_timeout

__all__ = ["Acquirable", "current_task", "describe"]

if sys.version_info >= (3, 12):
    current_task = asyncio.current_task
else:  # asyncio.current_task is written in Python before 3.12, and costs 6x more.
    from asyncio import tasks
    from asyncio.events import _get_running_loop

    _current_tasks_get = tasks._current_tasks.get  # type: ignore[attr-defined]

    def current_task(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[Any] | None:
        task: asyncio.Task[Any] | None = _current_tasks_get(loop or _get_running_loop())
        return task


def describe(obj: object, state: str, waiting: int) -> str:
    """The repr shared by all primitives: asyncio's shape, ``<... [state, waiters:N]>``."""
    cls = type(obj)
    extra = f"{state}, waiters:{waiting}" if waiting else state
    return f"<{cls.__module__}.{cls.__qualname__} object at {id(obj):#x} [{extra}]>"


class Acquirable:
    """``acquire(timeout=)`` and ``async with`` for a primitive that has a non-blocking
    ``_try_acquire()`` and a parking ``_acquire_parked(timeout)``.

    ``timeout=0`` only tries: it succeeds where ``_try_acquire`` does, so it never overtakes
    a task already queued. ``async with`` returns None, as asyncio's primitives do.
    """

    __slots__ = ()

    def _try_acquire(self) -> bool:
        raise NotImplementedError

    async def _acquire_parked(self, timeout: float | None) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire, waiting in FIFO order; return True.

        With ``timeout`` (seconds), give up after that long and return False, holding
        nothing and leaving no waiter behind; ``timeout=0`` never blocks.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
            if self._try_acquire():
                return True
            if timeout == 0:
                return False
            return await self._acquire_parked(timeout)
        if self._try_acquire():
            return True
        return await self._acquire_parked(None)

    async def __aenter__(self) -> None:
        if not self._try_acquire():
            await self._acquire_parked(None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
