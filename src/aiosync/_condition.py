"""Condition: asyncio.Condition's drop-in, with ``timeout=`` and statistics."""

from __future__ import annotations

from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from ._base import describe
from ._lock import Lock
from ._parking import TIMED_OUT, ParkingLot, check_timeout

__all__ = ["Condition", "ConditionStatistics"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConditionStatistics:
    locked: bool
    tasks_waiting: int


class Condition(ParkingLot):
    """A condition variable, as ``asyncio.Condition``.

    Guarantees:

    * ``wait()`` and ``notify()`` require the lock (RuntimeError otherwise). ``wait()``
      releases it, sleeps until notified, and always re-acquires it before returning or
      raising, even when cancelled; a cancellation then re-raises the original
      CancelledError.
    * Notified waiters are woken in FIFO order. A waiter that leaves ``wait()`` with an
      exception (cancelled, even after being notified) notifies the next waiter in its
      place, so no notification is lost (the next waiter may see a spurious wake-up, which
      the condition-variable protocol allows).
    * ``wait(timeout=)`` returns False on timeout (lock re-acquired); ``wait_for(predicate,
      timeout=)`` returns the predicate's last value, as ``threading.Condition`` does.
    """

    __slots__ = ("_lock", "acquire", "locked", "release")

    def __init__(self, lock: Any = None) -> None:
        super().__init__()
        if lock is None:
            lock = Lock()
        else:
            for method in ("acquire", "release", "locked"):
                if not callable(getattr(lock, method, None)):
                    raise TypeError(
                        f"Condition lock must be a lock with acquire(), release() and "
                        f"locked(), not {lock!r}"
                    )
        self._lock = lock
        # The lock's methods, exported as asyncio.Condition does.
        self.locked: Callable[[], bool] = lock.locked
        self.acquire: Callable[[], Any] = lock.acquire
        self.release: Callable[[], None] = lock.release

    def __repr__(self) -> str:
        return describe(self, "locked" if self.locked() else "unlocked", self._waiting_count())

    # Plain functions handing back the lock's own coroutines: ``async with cond`` costs no
    # more than ``async with lock``.
    def __aenter__(self) -> Awaitable[Any]:
        return self._lock.__aenter__()  # type: ignore[no-any-return]

    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Awaitable[Any]:
        return self._lock.__aexit__(exc_type, exc, tb)  # type: ignore[no-any-return]

    async def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait until notified, re-acquire the lock; return True.

        With ``timeout`` (seconds), return False if not notified in time. The lock is held
        again on every return and every exception. Wake-ups may be spurious: re-check.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        if not self.locked():
            raise RuntimeError("cannot wait on un-acquired lock")
        # Queue (which checks the loop) before releasing, as asyncio does: a wrong loop is
        # reported while the caller still holds the lock.
        fut = self._enqueue() if timeout is None else None
        if fut is None and timeout:
            self._check_loop()
        try:
            self.release()
        except BaseException:
            if fut is not None:  # e.g. an RLock owned by another task: leave no waiter
                fut.cancel()
                self._note_dead(fut)
            raise
        try:
            try:
                if fut is not None:
                    # ParkingLot._park, inlined (see Lock.__aenter__).
                    try:
                        await fut
                    except BaseException:
                        self._leave_abnormally(fut)
                        raise
                    self._woken -= 1
                    return True
                if not timeout:
                    return False
                return await self._park(timeout) is not TIMED_OUT
            finally:
                lock = self._lock
                if not (lock.__class__ is Lock and lock._try_acquire()):
                    await self._reacquire()
        except BaseException:
            self._wake_one(False)
            raise

    async def _reacquire(self) -> None:
        # Re-acquire even if cancelled; only CancelledError is retried, so that other
        # (fatal) errors cannot make us spin.
        err = None
        while True:
            try:
                await self._lock.acquire()
                break
            except CancelledError as e:
                err = e
        if err is not None:
            try:
                raise err  # the most recent cancellation, as asyncio does
            finally:
                err = None  # break the reference cycle

    async def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        """Wait until ``predicate()`` is true and return its last value.

        With ``timeout`` (seconds, for the whole call), return the predicate's value as it
        stands when time runs out (false).
        """
        if not callable(predicate):
            raise TypeError(f"predicate must be callable, not {predicate!r}")
        if timeout is None:
            result = predicate()
            while not result:
                await self.wait()
                result = predicate()
            return result
        remaining = check_timeout(timeout)
        deadline: float | None = None
        result = predicate()
        while not result:
            if deadline is None:
                deadline = self._now() + remaining
            else:
                remaining = deadline - self._now()
                if remaining <= 0:
                    break
            await self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiting tasks (FIFO); the caller must hold the lock.

        A woken task returns from ``wait()`` only once it re-acquires the lock.
        """
        if n.__class__ is not int or n < 0:
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"n must be an int, not {n!r}")
            if n < 0:
                raise ValueError(f"n must be >= 0, not {n!r}")
        if not self.locked():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._wake(n, False)

    def notify_all(self) -> None:
        """Wake up all waiting tasks; the caller must hold the lock."""
        if not self.locked():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._wake_all(False)

    def statistics(self) -> ConditionStatistics:
        """Return a snapshot: whether the lock is held and how many tasks wait."""
        return ConditionStatistics(self.locked(), self._waiting_count())
