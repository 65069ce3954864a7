"""Condition on Redis: waiters in any processes, notified through Redis, bound to an
aiosync.redis.Lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from .._parking import check_timeout
from ._lock import Lock, RLock
from ._named import Named, ms
from ._session import CLAIM_WINDOW
from ._waiting import REGISTRATION, Answer, shielded, wait_on_redis

__all__ = ["Condition"]

T = TypeVar("T")



class Condition(Named):
    """A condition variable shared through Redis by every process using ``name``, bound
    to ``lock`` (an aiosync.redis.Lock; by default ``Lock(client, name + ":lock")``, the
    same in every process).

    The rules of asyncio.Condition (and the local aiosync.Condition), across processes:
    ``wait()``, ``notify()`` and ``notify_all()`` need the lock held by the calling task
    (RuntimeError otherwise); ``wait()`` releases it, waits, and re-acquires it before
    returning, also when cancelled (then it raises CancelledError with the lock held).
    Waiters are notified in arrival order, pushed through pub/sub. A notification handed
    to a waiter that times out or is cancelled passes on to the next waiter; one handed to
    a waiter whose process died passes on once its claim window (2 s) ends. A waiter whose
    registration lapsed (its process stalled 30 s) wakes as if notified, so use
    ``wait_for`` or re-check the predicate, as with any condition variable.
    """

    def __init__(self, client: Any, name: str, lock: Lock | None = None) -> None:
        super().__init__(client, name, "condition", 0, ("queue", "alive", "notified"))
        if lock is None:
            lock = Lock(client, name + ":lock")
        elif not isinstance(lock, Lock) or isinstance(lock, RLock):
            raise TypeError(f"lock must be an aiosync.redis.Lock, not {lock!r}")
        self._lock = lock

    def __repr__(self) -> str:
        return f"<aiosync.redis.Condition {self.name!r} lock={self._lock!r}>"

    @property
    def lock(self) -> Lock:
        return self._lock

    async def acquire(self, timeout: float | None = None) -> bool:
        return await self._lock.acquire(timeout)

    async def release(self) -> None:
        await self._lock.release()

    async def locked(self) -> bool:
        return await self._lock.locked()

    async def __aenter__(self) -> None:
        await self._lock.__aenter__()

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self._lock.__aexit__(exc_type, exc, tb)

    def _check_held(self, what: str) -> None:
        if self._lock.token is None:
            raise RuntimeError(f"cannot {what} on un-acquired lock")

    async def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait until notified, re-acquire the lock; return True. With
        ``timeout`` (seconds), return False (lock held again) if not notified in time."""
        self._check_held("wait")
        if timeout is not None:
            timeout = check_timeout(timeout)
        session = await self.session()
        waiter = session.new_owner(0)
        script = session.script("condition_wait")
        stay, claim = ms(REGISTRATION), ms(CLAIM_WINDOW)

        async def call(phase: str) -> Any:
            args = [waiter, claim, stay, phase, self.kind, self.value]
            return self.checked(await script(keys=self.keys, args=args))

        async def done(how: str) -> None:
            await session.script("condition_leave")(keys=self.keys, args=[waiter, claim, how])

        async def ask(register: bool) -> Answer:
            return int((await call("check"))[0]) != 0, True, REGISTRATION / 3

        # Registered before the lock is released, so that a notify() made as soon as it is
        # reaches this waiter; both in this task, which holds the lock.
        try:
            if timeout != 0:
                await shielded(call("register"))
            await self._lock.release()
        except BaseException:
            if timeout != 0:
                await shielded(done("leave"))
            if self._lock.token is None:  # released before the cancellation was raised
                await self._reacquire()
            raise
        notified = None
        try:
            if timeout != 0:
                notified = await wait_on_redis(
                    session, waiter, timeout, ask, lambda news: True, lambda: done("leave")
                )
                if notified:
                    await shielded(done("confirm"))
        finally:
            await self._reacquire()
        return notified is True

    async def _reacquire(self) -> None:
        # As asyncio.Condition: the lock is held again on the way out, also when
        # cancelled; the cancellation is raised once it is.
        cancelled = None
        while True:
            try:
                await self._lock.acquire()
                break
            except asyncio.CancelledError as error:
                cancelled = error
        if cancelled is not None:
            raise cancelled

    async def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        """Wait until ``predicate()`` is true (checked with the lock held); return its
        last value. With ``timeout`` (seconds), return it (false) once the time is up."""
        if timeout is not None:
            timeout = check_timeout(timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        result = predicate()
        while not result:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return result
            await self.wait(remaining)
            result = predicate()
        return result

    async def notify(self, n: int = 1) -> int:
        """Wake up to ``n`` waiters, in arrival order, in any process; return how many."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {n!r}")
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n!r}")
        self._check_held("notify")
        return await self._notify(str(n))

    async def notify_all(self) -> int:
        """Wake every waiter, in any process; return how many."""
        self._check_held("notify")
        return await self._notify("all")

    async def _notify(self, n: str) -> int:
        reply = await shielded(
            self.call("condition_notify", "", ms(CLAIM_WINDOW), n, self.kind, self.value)
        )
        return int(reply[1])
