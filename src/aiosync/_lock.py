"""Lock: asyncio.Lock's drop-in, with ``timeout=`` and statistics."""

from __future__ import annotations

import asyncio
from asyncio import CancelledError
from dataclasses import dataclass
from typing import Any

from ._base import Acquirable, current_task, describe
from ._parking import TIMED_OUT, ParkingLot

__all__ = ["Lock", "LockStatistics"]


@dataclass(frozen=True, slots=True)
class LockStatistics:
    locked: bool
    #: The task that acquired the lock (informational: a Lock is not owned).
    owner: asyncio.Task[Any] | None
    tasks_waiting: int


class Lock(Acquirable):
    """A primitive lock, as ``asyncio.Lock``: not owned, so any task may release it.

    Guarantees:

    * **FIFO.** When the lock is released, the task that has waited longest proceeds; a task
      that arrives while others wait queues behind them even if the lock is free at that
      moment (the woken waiter has not run yet). Releasing an unlocked lock raises
      RuntimeError.
    * **Cancellation.** A waiter cancelled before it is woken simply leaves the queue. A
      waiter cancelled after being woken but before it resumed passes the lock on to the
      next waiter. ``acquire(timeout=)`` returns False on timeout, with nothing held.
    * ``locked()`` is False between a ``release()`` and the moment the woken waiter resumes,
      exactly as in asyncio; the lock is nevertheless reserved for that waiter.
    """

    __slots__ = ("_locked", "_lot", "_owner")

    def __init__(self) -> None:
        self._locked = False
        self._lot = ParkingLot()
        self._owner: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return describe(self, "locked" if self._locked else "unlocked", len(self._lot))

    def locked(self) -> bool:
        """Return True if the lock is acquired."""
        return self._locked

    def _try_acquire(self) -> bool:
        if self._locked or self._lot.has_waiters():
            return False
        self._locked = True
        self._owner = current_task()
        return True

    async def _acquire_parked(self, timeout: float | None) -> bool:
        try:
            if await self._lot.park(timeout) is TIMED_OUT:
                return False
        except CancelledError:
            if not self._locked:
                self._wake_up_first()
            raise
        self._locked = True
        self._owner = current_task()
        return True

    def release(self) -> None:
        """Release the lock, waking the first waiter; RuntimeError if it is not locked."""
        if self._locked:
            self._locked = False
            self._owner = None
            self._wake_up_first()
        else:
            raise RuntimeError("Lock is not acquired.")

    def _wake_up_first(self) -> None:
        lot = self._lot
        if not lot.woken:
            lot.wake_one(True)

    def statistics(self) -> LockStatistics:
        """Return a snapshot: whether locked, by which task, and how many tasks wait."""
        return LockStatistics(self._locked, self._owner, len(self._lot) + self._lot.woken)
