"""The hand-written baseline of the cross-thread workloads: a lock for tasks on any event
loop and for plain threads, as a careful user writes it without a library.

A ``threading.Lock`` (the mutex) guards a ``locked`` flag and a FIFO deque of waiters. An
async waiter is a future of its own loop, woken with ``loop.call_soon_threadsafe`` (or
directly, when the releaser runs on that loop); a thread waiter blocks on a
``threading.Lock`` of its own (its gate). ``release()`` hands ownership straight to the
first waiter: the flag stays set, so nobody can barge in between the release and the
moment the woken waiter runs.

Cancellation, minimally but correctly: a task cancelled while queued removes itself; a task
cancelled after it was granted the lock (the grant and the cancellation raced) passes the
lock on. A grant whose loop has closed is passed on as well. ``acquire`` of the blocking
face takes ``blocking`` and ``timeout`` as ``threading.Lock.acquire`` does.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from types import TracebackType

__all__ = ["GlueLock"]


def _grant(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # cancelled meanwhile: its task will pass the lock on
        fut.set_result(None)


class _TaskWaiter:
    __slots__ = ("fut", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fut: asyncio.Future[None] = loop.create_future()
        self.granted = False  # read and written with the mutex held

    def wake(self) -> bool:
        """Deliver the grant; False if it could not be (the waiter's loop is closed)."""
        loop = self.loop
        if asyncio._get_running_loop() is loop:
            _grant(self.fut)
            return True
        try:
            loop.call_soon_threadsafe(_grant, self.fut)
        except RuntimeError:  # loop closed
            return False
        return True


class _ThreadWaiter:
    __slots__ = ("gate", "granted")

    def __init__(self) -> None:
        self.gate = threading.Lock()
        self.gate.acquire()
        self.granted = False

    def wake(self) -> bool:
        self.gate.release()
        return True


class GlueLock:
    """``async with lock`` for tasks on any loop; ``with lock.sync`` for plain threads."""

    __slots__ = ("_locked", "_mutex", "_waiters", "sync")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locked = False
        self._waiters: deque[_TaskWaiter | _ThreadWaiter] = deque()
        self.sync = _SyncFace(self)

    def locked(self) -> bool:
        return self._locked

    def waiting(self) -> int:
        """How many tasks and threads are queued (an estimate: read without the mutex)."""
        return len(self._waiters)

    # --- tasks ---------------------------------------------------------------------------

    async def acquire(self) -> bool:
        with self._mutex:
            if not self._locked:  # a free lock has no waiters: release hands it over
                self._locked = True
                return True
            waiter = _TaskWaiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            await waiter.fut
        except BaseException:
            with self._mutex:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:  # the lock was handed to us as we were cancelled: pass it on
                self.release()
            raise
        return True

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    # --- both ----------------------------------------------------------------------------

    def release(self) -> None:
        """Hand the lock to the first waiter, or unlock it; RuntimeError if not locked."""
        while True:
            with self._mutex:
                if not self._locked:
                    raise RuntimeError("release unlocked lock")
                if not self._waiters:
                    self._locked = False
                    return
                waiter = self._waiters.popleft()
                waiter.granted = True
            if waiter.wake():  # outside the mutex: the grant is decided already
                return
            # Its loop closed: nobody will run it, so release again on its behalf.

    # --- threads -------------------------------------------------------------------------

    def acquire_sync(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._mutex:
            if not self._locked:
                self._locked = True
                return True
            if not blocking:
                return False
            waiter = _ThreadWaiter()
            self._waiters.append(waiter)
        if waiter.gate.acquire(timeout=timeout):
            return True
        with self._mutex:  # timed out, unless the grant came meanwhile
            if waiter.granted:
                return True
            self._waiters.remove(waiter)
        return False


class _SyncFace:
    """``threading.Lock``'s API over a GlueLock."""

    __slots__ = ("_lock",)

    def __init__(self, lock: GlueLock) -> None:
        self._lock = lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire_sync(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self._lock.acquire_sync()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()
