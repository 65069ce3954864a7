"""CapacityLimiter and RateLimiter on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

from .._base import calling_task, positive_number, whole_number
from .._parking import check_timeout
from ._named import Named
from ._permits import Leased, Permits, _Entry
from ._session import Hold
from ._waiting import shielded

__all__ = ["CapacityLimiter", "RateLimiter"]

_TOKEN = "token"


class CapacityLimiter(Leased):
    """At most ``total_tokens`` borrowers at once across every process using ``name``;
    each borrower holds one token, as a lease.

    A borrower is the calling task (``acquire()``, ``async with``) or any hashable object
    of this process (``acquire_on_behalf_of(borrower)``). The guarantees of
    aiosync.redis.Semaphore, per token: FIFO across processes, leases renewed by the
    watchdog while the process lives (a dead borrower's token comes back when its lease
    runs out), a fencing token per grant, loss surfaced as LockLostError. A borrower may
    hold one token at a time: acquiring again, or while it already waits, is a
    RuntimeError, as is releasing without holding. ``total_tokens`` is fixed: every
    process must give the same for a name (ValueError otherwise).
    """

    def __init__(self, client: Any, name: str, total_tokens: int, *, lease: float = 30.0) -> None:
        self._total = whole_number("total_tokens", total_tokens, 1)
        super().__init__(Permits(client, name, "capacity", self._total, lease))
        self._waiting: set[Hashable] = set()

    def __repr__(self) -> str:
        return (
            f"<aiosync.redis.CapacityLimiter {self.name!r} total_tokens={self.total_tokens} "
            f"lease={self._permits.lease:g}s>"
        )

    def _reuse(self, mode: str, entries: list[_Entry]) -> Hold | None:
        if entries:
            raise RuntimeError(f"the borrower already holds a token of {self!r}")
        return None

    @property
    def total_tokens(self) -> int:
        return self._total

    async def borrowed_tokens(self) -> int:
        """How many tokens are held now, by every process."""
        _, borrowed, _, _ = await self._permits.state()
        return borrowed

    async def available_tokens(self) -> int:
        """How many tokens are free now."""
        return max(self.total_tokens - await self.borrowed_tokens(), 0)

    def token_of(self, borrower: Hashable = None) -> int | None:
        """The fencing token of ``borrower``'s grant (default: the calling task's)."""
        entry = self._latest(_TOKEN, borrower)
        return None if entry is None else entry.hold.token

    async def acquire(self, timeout: float | None = None) -> bool:
        """Borrow a token for the calling task; see ``acquire_on_behalf_of``."""
        return await self.acquire_on_behalf_of(calling_task(self), timeout)

    async def acquire_on_behalf_of(self, borrower: Hashable, timeout: float | None = None) -> bool:
        """Borrow a token for ``borrower``, waiting in FIFO order; return True. With
        ``timeout`` (seconds), return False if no token came in time, holding nothing."""
        if timeout is not None:
            timeout = check_timeout(timeout)
        hash(borrower)  # TypeError for an unhashable borrower, before anything else
        if borrower in self._waiting:
            raise RuntimeError(f"{borrower!r} already awaits a token of {self!r}")
        self._waiting.add(borrower)
        try:
            return await self._acquire(_TOKEN, timeout, borrower) is not None
        finally:
            self._waiting.discard(borrower)

    async def release(self) -> None:
        """Return the calling task's token; see ``release_on_behalf_of``."""
        await self._release(_TOKEN)

    async def release_on_behalf_of(self, borrower: Hashable) -> None:
        """Return ``borrower``'s token (RuntimeError if it holds none); the first waiter
        gets it. Raises LockLostError if its lease had run out."""
        await self._release(_TOKEN, borrower)

    async def __aenter__(self) -> None:
        await self._enter(_TOKEN)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self._exit(_TOKEN, exc)


class RateLimiter(Named):
    """At most ``rate`` units per ``period`` seconds across every process using ``name``,
    up to ``burst`` (default ``rate``) at once.

    The local RateLimiter's GCRA, run by Redis on the server's clock: one script call per
    grant reserves the request's slot on the shared virtual schedule and tells the caller
    how long until it is due; the caller sleeps that long, no more, and returns True. Over
    any window of ``period``, at most ``rate + burst`` units are granted; over the long
    run, at most ``rate`` per ``period`` (less the network time between Redis deciding and
    the caller running). Requests are served in the order Redis receives them.
    ``acquire(timeout=)`` returns False at once, reserving nothing, if the slot is later
    than ``timeout``. A caller cancelled before its slot gives it back if nobody reserved
    after it; otherwise its units count as used. Every process must give the same
    ``rate``, ``period`` and ``burst`` for a name (ValueError otherwise).
    """

    def __init__(
        self,
        client: Any,
        name: str,
        rate: float,
        period: float = 1.0,
        *,
        burst: float | None = None,
    ) -> None:
        self.rate = positive_number("rate", rate)
        self.period = positive_number("period", period)
        self.burst = self.rate if burst is None else positive_number("burst", burst)
        limits = f"{float(self.rate)!r}/{float(self.period)!r}/{float(self.burst)!r}"
        super().__init__(client, name, "rate-limiter", limits, ())
        self._interval_us = self.period / self.rate * 1_000_000

    def __repr__(self) -> str:
        return (
            f"<aiosync.redis.RateLimiter {self.name!r} rate={self.rate:g}/{self.period:g}s "
            f"burst={self.burst:g}>"
        )

    def _check_amount(self, amount: object) -> float:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise TypeError(f"amount must be a number, not {amount!r}")
        if not 0 < amount <= self.burst:
            raise ValueError(f"amount must be > 0 and <= burst ({self.burst:g}), not {amount!r}")
        return float(amount)

    async def acquire(self, amount: float = 1, timeout: float | None = None) -> bool:
        """Take ``amount`` units at their slot; return True. With ``timeout`` (seconds),
        return False at once if the slot is later than that."""
        units = self._check_amount(amount)
        if timeout is not None:
            timeout = check_timeout(timeout)
        patience = -1 if timeout is None else timeout * 1_000_000
        reply = await shielded(
            self.call(
                "rate_acquire",
                *(units, self._interval_us, self.burst, patience, self.kind, self.value),
            )
        )
        if int(reply[0]) == 0:
            return False
        wait = float(reply[1]) / 1_000_000
        if wait > 0:
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                await shielded(self.call("rate_refund", reply[2], units * self._interval_us))
                raise
        return True

    async def available(self) -> float:
        """Units that could be granted now, were nobody to ask first."""
        reply = await self.call("rate_state", self._interval_us, self.burst)
        return float(reply[1])

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        pass
