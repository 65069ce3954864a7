"""Limiters: CapacityLimiter (how many at once) and RateLimiter (how many per period)."""

from __future__ import annotations

import math
import time
from asyncio import AbstractEventLoop, TimerHandle, get_running_loop
from collections.abc import Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ._base import AcquireContext, TaskOwned, describe, positive_number, running_task
from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = [
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "RateLimiter",
    "RateLimiterStatistics",
]


def _check_hashable(borrower: object) -> None:
    try:
        hash(borrower)
    except TypeError:
        raise TypeError(f"unhashable borrower {borrower!r}: a borrower must be hashable") from None


@dataclass(frozen=True, slots=True)
class CapacityLimiterStatistics:
    borrowed_tokens: int
    total_tokens: float
    borrowers: tuple[Hashable, ...]
    tasks_waiting: int


class CapacityLimiter(TaskOwned, AcquireContext, ParkingLot):
    """At most ``total_tokens`` borrowers at once; each borrower holds one token.

    A borrower is the calling task (``acquire()``, ``async with``), or any hashable object
    (``acquire_on_behalf_of(borrower)``). Guarantees:

    * **FIFO.** A freed token goes straight to the longest waiter; a newcomer never takes a
      token while anyone waits.
    * A borrower may hold one token at a time: acquiring again (or while already waiting)
      is a RuntimeError, as is releasing without holding.
    * ``total_tokens`` may be changed at any time; raising it admits waiters at once,
      lowering it takes effect as tokens come back (holders keep theirs).
    * ``acquire(timeout=)`` returns False on timeout, holding nothing. A waiter cancelled
      after being handed a token returns it, and the next waiter gets it.
    """

    __slots__ = ("_borrowers", "_home", "_total", "_waiting_borrowers")

    def __init__(self, total_tokens: float) -> None:
        super().__init__()
        self._total = self._check_total(total_tokens)
        self._borrowers: set[Hashable] = set()
        self._waiting_borrowers: set[Hashable] = set()
        self._home: AbstractEventLoop | None = None

    @staticmethod
    def _check_total(value: object) -> float:
        if isinstance(value, float) and math.isinf(value) and value > 0:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"total_tokens must be an int or math.inf, not {value!r}")
        if value < 1:
            raise ValueError(f"total_tokens must be >= 1, not {value!r}")
        return value

    def __repr__(self) -> str:
        state = f"borrowed:{len(self._borrowers)}/{self._total}"
        return describe(self, state, self._parked_count())

    @property
    def total_tokens(self) -> float:
        """How many tokens there are; assign to change it at run time."""
        return self._total

    @total_tokens.setter
    def total_tokens(self, value: float) -> None:
        self._total = self._check_total(value)
        self._hand_out()

    @property
    def borrowed_tokens(self) -> int:
        """How many tokens are held (including ones handed to waiters not yet running)."""
        return len(self._borrowers)

    @property
    def available_tokens(self) -> float:
        """How many tokens are free (0 when more are borrowed than the total allows)."""
        return max(self._total - len(self._borrowers), 0)

    # A waiter's tag is ``(borrower,)``: any hashable, None included, may borrow.
    def _hand_out(self) -> None:
        while len(self._borrowers) < self._total and (tag := self._head_tag()) is not None:
            (borrower,) = tag
            self._waiting_borrowers.discard(borrower)
            self._borrowers.add(borrower)
            self._wake_one(borrower)

    def _abandoned(self, borrower: Any) -> None:
        self._borrowers.discard(borrower)
        self._hand_out()

    async def acquire(self, timeout: float | None = None) -> bool:
        """Borrow a token for the calling task; see ``acquire_on_behalf_of``."""
        return await self.acquire_on_behalf_of(self._caller(), timeout)

    async def acquire_on_behalf_of(self, borrower: Hashable, timeout: float | None = None) -> bool:
        """Borrow a token for ``borrower``, waiting in FIFO order; return True.

        With ``timeout`` (seconds), return False if no token came in time.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        _check_hashable(borrower)
        if borrower in self._borrowers or borrower in self._waiting_borrowers:
            raise RuntimeError(f"{borrower!r} already holds or awaits a token of {self!r}")
        if len(self._borrowers) < self._total and self._head_tag() is None:
            self._borrowers.add(borrower)
            return True
        if timeout == 0:
            return False
        self._waiting_borrowers.add(borrower)
        return await self._park(timeout, (borrower,)) is not TIMED_OUT

    def _departed(self, tag: Any) -> None:
        self._waiting_borrowers.discard(tag[0])

    def release(self) -> None:
        """Return the calling task's token; see ``release_on_behalf_of``."""
        self.release_on_behalf_of(self._caller())

    def release_on_behalf_of(self, borrower: Hashable) -> None:
        """Return ``borrower``'s token to the first waiter; RuntimeError if it holds none."""
        _check_hashable(borrower)
        try:
            self._borrowers.remove(borrower)
        except KeyError:
            raise RuntimeError(f"{borrower!r} holds no token of {self!r}") from None
        self._hand_out()

    def statistics(self) -> CapacityLimiterStatistics:
        """Return a snapshot: tokens borrowed and total, borrowers, tasks waiting."""
        return CapacityLimiterStatistics(
            len(self._borrowers), self._total, tuple(self._borrowers), self._parked_count()
        )


@dataclass(frozen=True, slots=True)
class RateLimiterStatistics:
    rate: float
    period: float
    burst: float
    #: Units that could be granted right now, were nobody waiting.
    available: float
    tasks_waiting: int
    units_waiting: float


class RateLimiter(ParkingLot):
    """At most ``rate`` units per ``period`` seconds over time, up to ``burst`` at once.

    The limiter runs the generic cell rate algorithm (GCRA) on the event loop's monotonic
    clock: each unit is due ``period / rate`` seconds after the previous one on a virtual
    schedule, and up to ``burst`` (default ``rate``) units may be taken ahead of it. Over
    any window of length ``period``, at most ``rate + burst`` units are granted; over the
    long run, at most ``rate`` per ``period``. Guarantees:

    * **Exact, no drift.** A waiter is granted at its slot on the virtual schedule; callers
      that sleep between acquisitions, and wake-ups late by up to one interval
      (``period / rate``) beyond the burst's slack, do not shift later slots. The bounds
      above hold on that schedule; after a longer stall of the event loop, the queue
      resumes from the clock, with at most one unit beyond ``burst`` due at once.
    * **Strict FIFO.** Requests are granted in arrival order: a large request is never
      overtaken by later small ones, and a newcomer never jumps a queue.
    * ``acquire(amount, timeout=)`` returns False at once, holding nothing, when the
      schedule shows the request cannot be granted within ``timeout``; otherwise it is
      granted by then. A cancelled waiter gives its place up: those behind it move up.
      A waiter cancelled after its slot came forfeits the units (they count as used).
    """

    __slots__ = (
        "_burst",
        "_clock",
        "_interval",
        "_period",
        "_rate",
        "_tat",
        "_timer",
    )

    def __init__(self, rate: float, period: float = 1.0, *, burst: float | None = None) -> None:
        super().__init__()
        self._rate = positive_number("rate", rate)
        self._period = positive_number("period", period)
        self._burst = self._rate if burst is None else positive_number("burst", burst)
        self._interval = self._period / self._rate  # seconds per unit
        # Theoretical arrival time: when the virtual schedule is next free, in loop time.
        self._tat = -math.inf
        self._timer: TimerHandle | None = None
        # The loop whose clock the last call read (a cache: not a binding).
        self._clock: AbstractEventLoop | None = None

    def __repr__(self) -> str:
        state = f"rate:{self._rate:g}/{self._period:g}s, burst:{self._burst:g}"
        return describe(self, state, self._parked_count())

    def _check_amount(self, amount: object) -> float:
        if amount.__class__ is int and 0 < amount <= self._burst:
            return amount
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise TypeError(f"amount must be a number, not {amount!r}")
        if not 0 < amount <= self._burst:
            raise ValueError(f"amount must be > 0 and <= burst ({self._burst:g}), not {amount!r}")
        return float(amount)

    def _queued_units(self) -> float:
        """Units requested by live parked waiters. O(n), and only on the paths that need
        it: a cancelled waiter stops counting the moment it is cancelled, before its task
        runs, which a running total could not follow."""
        tags = self._tags
        if not tags:
            return 0.0
        return float(sum(tags[fut] for fut in self._queue if not fut.done() and fut in tags))

    def _queued_slot(self, units: float, now: float) -> float:
        """When ``units`` more units, behind everything queued, are due (as _arm grants)."""
        tat = max(self._tat, now - self._interval)
        return tat + (self._queued_units() + units - self._burst) * self._interval

    async def acquire(self, amount: float = 1, timeout: float | None = None) -> bool:
        """Take ``amount`` units, waiting for their slot in FIFO order; return True.

        With ``timeout`` (seconds), return False at once if the slot is later than that.
        """
        units = self._check_amount(amount)
        if timeout is not None:
            timeout = check_timeout(timeout)
        loop = self._clock
        if loop is None or running_task(loop) is None:
            self._clock = loop = get_running_loop()
        now = loop.time()
        if self._queue:
            self._arm(loop, now)  # grant queued requests that fell due, if the timer is late
        if not self._queue or self._head_tag() is None:
            due = max(self._tat, now) + (units - self._burst) * self._interval
            if due <= now:
                self._tat = max(self._tat, now) + units * self._interval
                return True
            if timeout is not None and due > now + timeout:
                return False
            # This request will be the head: its timer fires once it is parked.
            self._set_timer(loop, due)
        elif timeout is not None and self._queued_slot(units, now) > now + timeout:
            return False
        # No timer of its own is needed for the timeout: the schedule grants it in time.
        await self._park(None, units)
        return True

    def _departed(self, units: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._arm(self._loop, self._loop.time())  # the next waiter may be due sooner

    def _set_timer(self, loop: AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._on_timer, loop, when)

    def _on_timer(self, loop: AbstractEventLoop, when: float) -> None:
        # The loop ran this timer, so for the loop ``when`` has come, even where its clock
        # reads a little earlier (uvloop's clock ticks in milliseconds): trust it, rather
        # than re-arming for the same instant until the clock ticks.
        self._timer = None
        self._arm(loop, max(loop.time(), when))

    def _arm(self, loop: AbstractEventLoop, now: float) -> None:
        """Grant every queued request whose slot has come by ``now``; time the next one."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while (units := self._head_tag()) is not None:
            # A queued request is granted at its slot on the virtual schedule, however late
            # this callback runs, so later slots keep their pace (no drift). The schedule
            # may fall behind the clock by one interval at most, so that after a stall of
            # the event loop at most one unit more than the burst comes due at once.
            tat = max(self._tat, now - self._interval)
            due = tat + (units - self._burst) * self._interval
            if due > now:
                self._set_timer(loop, due)
                return
            self._tat = tat + units * self._interval
            self._wake_one(True)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def statistics(self) -> RateLimiterStatistics:
        """Return a snapshot: the limits, units available now, and what waits."""
        try:
            now = get_running_loop().time()
        except RuntimeError:
            now = self._loop.time() if self._loop is not None else time.monotonic()
        available = min(self._burst, (now - self._tat) / self._interval + self._burst)
        return RateLimiterStatistics(
            self._rate,
            self._period,
            self._burst,
            max(0.0, available),
            self._parked_count(),
            self._queued_units(),
        )
