"""The one mechanism under every aiosync.redis lock-like primitive: a named pool of permits
in Redis, granted first come first served across processes, each grant a lease.

A primitive is ``value`` permits; an acquisition asks for a weight (a Lock: 1 of 1, a
Semaphore: 1 of ``value``, a RWLock: 1 to read, all to write). The Lua scripts beside this
module (``lua/_permits.lua`` and the scripts it is prepended to) keep one FIFO queue:
the head is served as soon as it fits and nobody behind it is served first. The scripts
grant waiters directly, on any call that frees permits, for a short claim window; the
waiter holds them from the message on, and its session confirms the grant (makes it a full
lease) in the background. This module is the client side: the acquire loop (through
``wait_on_redis``), the clean-up of an acquisition given up, and the bookkeeping of which
task (or borrower) holds what.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass
from typing import Any

from .._base import calling_task
from .._parking import check_timeout
from ._named import Named, check_lease, ms
from ._session import CLAIM_WINDOW, Hold, Session, session_of
from ._waiting import Answer, shielded, wait_on_redis

__all__ = ["Leased", "LockLostError", "Permits"]

#: How long Redis remembers a released or abandoned acquisition, so that a repeated call
#: of it (redis-py re-sends after a timeout, with retries taking up to seconds) is refused.
FORGET_AFTER = 60.0


class LockLostError(RuntimeError):
    """The hold ended without ``release()``: its lease expired (the process stalled, or
    Redis was unreachable for longer than the lease) or the lock's data was lost."""


class Permits(Named):
    """The Redis state of one named primitive (see the module docstring)."""

    def __init__(self, client: Any, name: str, kind: str, value: int, lease: float) -> None:
        super().__init__(client, name, kind, value, ("holders", "grants", "queue", "alive", "gone"))
        self.lease = check_lease(lease)

    async def acquire(self, weight: int, timeout: float | None, on_lost: Any) -> Hold | None:
        """Wait for ``weight`` permits in FIFO order; the grant, or None on timeout (then
        nothing is held or queued). Cancelled, it undoes whatever it got."""
        session = await self.session()
        owner = session.new_owner(weight)
        script = session.script("acquire")
        lease_ms = ms(self.lease)

        def hold(token: int) -> Hold:
            return Hold(self.keys[1], self.keys[2], owner, token, self.lease, on_lost)

        async def ask(queue: bool) -> Answer:
            reply = await script(
                keys=self.keys,
                args=[
                    owner,
                    ms(CLAIM_WINDOW),
                    lease_ms,
                    lease_ms,  # a waiter keeps its place for a lease
                    "1" if queue else "0",
                    self.kind,
                    self.value,
                    ms(FORGET_AFTER),
                ],
            )
            status = int(self.checked(reply)[0])
            if status == 1:
                granted = hold(int(reply[1]))
                session.keep(granted)
                return True, granted, 0.0
            if status == -1:  # given up already (cannot happen to a live call)
                return True, None, 0.0
            first_lease_ends = int(reply[1]) / 1000
            recheck = self.lease / 3
            if first_lease_ends > 0:
                recheck = min(recheck, first_lease_ends)
            return False, None, recheck

        def hear(grant: tuple[int, float]) -> Hold:
            # Handed over by another call: ours for the claim window already, and made a
            # full lease by the session in the background.
            token, claim_window = grant
            granted = hold(token)
            session.keep(granted, claimed=claim_window)
            return granted

        def give_up() -> Awaitable[Any]:
            return self._abandon(session, owner)

        result: Hold | None = await wait_on_redis(session, owner, timeout, ask, hear, give_up)
        return result

    async def _abandon(self, session: Session, owner: str) -> None:
        await session.script("abandon")(
            keys=self.keys, args=[owner, ms(CLAIM_WINDOW), ms(FORGET_AFTER)]
        )

    async def release(self, hold: Hold) -> bool:
        """Give ``hold`` back (shielded: runs to the end even if the caller is cancelled);
        False if it had been lost."""
        session = session_of(self.client)
        session.drop(hold)
        released = await shielded(
            session.script("release")(
                keys=self.keys, args=[hold.owner, ms(CLAIM_WINDOW), ms(FORGET_AFTER)]
            )
        )
        return bool(released)

    async def state(self) -> tuple[int, int, int, int]:
        """(permits, live holders of weight 1, live heavier holders, waiters)."""
        reply = await self.call("permits_state")
        return int(reply[0]), int(reply[1]), int(reply[2]), int(reply[3])


@dataclass(eq=False)
class _Entry:
    """One acquisition as its task sees it; re-entries share the hold of another."""

    hold: Hold
    mode: str
    in_block: bool = False


class Leased:
    """Task bookkeeping of a primitive built on Permits: which task holds what, the
    ``token``/``lost`` views, ``async with`` that surfaces a loss as LockLostError.

    A subclass states its modes: ``_weight(mode)`` (default: 1 permit), and
    ``_reuse(mode, entries)``, which says whether a new acquisition re-enters a hold the
    task has (RLock, a RWLock's read inside write), raises (a Lock acquired twice), or asks
    Redis (None).
    """

    def __init__(self, permits: Permits) -> None:
        self._permits = permits
        # holder (a task, or a CapacityLimiter's borrower) -> its acquisitions, in order
        self._entries: dict[Hashable, list[_Entry]] = {}

    @property
    def name(self) -> str:
        return self._permits.name

    def _weight(self, mode: str) -> int:
        return 1

    def _reuse(self, mode: str, entries: list[_Entry]) -> Hold | None:
        return None

    def _latest(self, mode: str, holder: Hashable = None) -> _Entry | None:
        """The latest acquisition of ``mode`` by ``holder`` (default: the calling task)."""
        if holder is None:
            holder = calling_task(self)
        for entry in reversed(self._entries.get(holder, ())):
            if entry.mode == mode:
                return entry
        return None

    def _token(self, mode: str) -> int | None:
        entry = self._latest(mode)
        return None if entry is None else entry.hold.token

    def _lost(self, mode: str) -> asyncio.Event:
        entry = self._latest(mode)
        if entry is None:
            raise RuntimeError(f"{self!r} is not held by this task")
        return entry.hold.lost

    async def _acquire(
        self, mode: str, timeout: float | None, holder: Hashable = None
    ) -> _Entry | None:
        if timeout is not None:
            timeout = check_timeout(timeout)
        if holder is None:
            holder = calling_task(self)
        entries = self._entries.get(holder, [])
        hold = self._reuse(mode, entries)
        if hold is not None:
            hold.uses += 1
        else:
            hold = await self._permits.acquire(self._weight(mode), timeout, self._on_lost)
            if hold is None:
                return None
        entry = _Entry(hold, mode)
        self._entries.setdefault(holder, []).append(entry)
        return entry

    async def _release(self, mode: str, holder: Hashable = None) -> None:
        if holder is None:
            holder = calling_task(self)
        entry = self._latest(mode, holder)
        if entry is None:
            raise RuntimeError(f"{self!r} cannot be released by {_who(holder)}")
        self._forget(entry, holder)
        hold = entry.hold
        if hold.uses:
            return
        if hold.lost.is_set() or not await self._permits.release(hold):
            hold.lost.set()
            raise LockLostError(f"{self!r} was lost before release (token {hold.token})")

    def _forget(self, entry: _Entry, holder: Hashable) -> None:
        entries = self._entries[holder]
        entries.remove(entry)
        if not entries:
            del self._entries[holder]
        entry.hold.uses -= 1

    def _on_lost(self, hold: Hold) -> None:
        for holder, entries in self._entries.items():
            if any(e.hold is hold and e.in_block for e in entries):
                assert isinstance(holder, asyncio.Task)  # only tasks are in blocks
                holder.cancel(msg="aiosync.redis: lock lost")

    async def _enter(self, mode: str) -> None:
        entry = await self._acquire(mode, None)
        assert entry is not None  # no timeout
        entry.in_block = True

    async def _exit(self, mode: str, exc: object) -> None:
        entry = self._latest(mode)
        if entry is None or not entry.hold.lost.is_set():
            await self._release(mode)
            return
        task = calling_task(self)
        self._forget(entry, task)
        if isinstance(exc, LockLostError):
            return  # already raised by an inner block of the same hold: let it through
        if isinstance(exc, asyncio.CancelledError) and hasattr(task, "uncancel"):
            task.uncancel()
        cause = exc if isinstance(exc, BaseException) else None
        raise LockLostError(f"{self!r} was lost while held (token {entry.hold.token})") from cause


def _who(holder: Hashable) -> str:
    if isinstance(holder, asyncio.Task):
        return "a task that does not hold it"
    return f"{holder!r}, which holds none"
