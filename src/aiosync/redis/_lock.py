"""Lock and RLock on Redis: one holder at a time across processes and hosts, FIFO, leased,
fenced."""

from __future__ import annotations

from typing import Any

from ._permits import Leased, Permits, _Entry
from ._session import Hold

__all__ = ["Lock", "RLock"]

_HOLD = "hold"


class Lock(Leased):
    """A lock shared through Redis by every process that uses the same ``name``.

    Guarantees:

    * **One holder at a time, FIFO.** Waiters across processes are served in arrival
      order. A release hands the lock straight to the first waiter, which is woken through
      pub/sub and confirms within a claim window (2 s); a waiter that died unnoticed
      delays the queue by that window at most, and a holder that died, by what is left of
      its lease. A waiter re-checks on its own after a bounded time if a wake-up was lost.
    * **Leased, renewed, fenced.** A hold expires ``lease`` seconds after it was last
      renewed; while the holder's process runs, a watchdog renews it every lease/3 (one
      script call per 100 holds). Each grant carries ``token``, strictly increasing per
      name, also after Redis lost its data (the counter restarts from the server clock).
    * **Loss is surfaced.** If a renewal finds the hold gone, ``lost`` is set, and the task
      inside ``async with`` is cancelled and gets ``LockLostError`` out of the block.
    * **Holds belong to the acquiring task**: another task's ``release()`` is a
      RuntimeError and leaves the hold alone. ``acquire(timeout=)`` returns False with
      nothing held or queued; a cancelled acquisition undoes whatever it got, and
      ``release()`` runs to completion even if the caller is cancelled.
    """

    def __init__(self, client: Any, name: str, *, lease: float = 30.0) -> None:
        super().__init__(Permits(client, name, "lock", 1, lease))

    def __repr__(self) -> str:
        return f"<aiosync.redis.{type(self).__name__} {self.name!r} lease={self._permits.lease:g}s>"

    def _reuse(self, mode: str, entries: list[_Entry]) -> Hold | None:
        if entries:
            raise RuntimeError(f"{self!r} is already held by this task (it is not reentrant)")
        return None

    @property
    def token(self) -> int | None:
        """The calling task's fencing token; None if it holds nothing."""
        return self._token(_HOLD)

    @property
    def lost(self) -> Any:
        """An asyncio.Event set when the calling task's hold is lost (see LockLostError)."""
        return self._lost(_HOLD)

    async def locked(self) -> bool:
        """Whether some process holds the lock."""
        _, light, _, _ = await self._permits.state()
        return light > 0

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire in FIFO order; return True. With ``timeout`` (seconds), return False if
        not granted in time, holding and queueing nothing."""
        return await self._acquire(_HOLD, timeout) is not None

    async def release(self) -> None:
        """Release the calling task's hold (RuntimeError if it has none). Runs to completion
        even if the caller is cancelled; raises LockLostError if the hold was lost."""
        await self._release(_HOLD)

    async def __aenter__(self) -> None:
        await self._enter(_HOLD)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self._exit(_HOLD, exc)


class RLock(Lock):
    """A reentrant Lock: the holding task may acquire it again at once, and holds it until
    it has released as many times. The owner is the task (in this process): re-entries are
    counted here, and Redis holds one lease, one token, for all of them. Otherwise as Lock.
    """

    def _reuse(self, mode: str, entries: list[_Entry]) -> Hold | None:
        return entries[-1].hold if entries else None
