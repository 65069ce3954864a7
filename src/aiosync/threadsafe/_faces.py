"""The blocking faces (``obj.sync``): the threading module's API over a thread-safe primitive.

A face holds no state of its own: every call goes to the primitive, so a thread using the
face and a task using the primitive share one FIFO queue. Blocking calls refuse to run on a
thread whose event loop is running (they would freeze it); the rest may be called anywhere.
"""

from __future__ import annotations

from asyncio.events import _get_running_loop
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import Any, TypeVar

from .._parking import check_timeout
from ._monitor import forbid_running_loop, run_blocking

__all__ = [
    "BarrierFace",
    "CapacityLimiterFace",
    "ConditionFace",
    "EventFace",
    "LatchFace",
    "LockFace",
    "SemaphoreFace",
]

T = TypeVar("T")


def _lock_timeout(blocking: bool, timeout: float | None, forever: float | None) -> float | None:
    """threading's ``acquire(blocking, timeout)`` as aiosync's ``timeout=``: None waits
    forever, 0 only tries. ``forever`` is the class's default (-1 for locks, None for
    semaphores); any other negative timeout is a ValueError."""
    seconds = None if timeout is None or timeout == forever else check_timeout(timeout)
    if not blocking:
        if seconds is not None:
            raise ValueError(f"can't specify a timeout for a non-blocking call, got {timeout!r}")
        return 0.0
    return seconds


def _wait_timeout(timeout: float | None) -> float | None:
    return None if timeout is None else check_timeout(timeout)


class _Face:
    __slots__ = ("_primitive",)

    def __init__(self, primitive: Any) -> None:
        self._primitive = primitive

    def __repr__(self) -> str:
        return f"<blocking face of {self._primitive!r}>"

    def _block(self, call: str, seconds: float | None, coro: Any) -> Any:
        """Run a blocking call's coroutine in this thread (refused on a loop's thread,
        unless ``seconds`` is 0: a call that only tries never blocks; pass None for a call
        that may block whatever its timeout)."""
        if seconds != 0 and _get_running_loop() is not None:
            coro.close()
            forbid_running_loop(f"{type(self._primitive).__name__}.sync.{call}")
        return run_blocking(coro)


class _Holdable(_Face):
    """``with face:`` as ``acquire()`` ... ``release()``, as the threading module has it."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float | None = -1) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class LockFace(_Holdable):
    """``threading.Lock``'s API (and ``threading.RLock``'s, for an RLock)."""

    __slots__ = ()
    _forever: float | None = -1

    def acquire(self, blocking: bool = True, timeout: float | None = -1) -> bool:
        """Acquire, in FIFO order with every other waiter; False if ``timeout`` (seconds)
        passed first or, with ``blocking=False``, if it cannot be had at once."""
        seconds = _lock_timeout(blocking, timeout, self._forever)
        result: bool = self._block("acquire()", seconds, self._primitive.acquire(seconds))
        return result

    def release(self) -> None:
        """Release (a thread or task that does not own an owned lock: RuntimeError)."""
        self._primitive.release()

    def locked(self) -> bool:
        """True if held."""
        result: bool = self._primitive.locked()
        return result


class SemaphoreFace(LockFace):
    """``threading.Semaphore``'s API (``BoundedSemaphore``'s, for a BoundedSemaphore)."""

    __slots__ = ()
    _forever = None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a permit, in FIFO order; False if ``timeout`` passed first."""
        return super().acquire(blocking, timeout)

    def release(self, n: int = 1) -> None:
        """Return ``n`` permits at once (BoundedSemaphore: ValueError past the bound,
        releasing none)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {n!r}")
        if n < 1:
            raise ValueError(f"n must be one or more, not {n!r}")
        self._primitive.release_many(n)


class CapacityLimiterFace(LockFace):
    """A CapacityLimiter's API for threads: the borrower is the calling thread, or any
    hashable with ``acquire_on_behalf_of``."""

    __slots__ = ()

    def acquire_on_behalf_of(
        self, borrower: Hashable, blocking: bool = True, timeout: float | None = -1
    ) -> bool:
        """Borrow a token for ``borrower``, in FIFO order; False if ``timeout`` passed."""
        seconds = _lock_timeout(blocking, timeout, self._forever)
        coro = self._primitive.acquire_on_behalf_of(borrower, seconds)
        result: bool = self._block("acquire_on_behalf_of()", seconds, coro)
        return result

    def release_on_behalf_of(self, borrower: Hashable) -> None:
        """Return ``borrower``'s token."""
        self._primitive.release_on_behalf_of(borrower)

    def locked(self) -> bool:
        """True if no token is free."""
        return not self._primitive.available_tokens


class EventFace(_Face):
    """``threading.Event``'s API."""

    __slots__ = ()

    def is_set(self) -> bool:
        """True if the flag is set."""
        result: bool = self._primitive.is_set()
        return result

    def set(self) -> None:
        """Set the flag, waking every waiter on every loop and thread."""
        self._primitive.set()

    def clear(self) -> None:
        """Reset the flag."""
        self._primitive.clear()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set; False if ``timeout`` (seconds) passed first."""
        seconds = _wait_timeout(timeout)
        result: bool = self._block("wait()", seconds, self._primitive.wait(seconds))
        return result


class LatchFace(_Face):
    """A CountdownLatch's API for threads."""

    __slots__ = ()

    @property
    def count(self) -> int:
        """How many more ``count_down()`` calls open the latch."""
        result: int = self._primitive.count
        return result

    def count_down(self, n: int = 1) -> None:
        """Count ``n`` events; at zero, wake every waiter."""
        self._primitive.count_down(n)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the count reaches zero; False if ``timeout`` passed first."""
        seconds = _wait_timeout(timeout)
        result: bool = self._block("wait()", seconds, self._primitive.wait(seconds))
        return result


class ConditionFace(_Holdable):
    """``threading.Condition``'s API; its lock is the blocking face of the Condition's."""

    __slots__ = ("_lock_face",)

    def __init__(self, primitive: Any) -> None:
        super().__init__(primitive)
        self._lock_face: LockFace = primitive._lock.sync

    def acquire(self, blocking: bool = True, timeout: float | None = -1) -> bool:
        """Acquire the underlying lock."""
        return self._lock_face.acquire(blocking, timeout)

    def release(self) -> None:
        """Release the underlying lock."""
        self._lock_face.release()

    # Even with timeout=0 these may block: re-taking the lock waits behind its queue.
    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, block until notified, re-acquire it; False on timeout."""
        seconds = _wait_timeout(timeout)
        result: bool = self._block("wait()", None, self._primitive.wait(seconds))
        return result

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        """Block until ``predicate()`` is true; return its last value."""
        seconds = _wait_timeout(timeout)
        coro = self._primitive.wait_for(predicate, seconds)
        result: T = self._block("wait_for()", None, coro)
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters, tasks or threads, in FIFO order (lock held)."""
        self._primitive.notify(n)

    def notify_all(self) -> None:
        """Wake every waiter (lock held)."""
        self._primitive.notify_all()


class BarrierFace(_Face):
    """``threading.Barrier``'s API (without ``action``)."""

    __slots__ = ()

    def wait(self, timeout: float | None = None) -> int:
        """Block until all parties arrived; return this party's arrival index."""
        seconds = _wait_timeout(timeout)
        result: int = self._block("wait()", seconds, self._primitive.wait(seconds))
        return result

    def reset(self) -> None:
        """Start a fresh round; parties waiting get BrokenBarrierError."""
        run_blocking(self._primitive.reset())

    def abort(self) -> None:
        """Break the barrier until ``reset()``."""
        run_blocking(self._primitive.abort())

    @property
    def parties(self) -> int:
        result: int = self._primitive.parties
        return result

    @property
    def n_waiting(self) -> int:
        result: int = self._primitive.n_waiting
        return result

    @property
    def broken(self) -> bool:
        result: bool = self._primitive.broken
        return result
