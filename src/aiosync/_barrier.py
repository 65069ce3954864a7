"""Barrier: asyncio.Barrier's drop-in (also on Python 3.10), with ``timeout=``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = ["Barrier", "BarrierStatistics", "BrokenBarrierError"]

if sys.version_info >= (3, 11):
    from asyncio import BrokenBarrierError
else:

    class BrokenBarrierError(RuntimeError):
        """Raised when a Barrier is broken or reset while a task waits on it."""


class _Broken:
    """What parked parties are woken with when the barrier breaks: why it broke."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_ABORTED = _Broken("Abort or reset of barrier")  # asyncio's words
_PARTY_TIMED_OUT = _Broken("Barrier broken: another party's wait timed out")


@dataclass(frozen=True, slots=True)
class BarrierStatistics:
    parties: int
    n_waiting: int
    broken: bool


class Barrier(ParkingLot):
    """A barrier for a fixed number of parties, as ``asyncio.Barrier``.

    Guarantees:

    * When the ``parties``-th task arrives, every waiting task is released at once and each
      gets a distinct arrival index in ``range(parties)``: waiters in arrival (FIFO) order,
      the task that tripped the barrier ``parties - 1``. Indices are handed out when the
      barrier trips, so a party cancelled while the barrier fills can never cause two tasks
      to receive the same index (asyncio bug gh-155233).
    * The barrier is reusable: the next round starts filling the moment the previous one
      trips.
    * A party cancelled while the barrier fills just leaves (it does not break the
      barrier). ``wait(timeout=)`` that expires breaks the barrier, as
      ``threading.Barrier`` does: that party and every other one waiting gets
      BrokenBarrierError. ``abort()`` breaks it until ``reset()``; ``reset()`` makes waiting
      parties raise BrokenBarrierError and starts a fresh round.
    """

    __slots__ = ("_broken", "_count", "_parties", "_round")

    def __init__(self, parties: int) -> None:
        if isinstance(parties, bool) or not isinstance(parties, int):
            raise TypeError(f"parties must be an int, not {parties!r}")
        if parties < 1:
            raise ValueError(f"parties must be > 0, not {parties!r}")
        super().__init__()
        self._parties = parties
        self._broken = False
        # Parties parked in this round; may overcount a party whose cancellation has not
        # run yet, so it is recounted before the barrier trips.
        self._count = 0
        # Bumped whenever a round ends (trip, reset, abort).
        self._round = 0

    def __repr__(self) -> str:
        cls = type(self)
        extra = "broken" if self._broken else f"filling, waiters:{self.n_waiting}/{self._parties}"
        return f"<{cls.__module__}.{cls.__qualname__} object at {id(self):#x} [{extra}]>"

    async def __aenter__(self) -> int:
        return await self.wait()

    async def __aexit__(self, *args: object) -> None:
        pass

    async def wait(self, timeout: float | None = None) -> int:
        """Wait until all parties have arrived; return this party's arrival index.

        Raises BrokenBarrierError if the barrier is broken, or is aborted or reset while
        waiting. With ``timeout`` (seconds), an expired wait breaks the barrier and raises
        BrokenBarrierError.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        if self._broken:
            raise BrokenBarrierError("Barrier aborted")
        if self._count + 1 >= self._parties:
            self._count = self._parked_count()
            if self._count + 1 >= self._parties:
                self._count = 0
                self._round += 1
                self._wake_numbered()
                return self._parties - 1
        if timeout == 0:
            self._break(_PARTY_TIMED_OUT)
            raise BrokenBarrierError("Barrier wait timed out")
        self._count += 1
        my_round = self._round
        try:
            if timeout is None:
                # ParkingLot._park, inlined (see Lock.__aenter__).
                fut = self._enqueue()
                try:
                    value: Any = await fut
                except BaseException:
                    self._leave_abnormally(fut)
                    raise
                self._woken -= 1
            else:
                value = await self._park(timeout)
        except BaseException:
            if self._round == my_round:
                self._count = self._parked_count()
            raise
        if value.__class__ is int:
            return value
        if value is TIMED_OUT:
            # Break the round this party timed out of, not one that began (by reset() or a
            # trip without it) between its timer firing and its task running.
            if self._round == my_round:
                self._count = self._parked_count()
                self._break(_PARTY_TIMED_OUT)
            raise BrokenBarrierError("Barrier wait timed out")
        raise BrokenBarrierError(value.reason)

    def _break(self, why: _Broken) -> None:
        self._broken = True
        self._end_round(why)

    def _end_round(self, why: _Broken) -> None:
        self._count = 0
        self._round += 1
        self._wake_all(why)

    async def reset(self) -> None:
        """Return the barrier to a fresh, unbroken round; waiting parties get
        BrokenBarrierError."""
        self._broken = False
        self._end_round(_ABORTED)

    async def abort(self) -> None:
        """Break the barrier: waiting and future parties get BrokenBarrierError until
        ``reset()``."""
        self._break(_ABORTED)

    @property
    def parties(self) -> int:
        """The number of tasks required to trip the barrier."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """The number of tasks currently waiting at the barrier."""
        return 0 if self._broken else self._parked_count()

    @property
    def broken(self) -> bool:
        """True if the barrier is broken."""
        return self._broken

    def statistics(self) -> BarrierStatistics:
        """Return a snapshot: parties, tasks waiting, and whether broken."""
        return BarrierStatistics(self._parties, self.n_waiting, self._broken)
