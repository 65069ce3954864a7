"""Lock on Redis: one holder at a time across processes and hosts, FIFO, leased, fenced."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis, RedisCluster

from .._base import calling_task, positive_number
from .._parking import check_timeout
from ._session import Hold, session_of

__all__ = ["Lock", "LockLostError", "RLock"]


class LockLostError(RuntimeError):
    """The hold ended without ``release()``: its lease expired (the process stalled, or
    Redis was unreachable for longer than the lease) or the lock's data was lost."""


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {name!r}")
    if not name:
        raise ValueError("name must not be empty")
    return name


def _check_lease(lease: object) -> float:
    seconds = positive_number("lease", lease)
    if seconds < 0.01:
        raise ValueError(f"lease must be at least 0.01 s (Redis expires in ms), not {lease!r}")
    return seconds


def _check_client(client: object) -> Any:
    if not isinstance(client, (Redis, RedisCluster)):
        raise TypeError(
            f"client must be a redis.asyncio.Redis or RedisCluster, not {type(client).__name__}"
        )
    return client


class Lock:
    """A lock shared through Redis by every process that uses the same ``name``.

    Guarantees:

    * **One holder at a time, FIFO.** Waiters across processes are served in arrival
      order; a waiter is woken by the release (pub/sub), and re-checks on its own after a
      bounded time (the holder's remaining lease) if a notification was lost. A waiter
      whose process dies stops renewing its place and is dropped from the head of the queue
      after ``lease`` seconds at most.
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
        self._client = _check_client(client)
        self._name = _check_name(name)
        self._lease = _check_lease(lease)
        tag = "{aiosync:" + name + "}"  # one hash slot for every key of this lock
        self._holder, self._queue = f"{tag}:holder", f"{tag}:queue"
        self._alive, self._counter = f"{tag}:alive", f"{tag}:token"
        self._released = f"{tag}:released"
        self._channel = f"{tag}:wake"
        self._holds: dict[asyncio.Task[Any], Hold] = {}
        # Tasks inside ``async with`` (how many nested blocks): cancelled if their hold is lost.
        self._in_block: dict[asyncio.Task[Any], int] = {}

    def __repr__(self) -> str:
        return f"<aiosync.redis.Lock {self._name!r} lease={self._lease:g}s>"

    @property
    def name(self) -> str:
        return self._name

    @property
    def token(self) -> int | None:
        """The calling task's fencing token; None if it holds nothing."""
        hold = self._holds.get(calling_task(self))
        return None if hold is None else hold.token

    @property
    def lost(self) -> asyncio.Event:
        """Set when the calling task's hold is lost (see LockLostError)."""
        hold = self._holds.get(calling_task(self))
        if hold is None:
            raise RuntimeError(f"{self!r} is not held by this task")
        return hold.lost

    async def locked(self) -> bool:
        """Whether some process holds the lock."""
        return bool(await self._client.exists(self._holder))

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire in FIFO order; return True. With ``timeout`` (seconds), return False if
        not granted in time, holding and queueing nothing."""
        if timeout is not None:
            timeout = check_timeout(timeout)
        task = calling_task(self)
        if task in self._holds:
            raise RuntimeError(f"{self!r} is already held by this task (it is not reentrant)")
        session = session_of(self._client)
        owner = session.new_owner()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        stay_ms = int(self._lease * 1000)
        keys = [self._holder, self._queue, self._alive, self._counter]
        acquire = session.script("lock_acquire")
        wake = None
        listening = False
        try:
            while True:
                enqueue = "0" if timeout == 0 else "1"
                if wake is not None:
                    wake.clear()
                # Shielded: a cancellation never reaches redis-py, which can swallow one
                # (CPython 3.11's wait_for, seen on 3.10 too); it is raised here once the
                # call is over, and the clean-up below then undoes what the call got.
                granted, value = await _shielded(
                    acquire(keys=keys, args=[owner, int(self._lease * 1000), stay_ms, enqueue])
                )
                if granted:
                    token = int(value)
                    hold = Hold(self._holder, f"{owner}:{token}", token, self._lease, self._on_lost)
                    self._holds[task] = hold
                    session.keep(hold)
                    return True
                if timeout == 0:
                    return False
                if wake is None:
                    # Listen, then try again at once: a release between our first try and
                    # the subscription would otherwise be missed until the re-check.
                    listening = True  # from here on, unlisten even if listen is cancelled
                    wake = await _shielded(session.listen(self._channel, owner))
                    continue
                pttl = int(value)
                recheck = self._lease / 3 if pttl <= 0 else min(pttl / 1000, self._lease / 3)
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        await self._abandon(session, owner)
                        return False
                    recheck = min(recheck, remaining)
                # Not asyncio.wait_for: before 3.12 it can swallow a cancellation that
                # arrives as the wake-up does (bpo-42130).
                recheck_timer = loop.call_later(max(recheck, 0.001), wake.set)
                try:
                    await wake.wait()
                finally:
                    recheck_timer.cancel()
        except BaseException:
            # Cancelled (or failed) with the outcome of the last call unknown: undo whatever
            # it may have got, even if cancelled again meanwhile.
            if task not in self._holds:
                await _shielded(self._abandon(session, owner))
            raise
        finally:
            if listening:
                await _shielded(session.unlisten(self._channel, owner))

    async def _abandon(self, session: Any, owner: str) -> None:
        await session.script("lock_abandon")(
            keys=[self._holder, self._queue, self._alive], args=[owner, self._channel]
        )

    async def release(self) -> None:
        """Release the calling task's hold (RuntimeError if it has none). Runs to completion
        even if the caller is cancelled; raises LockLostError if the hold was lost."""
        task = calling_task(self)
        hold = self._holds.get(task)
        if hold is None:
            raise RuntimeError(f"{self!r} cannot be released by a task that does not hold it")
        session = session_of(self._client)
        released = await _shielded(
            session.script("lock_release")(
                keys=[self._holder, self._queue, self._released],
                args=[hold.value, self._channel, int(self._lease * 1000)],
            )
        )
        del self._holds[task]
        session.drop(hold)
        if not released:
            hold.lost.set()
            raise LockLostError(f"{self!r} was lost before release (token {hold.token})")

    def _on_lost(self, hold: Hold) -> None:
        for task in self._in_block:
            if self._holds.get(task) is hold:
                task.cancel(msg="aiosync.redis: lock lost")

    async def __aenter__(self) -> None:
        await self.acquire()
        task = calling_task(self)
        self._in_block[task] = self._in_block.get(task, 0) + 1

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        task = calling_task(self)
        blocks = self._in_block.pop(task, 1) - 1
        if blocks:
            self._in_block[task] = blocks
        hold = self._holds.get(task)
        if hold is not None and hold.lost.is_set():
            self._forget(task, outermost=not blocks)
            if isinstance(exc, LockLostError):
                return  # already raised by an inner block of the same hold: let it through
            if isinstance(exc, asyncio.CancelledError) and hasattr(task, "uncancel"):
                task.uncancel()
            cause = exc if isinstance(exc, BaseException) else None
            raise LockLostError(f"{self!r} was lost while held (token {hold.token})") from cause
        await self.release()

    def _forget(self, task: asyncio.Task[Any], outermost: bool) -> None:
        """A lost hold's block ends: the task holds nothing once the outermost one has."""
        if outermost:
            self._holds.pop(task, None)


class RLock(Lock):
    """A reentrant Lock: the holding task may acquire it again at once, and holds it until
    it has released as many times. The owner is the task (in this process): re-entries are
    counted here, and Redis holds one lease, one token, for all of them. Otherwise as Lock.
    """

    def __init__(self, client: Any, name: str, *, lease: float = 30.0) -> None:
        super().__init__(client, name, lease=lease)
        self._depth: dict[asyncio.Task[Any], int] = {}

    def __repr__(self) -> str:
        return f"<aiosync.redis.RLock {self._name!r} lease={self._lease:g}s>"

    async def acquire(self, timeout: float | None = None) -> bool:
        task = calling_task(self)
        if task in self._holds:
            if timeout is not None:
                check_timeout(timeout)
            self._depth[task] += 1
            return True
        acquired = await super().acquire(timeout)
        if acquired:
            self._depth[task] = 1
        return acquired

    acquire.__doc__ = Lock.acquire.__doc__

    async def release(self) -> None:
        """Release one level; the hold ends at the last (see Lock.release)."""
        task = calling_task(self)
        depth = self._depth.get(task, 0)
        if depth > 1 and task in self._holds:
            self._depth[task] = depth - 1
            return
        self._depth.pop(task, None)
        await super().release()

    def _forget(self, task: asyncio.Task[Any], outermost: bool) -> None:
        depth = self._depth.get(task, 1) - 1
        if depth and not outermost:
            self._depth[task] = depth
        else:
            self._depth.pop(task, None)
            self._holds.pop(task, None)


async def _shielded(awaitable: Any) -> Any:
    """Await ``awaitable`` to the end even if the caller is cancelled meanwhile, then
    re-raise that cancellation: a release or a clean-up must not stop half-way."""
    inner = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        while not inner.done():
            try:
                await asyncio.wait({inner})
            except asyncio.CancelledError:
                continue
        if not inner.cancelled():
            inner.exception()  # retrieved: the cancellation is what the caller hears of
        raise
