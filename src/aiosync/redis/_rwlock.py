"""RWLock on Redis: shared ``read``, exclusive ``write``, one FIFO queue across processes."""

from __future__ import annotations

from typing import Any, Final

from ._permits import Leased, Permits, _Entry
from ._session import Hold

__all__ = ["RWLock"]

_READ: Final = "read"
_WRITE: Final = "write"
#: Readers take one permit each, a writer all of them: "unlimited" readers.
_ALL = 1 << 30


class RWLock(Leased):
    """A reader-writer lock shared through Redis: ``async with rw.read`` shares,
    ``async with rw.write`` excludes, across every process using the same ``name``.

    The policy is the local aiosync.RWLock's, across processes: one FIFO queue whatever
    the mode (once a writer waits, later readers queue behind it; when the lock frees, the
    head is served: a writer alone, or all the readers before the next writer). Re-entries
    within a task are granted at once and counted in the process: ``read`` again while
    holding ``read`` or ``write``, ``write`` again while holding ``write``; they share the
    Redis hold they re-enter (its token, its lease), which is released when the last of
    them is. Asking for ``write`` while holding only ``read`` is a RuntimeError (the upgrade
    would deadlock). Each hold is a lease with a fencing token, renewed by the watchdog,
    its loss surfaced as LockLostError, as for aiosync.redis.Lock.
    """

    def __init__(self, client: Any, name: str, *, lease: float = 30.0) -> None:
        super().__init__(Permits(client, name, "rwlock", _ALL, lease))
        #: The shared side: ``async with rw.read``.
        self.read = _Side(self, _READ)
        #: The exclusive side: ``async with rw.write``.
        self.write = _Side(self, _WRITE)

    def __repr__(self) -> str:
        return f"<aiosync.redis.RWLock {self.name!r} lease={self._permits.lease:g}s>"

    def _weight(self, mode: str) -> int:
        return 1 if mode is _READ else _ALL

    def _reuse(self, mode: str, entries: list[_Entry]) -> Hold | None:
        modes = {entry.mode for entry in entries}
        if mode is _READ and modes:
            return entries[-1].hold
        if _WRITE in modes:
            return next(e.hold for e in reversed(entries) if e.mode is _WRITE)
        if modes:
            raise RuntimeError(f"{self!r}: a task holding read cannot take write (deadlock)")
        return None


class _Side:
    """One mode of a RWLock, with the API of aiosync.redis.Lock."""

    __slots__ = ("_mode", "_rwlock")

    def __init__(self, rwlock: RWLock, mode: str) -> None:
        self._rwlock = rwlock
        self._mode = mode

    def __repr__(self) -> str:
        return f"<{self._mode} side of {self._rwlock!r}>"

    @property
    def token(self) -> int | None:
        """The fencing token of the calling task's latest hold of this side (a re-entry's
        is the hold's it re-entered); None if it holds none."""
        return self._rwlock._token(self._mode)

    @property
    def lost(self) -> Any:
        """An asyncio.Event set when the calling task's latest hold of this side is lost."""
        return self._rwlock._lost(self._mode)

    async def locked(self) -> bool:
        """Whether some process holds this side (for ``read``: any reader)."""
        _, readers, writers, _ = await self._rwlock._permits.state()
        return bool(readers if self._mode is _READ else writers)

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire this side in FIFO order; return True. With ``timeout`` (seconds), return
        False if not granted in time, holding and queueing nothing."""
        return await self._rwlock._acquire(self._mode, timeout) is not None

    async def release(self) -> None:
        """Release the calling task's latest hold of this side (RuntimeError if none);
        raises LockLostError if it was lost."""
        await self._rwlock._release(self._mode)

    async def __aenter__(self) -> None:
        await self._rwlock._enter(self._mode)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self._rwlock._exit(self._mode, exc)
