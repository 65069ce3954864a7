"""Semaphore and BoundedSemaphore on Redis: ``value`` permits shared by every process."""

from __future__ import annotations

from typing import Any

from .._base import whole_number
from ._permits import Leased, Permits

__all__ = ["BoundedSemaphore", "Semaphore"]

_PERMIT = "permit"


class Semaphore(Leased):
    """``value`` permits shared through Redis by every process that uses the same ``name``.

    The guarantees of aiosync.redis.Lock, per permit: FIFO across processes (a waiter is
    served once a permit is free and everyone before it was served), each permit a lease
    renewed by the watchdog, with its own fencing token (``token``: the calling task's
    latest), a lost permit surfaced as LockLostError. A permit belongs to the task that
    acquired it; a task may hold several, and ``release()`` gives back its latest.

    Unlike asyncio.Semaphore, ``release()`` by a task that holds no permit is an error
    (RuntimeError here, ValueError for BoundedSemaphore, like asyncio's): on Redis a permit
    is a lease owned by its acquirer, and a permit added by a stray release would be one
    too many for as long as that holder lives. Every process must give the same ``value``
    for a name (ValueError otherwise).
    """

    def __init__(self, client: Any, name: str, value: int = 1, *, lease: float = 30.0) -> None:
        super().__init__(Permits(client, name, "semaphore", whole_number("value", value, 0), lease))

    def __repr__(self) -> str:
        permits = self._permits
        return (
            f"<aiosync.redis.{type(self).__name__} {self.name!r} value={permits.value} "
            f"lease={permits.lease:g}s>"
        )

    @property
    def token(self) -> int | None:
        """The fencing token of the calling task's latest permit; None if it holds none."""
        return self._token(_PERMIT)

    @property
    def lost(self) -> Any:
        """An asyncio.Event set when the calling task's latest permit is lost."""
        return self._lost(_PERMIT)

    async def locked(self) -> bool:
        """Whether no permit is free now."""
        permits, light, _, _ = await self._permits.state()
        return light >= permits

    async def acquire(self, timeout: float | None = None) -> bool:
        """Take a permit in FIFO order; return True. With ``timeout`` (seconds), return
        False if not granted in time, holding and queueing nothing."""
        return await self._acquire(_PERMIT, timeout) is not None

    async def release(self) -> None:
        """Give back the calling task's latest permit (see the class docstring for a task
        that holds none). Runs to completion even if the caller is cancelled; raises
        LockLostError if the permit was lost."""
        await self._release(_PERMIT)

    async def __aenter__(self) -> None:
        await self._enter(_PERMIT)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self._exit(_PERMIT, exc)


class BoundedSemaphore(Semaphore):
    """A Semaphore whose ``release()`` by a task holding no permit raises ValueError, as
    asyncio.BoundedSemaphore's does when released too many times."""

    async def release(self) -> None:
        if self._latest(_PERMIT) is None:
            raise ValueError(f"{self!r} released too many times (this task holds no permit)")
        await super().release()

    release.__doc__ = Semaphore.release.__doc__
