"""Event: asyncio.Event's drop-in, with ``timeout=`` and statistics."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import describe
from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = ["Event", "EventStatistics"]


@dataclass(frozen=True, slots=True)
class EventStatistics:
    is_set: bool
    tasks_waiting: int


class Event(ParkingLot):
    """An event flag, as ``asyncio.Event``.

    Guarantees: ``set()`` wakes every task waiting at that moment, even if ``clear()`` follows
    before they run; ``wait()`` returns True at once if the flag is set. A cancelled waiter
    leaves without affecting the others. ``wait(timeout=)`` returns False on timeout.
    Waking n waiters costs O(n), one future each, with no per-waiter search.
    """

    __slots__ = ("_value",)

    def __init__(self) -> None:
        super().__init__()
        self._value = False

    def __repr__(self) -> str:
        return describe(self, "set" if self._value else "unset", self._waiting_count())

    def is_set(self) -> bool:
        """Return True if and only if the internal flag is true."""
        return self._value

    def set(self) -> None:
        """Set the flag and wake all waiting tasks; later waits return at once."""
        if not self._value:
            self._value = True
            self._wake_all(True)

    def clear(self) -> None:
        """Reset the flag; later waits block until ``set()``."""
        self._value = False

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is set and return True.

        With ``timeout`` (seconds), return False if the flag was not set in time.
        """
        if timeout is None:
            if not self._value:
                # ParkingLot._park, inlined: a parked waiter then holds no coroutine frame
                # beyond asyncio's own, which keeps the garbage collector's work, and so
                # the cost of waking 100k waiters, at asyncio's level.
                fut = self._enqueue()
                try:
                    await fut
                except BaseException:
                    self._leave_abnormally(fut)
                    raise
                self._woken -= 1
            return True
        timeout = check_timeout(timeout)
        if self._value:
            return True
        if timeout == 0:
            return False
        return await self._park(timeout) is not TIMED_OUT

    def statistics(self) -> EventStatistics:
        """Return a snapshot: the flag and how many tasks wait."""
        return EventStatistics(self._value, self._waiting_count())
