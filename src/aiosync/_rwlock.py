"""RWLock: a fair reader-writer lock whose holds belong to tasks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from ._base import AcquireContext, TaskOwned, describe, name_of
from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = ["RWLock", "RWLockStatistics"]

_READ: Final = "read"
_WRITE: Final = "write"


@dataclass(frozen=True, slots=True)
class RWLockStatistics:
    #: The tasks holding the lock for reading (a task holding it for writing may be among
    #: them, after taking ``read`` again).
    readers: tuple[asyncio.Task[Any], ...]
    writer: asyncio.Task[Any] | None
    readers_waiting: int
    writers_waiting: int


class RWLock(TaskOwned, ParkingLot):
    """A reader-writer lock: ``async with rw.read`` shares, ``async with rw.write`` excludes.

    The policy, exactly:

    * Any number of tasks may hold ``read`` at once; a task holding ``write`` excludes every
      other task.
    * **One FIFO queue, no starvation.** A request that cannot be granted at once waits in
      arrival order, whatever its mode. Once a writer waits, new readers queue behind it.
      When the lock becomes free, it goes to the head of the queue: a writer alone, or all
      the readers that queued before the next waiting writer, together. Readers arriving
      while only readers hold and nobody waits are admitted at once.
    * **Holds belong to tasks.** A task may take ``read`` again while it holds ``read`` or
      ``write``, and ``write`` again while it holds ``write``: such re-entries are granted
      at once (queueing them would deadlock) and each must be released. A task holding
      ``read`` (and not ``write``) that asks for ``write`` gets RuntimeError: the upgrade
      would deadlock. Releasing a mode the task does not hold is a RuntimeError.
    * **Cancellation and timeouts.** ``acquire(timeout=)`` returns False on timeout, holding
      nothing; a waiter that leaves (timeout, cancellation) lets the requests behind it be
      granted if they now can; a waiter cancelled after being granted releases the grant.
    """

    __slots__ = ("_home", "_readers", "_writer", "_writes", "read", "write")

    def __init__(self) -> None:
        super().__init__()
        self._readers: dict[asyncio.Task[Any], int] = {}  # task -> read holds
        self._writer: asyncio.Task[Any] | None = None
        self._writes = 0  # the writer's holds
        self._home: asyncio.AbstractEventLoop | None = None
        #: The shared side: ``async with rw.read``.
        self.read = _Side(self, _READ)
        #: The exclusive side: ``async with rw.write``.
        self.write = _Side(self, _WRITE)

    def __repr__(self) -> str:
        if self._writer is not None:
            state = f"write-locked by {name_of(self._writer)}"
        elif self._readers:
            state = f"read-locked by {len(self._readers)} tasks"
        else:
            state = "unlocked"
        return describe(self, state, self._parked_count())

    def _try_acquire(self, mode: str, task: asyncio.Task[Any]) -> bool:
        """Grant ``mode`` to ``task`` at once if the policy allows it."""
        writer = self._writer
        if mode is _READ:
            if writer is task or task in self._readers:
                self._readers[task] = self._readers.get(task, 0) + 1
                return True
            if writer is None and not self._queue_has_parked():
                self._readers[task] = 1
                return True
            return False
        if writer is task:
            self._writes += 1
            return True
        if task in self._readers:
            raise RuntimeError(
                f"{name_of(task)} holds {self!r} for reading and asks for writing: "
                "an upgrade would deadlock; release read first"
            )
        if writer is None and not self._readers and not self._queue_has_parked():
            self._writer = task
            self._writes = 1
            return True
        return False

    def _queue_has_parked(self) -> bool:
        return bool(self._queue) and self._head_tag() is not None

    def _grant(self) -> None:
        """Hand the lock to the head of the queue: one writer, or the run of readers."""
        while (head := self._head_tag()) is not None:
            mode, task = head
            if mode is _WRITE:
                if self._writer is None and not self._readers:
                    self._writer = task
                    self._writes = 1
                    self._wake_one(head)
                return
            if self._writer is not None:
                return
            self._readers[task] = 1
            self._wake_one(head)

    def _abandoned(self, value: Any) -> None:
        # Granted, then cancelled before it could run: give the grant back.
        mode, task = value
        self._drop(mode, task)

    def _drop(self, mode: str, task: asyncio.Task[Any]) -> None:
        if mode is _READ:
            holds = self._readers[task] - 1
            if holds:
                self._readers[task] = holds
                return
            del self._readers[task]
            if self._readers:
                return
        else:
            self._writes -= 1
            if self._writes:
                return
            self._writer = None
        self._grant()

    async def _acquire(self, mode: str, timeout: float | None) -> bool:
        if timeout is not None:
            timeout = check_timeout(timeout)
        task = self._caller()
        if self._try_acquire(mode, task):
            return True
        if timeout == 0:
            return False
        return await self._park(timeout, (mode, task)) is not TIMED_OUT

    def _departed(self, tag: Any) -> None:
        self._grant()  # those behind a waiter that left may now be granted

    def _release(self, mode: str) -> None:
        task = self._caller()
        held = task in self._readers if mode is _READ else self._writer is task
        if not held:
            raise RuntimeError(
                f"{name_of(task)} releases {self!r} for {mode}ing, which it does not hold"
            )
        self._drop(mode, task)

    def statistics(self) -> RWLockStatistics:
        """Return a snapshot: holders and waiters of each mode."""
        tags = self._tags or {}
        modes = [tags[fut][0] for fut in self._queue if not fut.done() and fut in tags]
        return RWLockStatistics(
            tuple(self._readers),
            self._writer,
            modes.count(_READ),
            modes.count(_WRITE),
        )


class _Side(AcquireContext):
    """One mode of a RWLock, with the acquire/release API of a lock."""

    __slots__ = ("_mode", "_rwlock")

    def __init__(self, rwlock: RWLock, mode: str) -> None:
        self._rwlock = rwlock
        self._mode = mode

    def __repr__(self) -> str:
        return f"<{self._mode} side of {self._rwlock!r}>"

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire this side, waiting in FIFO order; return True.

        With ``timeout`` (seconds), return False if not granted in time, holding nothing.
        """
        return await self._rwlock._acquire(self._mode, timeout)

    def release(self) -> None:
        """Release one hold of this side; RuntimeError if the calling task holds none."""
        self._rwlock._release(self._mode)

    def locked(self) -> bool:
        """True if some task holds this side (for ``read``: any reader)."""
        if self._mode is _READ:
            return bool(self._rwlock._readers)
        return self._rwlock._writer is not None

    # ``async with`` straight to the lock's methods: one call less each way.
    async def __aenter__(self) -> None:
        await self._rwlock._acquire(self._mode, None)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._rwlock._release(self._mode)
