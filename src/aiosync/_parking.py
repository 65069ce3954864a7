"""The one waiter mechanism every aiosync primitive is built on.

A :class:`ParkingLot` is a FIFO queue of parked waiters. A primitive decides *when* a
waiter may proceed; the lot parks, wakes and forgets waiters, with these guarantees:

* **FIFO.** Waiters are woken in the order they parked; a waiter that was cancelled or
  timed out is skipped, never woken.
* **O(1)** park, wake-next and leave (cancellation or timeout). A waiter that leaves is not
  searched for: it stays in the queue as a dead entry, is skipped when it reaches the front,
  and the queue is compacted once dead entries outnumber live ones, so an abandoned waiter
  costs amortised O(1) time and the queue never grows past about twice its live size.
* **A woken waiter is accounted for until it resumes.** ``_woken`` counts waiters that were
  woken (and so handed whatever the primitive granted) but have not run yet; a primitive
  uses it to keep asyncio's rule that a newcomer never overtakes a waiter on its way.
* **Nothing is lost to cancellation.** The lot tells the primitive, through hooks, what
  became of each waiter: ``_resumed(value)`` when a woken waiter runs, ``_abandoned(value)``
  when a woken waiter is cancelled before it runs (so the grant can be passed on), and
  ``_departed(tag)`` when a parked waiter leaves unwoken (cancelled or timed out).
* **Tags.** A waiter may carry a tag (a RWLock request's mode, a RateLimiter request's
  amount); ``_head_tag()`` shows the first live waiter's, so a primitive can decide whom to
  wake before waking.
* **No timer unless asked.** A waiter with a timeout gets one ``call_later`` handle, which
  is cancelled as soon as the waiter resumes. A waiter that times out leaves the queue at
  once and was never granted anything.
* **Loop binding as in asyncio.** A lot binds to the running loop the first time a waiter
  parks; parking from another loop raises ``RuntimeError``. A primitive used without
  contention is never bound.

``_park()`` is the whole protocol in one coroutine. The hottest untimed paths (``async with
lock``, ``Event.wait()``, ...) inline it as ``fut = self._enqueue(); await fut`` with
``_leave_abnormally(fut)`` on an exception and ``self._woken -= 1`` after, so that a
blocked task holds no coroutine frame beyond what asyncio's own primitives hold.

Waiters are ``asyncio.Future`` objects of the waiting task's loop. The lot only calls
``done()``, ``cancelled()``, ``set_result()``, ``result()`` and ``cancel()`` on them, so a
waiter living on another loop or in a plain thread can be any object offering those
(wrapping ``loop.call_soon_threadsafe`` or a ``threading.Lock``) without changing the
primitives' rules.
"""

from __future__ import annotations

import math
from asyncio import AbstractEventLoop, Future, get_running_loop
from collections import deque
from collections.abc import Callable
from typing import Any, Final

__all__ = ["TIMED_OUT", "ParkingLot", "check_timeout"]


class _TimedOut:
    __slots__ = ()

    def __repr__(self) -> str:
        return "TIMED_OUT"


TIMED_OUT: Final = _TimedOut()
"""What :meth:`ParkingLot._park` returns when the waiter's timeout expired first."""

# Compaction only pays off once a queue has some size; below this, dead entries are just
# skipped when they reach the front.
_COMPACT_MIN = 32


def check_timeout(timeout: object) -> float:
    """Validate a ``timeout=`` argument (not None) and return it as a float.

    Follows the threading module: a real number of seconds, ``0`` meaning "do not block".
    Negative and NaN timeouts are rejected, even where the call would not block.
    """
    # Any real number (int, float, Fraction, Decimal, numpy scalars); not bool, whose use
    # as a timeout is a mistake, nor str, which float() would parse.
    if isinstance(timeout, bool) or not hasattr(type(timeout), "__float__"):
        raise TypeError(f"timeout must be a number of seconds or None, not {timeout!r}")
    value = float(timeout)  # type: ignore[arg-type]
    if math.isnan(value) or value < 0:
        raise ValueError(f"timeout must be a non-negative number of seconds, not {timeout!r}")
    return value


class ParkingLot:
    """A FIFO queue of parked waiters; see the module docstring for its guarantees.

    Primitives inherit from it (every member is private, so nothing leaks into their public
    API) and read ``_queue`` and ``_woken`` directly on their fast paths: no waiter
    parked or on its way is ``not self._queue and not self._woken``.
    """

    __slots__ = ("_dead", "_loop", "_queue", "_tags", "_woken")

    def __init__(self) -> None:
        # Parked waiters in FIFO order, possibly with dead (cancelled, expired) entries; a
        # woken waiter is removed as it is woken. The deque object is never replaced.
        self._queue: deque[Future[Any]] = deque()
        self._loop: AbstractEventLoop | None = None
        # Waiters woken (and so handed whatever the primitive granted) that have not
        # resumed yet.
        self._woken = 0
        # Waiters that left without being woken since the last compaction; an upper bound
        # on the dead entries still queued.
        self._dead = 0
        # What tagged waiters told the primitive about themselves (a RWLock waiter's mode, a
        # RateLimiter request's amount); None until the first tagged waiter parks.
        self._tags: dict[Future[Any], Any] | None = None

    def _parked_count(self) -> int:
        """Waiters parked and not yet woken, cancelled or timed out. O(n)."""
        return sum(1 for fut in self._queue if not fut.done())

    def _waiting_count(self) -> int:
        """Tasks still inside a blocking call: parked, or woken but not yet resumed. O(n)."""
        return self._parked_count() + self._woken

    def _has_waiters(self) -> bool:
        """Whether any waiter is parked or woken-but-not-resumed (what blocks a newcomer).

        Amortised O(1): dead entries at the front are dropped on the way.
        """
        if self._woken:
            return True
        queue = self._queue
        while queue:
            if not queue[0].done():
                return True
            queue.popleft()
        return False

    def _bind_loop(self, loop: AbstractEventLoop) -> None:
        """Bind to ``loop`` on first use, as asyncio does; RuntimeError for another loop."""
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError(f"{self!r} is bound to a different event loop")

    #: Hook: a woken waiter resumes with ``value`` (called in the waiter's task). None when
    #: the primitive has nothing to do, which saves a call per wake-up.
    _resumed: Callable[[Any], None] | None = None

    def _abandoned(self, value: Any) -> None:
        """Hook: a woken waiter was cancelled before it resumed; pass ``value`` on."""

    #: Hook: a parked waiter left without being woken (cancelled, or timed out), with its
    #: tag. Called once per such waiter, when it leaves the queue's accounting.
    _departed: Callable[[Any], None] | None = None

    def _enqueue(self) -> Future[Any]:
        """Append a new waiter for the calling task and return it: the first half of
        ``_park``, for a hot path that awaits the waiter itself."""
        loop = get_running_loop()
        if loop is not self._loop:
            self._bind_loop(loop)
        fut = loop.create_future()
        self._queue.append(fut)
        return fut

    async def _park(self, timeout: float | None = None, tag: Any = None) -> Any:
        """Park the calling task until woken; return the value it was woken with.

        Returns :data:`TIMED_OUT` if ``timeout`` seconds passed first (the waiter has then
        left the queue and holds nothing). If the task is cancelled (or anything else is
        raised into it), the waiter leaves the queue and the exception propagates; if it
        had already been woken, ``_abandoned(value)`` runs first so that the primitive can
        pass on what the waiter was handed. A waiter that resumes normally runs
        ``_resumed(value)`` first. A ``tag`` (not None) is what ``_head_tag()`` reports
        while this waiter is first in the queue.
        """
        fut = self._enqueue()
        if tag is not None:
            if self._tags is None:
                self._tags = {}
            self._tags[fut] = tag
        if timeout is None:
            try:
                value = await fut
            except BaseException:
                self._leave_abnormally(fut)
                raise
        else:
            handle = self._start_timer(fut, timeout)
            try:
                value = await fut
            except BaseException:
                handle.cancel()
                self._leave_abnormally(fut)
                raise
            handle.cancel()
            if value is TIMED_OUT:
                return value
        self._woken -= 1
        if self._resumed is not None:
            self._resumed(value)
        return value

    def _start_timer(self, fut: Future[Any], timeout: float) -> Any:
        """Arrange for ``_expire(fut)`` after ``timeout`` seconds; return what cancels it."""
        return fut.get_loop().call_later(timeout, self._expire, fut)

    def _check_loop(self) -> None:
        """Bind to the running loop, or raise RuntimeError if bound to another, before a
        wait that does not park at once (the check ``_enqueue`` makes when it does)."""
        loop = get_running_loop()
        if loop is not self._loop:
            self._bind_loop(loop)

    def _now(self) -> float:
        """The time that ``timeout=`` deadlines are measured on: the running loop's."""
        return get_running_loop().time()

    def _expire(self, fut: Future[Any]) -> None:
        if not fut.done():
            fut.set_result(TIMED_OUT)
            self._note_dead(fut)

    def _leave_abnormally(self, fut: Future[Any]) -> None:
        if fut.done() and not fut.cancelled():
            value = fut.result()
            if value is not TIMED_OUT:
                # Woken, then cancelled before it could resume: hand the grant back.
                self._woken -= 1
                self._abandoned(value)
        else:
            if not fut.done():
                # An exception thrown into the task while parked; make the entry dead.
                fut.cancel()
            self._note_dead(fut)

    def _note_dead(self, fut: Future[Any]) -> None:
        tag = self._tags.pop(fut, None) if self._tags else None
        self._dead = dead = self._dead + 1
        queue = self._queue
        if dead >= _COMPACT_MIN and 2 * dead >= len(queue):
            live = [fut for fut in queue if not fut.done()]
            queue.clear()
            queue.extend(live)
            self._dead = 0
        if self._departed is not None:
            self._departed(tag)

    def _wake_one(self, value: Any = None) -> bool:
        """Wake the first parked waiter with ``value``; return False if there was none."""
        queue = self._queue
        while queue:
            fut = queue.popleft()
            if not fut.done():
                if self._tags:
                    self._tags.pop(fut, None)
                fut.set_result(value)
                self._woken += 1
                return True
        return False

    def _pass_on(self, value: Any = None) -> None:
        """Hand an exclusive grant to the first waiter, unless a woken one is on its way."""
        if not self._woken:
            self._wake_one(value)

    def _head_tag(self) -> Any:
        """The tag of the first parked waiter; None if it has none or nobody is parked."""
        queue = self._queue
        while queue:
            fut = queue[0]
            if not fut.done():
                return self._tags.get(fut) if self._tags else None
            queue.popleft()
        return None

    def _wake(self, n: int, value: Any = None) -> int:
        """Wake up to ``n`` parked waiters, in FIFO order; return how many were woken."""
        queue = self._queue
        woken = 0
        while woken < n and queue:
            fut = queue.popleft()
            if not fut.done():
                if self._tags:
                    self._tags.pop(fut, None)
                fut.set_result(value)
                woken += 1
        self._woken += woken
        return woken

    def _wake_all(self, value: Any = None) -> int:
        """Wake every parked waiter; return how many were woken."""
        queue = self._queue
        woken = 0
        # Setting a result only schedules the waiter's task, so nothing re-enters the
        # queue while we walk it.
        for fut in queue:
            if not fut.done():
                fut.set_result(value)
                woken += 1
        queue.clear()
        if self._tags:
            self._tags.clear()
        self._dead = 0
        self._woken += woken
        return woken

    def _wake_numbered(self) -> int:
        """Wake every parked waiter, the i-th in FIFO order with ``i``; return the count."""
        queue = self._queue
        woken = 0
        for fut in queue:
            if not fut.done():
                fut.set_result(woken)
                woken += 1
        queue.clear()
        if self._tags:
            self._tags.clear()
        self._dead = 0
        self._woken += woken
        return woken
