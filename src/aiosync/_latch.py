"""CountdownLatch: wait until a count of events has happened."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import describe, whole_number
from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = ["CountdownLatch", "CountdownLatchStatistics"]


@dataclass(frozen=True, slots=True)
class CountdownLatchStatistics:
    count: int
    tasks_waiting: int


class CountdownLatch(ParkingLot):
    """A latch that opens once ``count_down()`` has been called ``count`` times.

    Guarantees: when the count reaches zero every waiting task is woken, and ``wait()``
    returns True at once from then on (a latch never closes again). Counting below zero is
    a ValueError and leaves the count unchanged. ``wait(timeout=)`` returns False on
    timeout; a cancelled waiter just leaves.
    """

    __slots__ = ("_count",)

    def __init__(self, count: int) -> None:
        super().__init__()
        self._count = whole_number("count", count, 0)

    def __repr__(self) -> str:
        return describe(self, f"count:{self._count}", self._waiting_count())

    @property
    def count(self) -> int:
        """How many more ``count_down()`` calls open the latch."""
        return self._count

    def count_down(self, n: int = 1) -> None:
        """Count ``n`` events; at zero, wake every waiter. May be called from any task."""
        whole_number("n", n, 1)
        if n > self._count:
            raise ValueError(f"count_down({n!r}) would take the count {self._count} below zero")
        self._count -= n
        if not self._count:
            self._wake_all(True)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the count reaches zero; return True.

        With ``timeout`` (seconds), return False if it did not in time.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        if not self._count:
            return True
        if timeout == 0:
            return False
        return await self._park(timeout) is not TIMED_OUT

    def statistics(self) -> CountdownLatchStatistics:
        """Return a snapshot: the count and how many tasks wait."""
        return CountdownLatchStatistics(self._count, self._waiting_count())
