"""Semaphore and BoundedSemaphore: asyncio's drop-ins, with ``timeout=`` and statistics."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import Acquirable, describe

__all__ = ["BoundedSemaphore", "Semaphore", "SemaphoreStatistics"]


@dataclass(frozen=True, slots=True)
class SemaphoreStatistics:
    value: int
    tasks_waiting: int


def _check_value(value: object, cls: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{cls.__name__} initial value must be an int, not {value!r}")
    if value < 0:
        raise ValueError(f"{cls.__name__} initial value must be >= 0, not {value!r}")
    return value


class Semaphore(Acquirable):
    """A counting semaphore, as ``asyncio.Semaphore``.

    Guarantees:

    * **FIFO, no barging.** A permit freed by ``release()`` is handed directly to the
      longest-waiting task; a newcomer never takes a permit while any task waits, so a
      Semaphore used as a rate limiter cannot starve its waiters (gh-97545).
    * **Cancellation.** A waiter cancelled after being handed a permit, before it resumed,
      gives the permit back and the next waiter proceeds. ``acquire(timeout=)`` returns
      False on timeout, holding nothing.
    * ``Semaphore(value < 0)`` is a ValueError; ``release()`` never fails (see
      BoundedSemaphore for a checked one).
    """

    # ``_bound_value`` is BoundedSemaphore's: declared here so that a class may inherit from
    # both (aiosync.threadsafe's BoundedSemaphore, whose Semaphore base adds slots).
    __slots__ = ("_bound_value", "_value")

    def __init__(self, value: int = 1) -> None:
        super().__init__()
        self._value = _check_value(value, type(self))

    def __repr__(self) -> str:
        state = "locked" if self.locked() else f"unlocked, value:{self._value}"
        return describe(self, state, self._waiting_count())

    def locked(self) -> bool:
        """Return True if ``acquire()`` would not succeed at once (no permit, or a queue)."""
        return self._value == 0 or self._has_waiters()

    def _try_acquire(self) -> bool:
        if self._value == 0 or self._woken or (self._queue and self._has_waiters()):
            return False
        self._value -= 1
        return True

    # ``async with`` is the hottest path: _try_acquire and release, inlined.
    async def __aenter__(self) -> None:
        if self._value == 0 or self._woken or (self._queue and self._has_waiters()):
            # ParkingLot._park, inlined (see Lock.__aenter__).
            fut = self._enqueue()
            try:
                await fut
            except BaseException:
                self._leave_abnormally(fut)
                raise
            self._woken -= 1
            self._resumed(None)
        else:
            self._value -= 1

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.release()

    # Permits can be free while tasks queue behind a waiter that was woken but had not run
    # yet (FIFO); whenever a woken waiter resumes or gives its permit back, hand out what
    # is free.
    def _resumed(self, value: object) -> None:
        if self._value:
            self._hand_out()

    def _abandoned(self, value: object) -> None:
        self._value += 1
        self._hand_out()

    def _hand_out(self) -> None:
        self._value -= self._wake(self._value, True)

    def release(self) -> None:
        """Return a permit, handing it to the first waiter if there is one."""
        self._value += 1
        if self._queue:
            self._hand_out()

    def statistics(self) -> SemaphoreStatistics:
        """Return a snapshot: free permits and how many tasks wait."""
        return SemaphoreStatistics(self._value, self._waiting_count())


class BoundedSemaphore(Semaphore):
    """A Semaphore whose ``release()`` raises ValueError above the initial value."""

    __slots__ = ()

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._bound_value = value

    def release(self) -> None:
        # A permit handed to a woken waiter that has not resumed yet is still out: counting
        # it catches an over-release that asyncio lets through (its value can then exceed
        # the bound once that waiter is cancelled and gives the permit back).
        if self._value + self._woken >= self._bound_value:
            raise ValueError("BoundedSemaphore released too many times")
        super().release()
