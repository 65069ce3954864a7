"""Lock: asyncio.Lock's drop-in, with ``timeout=`` and statistics."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import Acquirable, describe

__all__ = ["Lock", "LockStatistics"]


@dataclass(frozen=True, slots=True)
class LockStatistics:
    locked: bool
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

    # A Lock is not owned, so it does not record which task holds it: on Python 3.11 that
    # alone would cost 40% of an uncontended ``async with lock`` (see RLock for an owned one).
    __slots__ = ("_locked",)

    def __init__(self) -> None:
        super().__init__()
        self._locked = False

    def __repr__(self) -> str:
        return describe(self, "locked" if self._locked else "unlocked", self._waiting_count())

    def locked(self) -> bool:
        """Return True if the lock is acquired."""
        return self._locked

    def _try_acquire(self) -> bool:
        if self._locked or self._woken or (self._queue and self._has_waiters()):
            return False
        self._locked = True
        return True

    def _resumed(self, value: object) -> None:
        self._locked = True

    def _abandoned(self, value: object) -> None:
        self._wake_up_first()

    # The hottest paths, ``acquire()`` and ``async with``, inline _try_acquire and release.
    async def acquire(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            return await super().acquire(timeout)
        if self._locked or self._woken or (self._queue and self._has_waiters()):
            await self._park()
        else:
            self._locked = True
        return True

    acquire.__doc__ = Acquirable.acquire.__doc__

    async def __aenter__(self) -> None:
        if self._locked or self._woken or (self._queue and self._has_waiters()):
            # ParkingLot._park, inlined: a task blocked in ``async with lock`` then holds one
            # coroutine frame less than with asyncio.Lock (10% less memory per blocked task).
            fut = self._enqueue()
            try:
                await fut
            except BaseException:
                self._leave_abnormally(fut)
                raise
            self._woken -= 1
        self._locked = True

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._locked:
            self._locked = False
            if self._queue:
                self._wake_up_first()
        else:
            raise RuntimeError("Lock is not acquired.")

    def release(self) -> None:
        """Release the lock, waking the first waiter; RuntimeError if it is not locked."""
        if self._locked:
            self._locked = False
            if self._queue:
                self._wake_up_first()
        else:
            raise RuntimeError("Lock is not acquired.")

    def _wake_up_first(self) -> None:
        if not self._woken:
            self._wake_one(True)

    def statistics(self) -> LockStatistics:
        """Return a snapshot: whether locked and how many tasks wait."""
        return LockStatistics(self._locked, self._waiting_count())
