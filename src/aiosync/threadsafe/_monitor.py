"""How a primitive becomes thread-safe: one mutex around its state, and waiters that live
on any event loop or in any thread.

Every primitive of :mod:`aiosync` keeps its state in plain attributes, decides in plain
methods, and parks waiters in a :class:`~aiosync._parking.ParkingLot`. A thread-safe class
reuses that primitive's code unchanged, as a :class:`Monitor`:

* **One mutex per instance** (a ``threading.RLock``), held by every public method for its
  whole run (:func:`guard` wraps them), by any thread. So the primitive's rules run exactly
  as in the single-loop class, one caller at a time; a public method may call another.
* **Waiters that release the mutex while parked.** A Monitor's queue holds
  :class:`LoopWaiter` (a task on any event loop) and :class:`ThreadWaiter` (a plain thread).
  Awaiting one releases the mutex, sleeps, and takes the mutex back before the primitive's
  code goes on, also on cancellation; so the primitives' own ``fut = self._enqueue();
  await fut`` idiom works unchanged. A LoopWaiter is woken through its loop's
  ``call_soon_threadsafe`` (directly, when the waker runs on that loop); a ThreadWaiter
  through a ``threading.Lock`` of its own. Waking and cancelling a waiter both happen
  under the mutex, so they never race: a waiter is woken once or leaves once.
* **The blocking face runs the same code.** A plain thread calls the same coroutine
  methods and drives them with :func:`run_blocking`: the only place they could suspend is
  a waiter, and a ThreadWaiter blocks the thread instead of suspending, so the coroutine
  finishes in one step.
* **A waiter whose loop closed is dropped.** A LoopWaiter whose loop is closed counts as
  gone: wake-ups skip it (accounted for when the public method that noticed it finishes,
  never in the middle of a wake-up loop). A woken LoopWaiter is listed in ``_in_flight``
  until its task runs; every public method first checks whether one of those loops has
  closed (a loop that stops and closes drops the wake-ups it had not run yet) and passes
  what such a task was handed on, as for a task cancelled after being woken (``_lost``).
  Parked threads re-check every RECHECK_INTERVAL; parked tasks rely on the next call.

Nothing relies on the GIL: every field of a primitive and of its waiters is read and
written with the mutex held; the only hand-offs between threads are
``call_soon_threadsafe`` and ``threading`` locks; an asyncio future is only touched on its
own loop's thread.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from asyncio.events import _get_running_loop
from collections.abc import Callable, Coroutine, Generator
from typing import Any, ClassVar, Final, TypeVar

from .._base import running_task
from .._parking import TIMED_OUT, ParkingLot

__all__ = [
    "AcquirableMonitor",
    "LoopWaiter",
    "Monitor",
    "ThreadWaiter",
    "forbid_running_loop",
    "guard",
    "run_blocking",
]

T = TypeVar("T")

_PENDING: Final = 0
_WOKEN: Final = 1
_GONE: Final = 2  # cancelled, timed out, or its loop closed: never to be woken
_BURIED: Final = 3  # its loop closed and the monitor has accounted for it


def _release_all(mutex: Any) -> int:
    """Release a RLock held (possibly re-entered) by this thread; return its depth."""
    depth: int = mutex._release_save()[0]
    return depth


def _acquire_again(mutex: Any, depth: int) -> None:
    for _ in range(depth):
        mutex.acquire()


class _Waiter:
    """What a Monitor's queue holds: the part of ``asyncio.Future`` a ParkingLot uses.

    Every method is called with the monitor's mutex held.
    """

    __slots__ = ("_monitor", "_state", "_value")

    def __init__(self, monitor: Monitor) -> None:
        self._monitor = monitor
        self._state = _PENDING
        self._value: Any = None

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state >= _GONE

    def cancel(self) -> bool:
        if self._state != _PENDING:
            return False
        self._state = _GONE
        return True

    def result(self) -> Any:
        return self._value

    def set_result(self, value: Any) -> None:
        """Wake the waiter with ``value`` (it is pending: the lot checked ``done()``)."""
        raise NotImplementedError

    def start_timer(self, timeout: float) -> Any:
        """Arrange for the monitor to expire this waiter; return what cancels that."""
        raise NotImplementedError


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():  # cancelled meanwhile: the task will tell the monitor itself
        fut.set_result(value)


class LoopWaiter(_Waiter):
    """A task parked on some event loop."""

    __slots__ = ("_fut", "_loop", "_sent")

    def __init__(self, monitor: Monitor, loop: asyncio.AbstractEventLoop) -> None:
        # _Waiter.__init__, inlined: one is made per contended wait.
        self._monitor = monitor
        self._state = _PENDING
        self._value: Any = None
        self._loop = loop
        self._fut: asyncio.Future[Any] = loop.create_future()
        self._sent = False  # woken, and listed in the monitor's _in_flight until it runs

    def done(self) -> bool:
        if self._state == _PENDING:
            if _get_running_loop() is self._loop:
                # On the waiter's own loop a cancelled task is seen at once, as with the
                # single-loop classes (it leaves the queue itself when it runs); from other
                # threads its future is not touched, and it leaves when it runs.
                if self._fut.done():
                    self._state = _GONE
            elif self._loop.is_closed():
                # Nobody will ever run this task: skip it, and let the primitive know.
                self._state = _GONE
                self._monitor._orphans.append((self, False))
        return self._state != _PENDING

    def set_result(self, value: Any) -> None:
        self._state = _WOKEN
        self._value = value
        loop = self._loop
        monitor = self._monitor
        if _get_running_loop() is loop:
            fut = self._fut
            if not fut.done():
                fut.set_result(value)
        else:
            try:
                loop.call_soon_threadsafe(_resolve, self._fut, value)
            except RuntimeError:  # closed since done() was asked: pass the grant on
                if value is not TIMED_OUT:
                    monitor._orphans.append((self, True))
                return
        if value is TIMED_OUT:
            return  # expired: it holds nothing, and the lot has counted it gone already
        # Until the task runs, its loop could close and drop the wake-up (even when it was
        # sent from that loop's own thread, if the loop stops first).
        self._sent = True
        in_flight = monitor._in_flight.get(loop)
        if in_flight is None:
            monitor._in_flight[loop] = {self}
        else:
            in_flight.add(self)

    def start_timer(self, timeout: float) -> Any:
        return self._loop.call_later(timeout, self._monitor._expire, self)

    def __await__(self) -> Generator[Any, None, Any]:
        mutex = self._monitor._mutex
        depth = _release_all(mutex)
        try:
            yield from self._fut.__await__()
        finally:
            if depth == 1:
                mutex.acquire()
            else:
                _acquire_again(mutex, depth)
            if self._sent:  # arrived: off the monitor's _in_flight
                in_flight = self._monitor._in_flight
                waiters = in_flight.get(self._loop)
                if waiters is not None:
                    waiters.discard(self)
                    if not waiters:
                        del in_flight[self._loop]
        return self._value


class _NoTimer:
    __slots__ = ()

    def cancel(self) -> None:
        pass


_NO_TIMER: Final = _NoTimer()


class ThreadWaiter(_Waiter):
    """A plain thread, blocked on a lock of its own until woken or timed out."""

    __slots__ = ("_gate", "_timeout")

    def __init__(self, monitor: Monitor) -> None:
        super().__init__(monitor)
        self._gate = threading.Lock()
        self._gate.acquire()
        self._timeout = -1.0

    def set_result(self, value: Any) -> None:
        self._state = _WOKEN
        self._value = value
        self._gate.release()

    def start_timer(self, timeout: float) -> Any:
        self._timeout = timeout
        return _NO_TIMER

    def _block(self) -> bool:
        """Wait for the gate (without the mutex); False if the timeout passed first.

        Wakes every RECHECK_INTERVAL to pass on a grant held by a task whose loop closed
        before it could run, which nothing else may be there to notice.
        """
        gate, monitor = self._gate, self._monitor
        deadline = None if self._timeout < 0 else time.monotonic() + self._timeout
        while True:
            wait = RECHECK_INTERVAL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return gate.acquire(blocking=False)
            if gate.acquire(timeout=wait):
                return True
            if monitor._in_flight:
                monitor._begin()
                monitor._end()

    def __await__(self) -> Generator[Any, None, Any]:
        # Blocks instead of suspending: a coroutine awaiting this finishes without yielding.
        monitor = self._monitor
        depth = _release_all(monitor._mutex)
        try:
            opened = self._block()
        finally:
            _acquire_again(monitor._mutex, depth)
        if not opened and self._state == _PENDING:
            monitor._expire(self)
        return self._value
        yield  # unreachable: makes this method a generator


#: How often a parked thread checks for grants lost to a closed loop (seconds).
RECHECK_INTERVAL: Final = 1.0


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run one of a Monitor's coroutine methods to completion in the calling thread."""
    try:
        coro.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError(f"{coro!r} suspended outside an event loop")


def forbid_running_loop(call: str) -> None:
    """RuntimeError if the calling thread runs an event loop: blocking would freeze it."""
    if _get_running_loop() is not None:
        raise RuntimeError(
            f"{call} blocks the calling thread, which is running an event loop; "
            "use the async face instead (await / async with)"
        )


#: The slots every concrete Monitor class declares.
MONITOR_SLOTS: Final = ("_in_flight", "_mutex", "_orphans", "sync")


class Monitor(ParkingLot):
    """A ParkingLot shared by every loop and thread, its state guarded by ``_mutex``.

    A thread-safe class is ``class Lock(Monitor, aiosync.Lock)`` with its public methods
    wrapped by :func:`guard`, and ``__slots__ = MONITOR_SLOTS`` (Monitor cannot declare
    them: two bases of a class may not both add slots to ParkingLot).
    """

    __slots__ = ()

    _mutex: threading.RLock
    # Waiters found gone outside the primitive's own accounting: (waiter, was_woken).
    _orphans: list[tuple[_Waiter, bool]]
    # Waiters woken through another loop's call_soon_threadsafe that have not resumed yet,
    # by loop.
    _in_flight: dict[asyncio.AbstractEventLoop, set[LoopWaiter]]

    #: The blocking face's class; ``sync`` is one made for this instance.
    _face: ClassVar[type[Any] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._mutex = threading.RLock()  # type: ignore[misc]
        self._orphans = []  # type: ignore[misc]
        self._in_flight = {}  # type: ignore[misc]
        super().__init__(*args, **kwargs)
        if self._face is not None:
            self.sync = self._face(self)  # type: ignore[misc]

    def _enqueue(self) -> Any:
        loop = _get_running_loop()
        waiter = LoopWaiter(self, loop) if loop is not None else ThreadWaiter(self)
        self._queue.append(waiter)  # type: ignore[arg-type]
        return waiter

    def _start_timer(self, fut: Any, timeout: float) -> Any:
        return fut.start_timer(timeout)

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        pass  # shared by every loop

    def _check_loop(self) -> None:
        pass

    def _now(self) -> float:
        return time.monotonic()  # the same clock for tasks on any loop and for threads

    # Every public method runs between _begin() and _end() (the hottest inline them).
    def _begin(self) -> None:
        """Take the mutex; first pass on any grant lost to a loop that closed."""
        self._mutex.acquire()
        if self._in_flight:
            try:
                self._recover_lost()
            except BaseException:
                self._mutex.release()
                raise

    def _end(self) -> None:
        """Account for waiters found gone meanwhile, and release the mutex."""
        try:
            if self._orphans:
                self._bury_orphans()
        finally:
            self._mutex.release()

    def _expire(self, fut: Any) -> None:
        self._begin()
        try:
            super()._expire(fut)
        finally:
            self._end()

    def _caller(self) -> Any:
        """The owner of what the caller acquires: its task, or else its thread."""
        loop = _get_running_loop()
        if loop is not None and (task := running_task(loop)) is not None:
            return task
        return threading.current_thread()

    async def _unguarded(self, awaitable: Coroutine[Any, Any, T]) -> T:
        """Await something other than one of our waiters without holding the mutex."""
        depth = _release_all(self._mutex)
        try:
            return await awaitable
        finally:
            _acquire_again(self._mutex, depth)

    def _recover_lost(self) -> None:
        """Woken tasks whose loop has closed will never run: pass on what they were
        handed. Checked at the start of every public method while any woken task has not
        run yet (and every second by parked threads), so that a decision never rests on a
        grant that is lost."""
        for loop in self._in_flight:
            if loop.is_closed():
                break
        else:
            return  # the common case, made cheap: one or two live loops
        for loop in [loop for loop in self._in_flight if loop.is_closed()]:
            self._orphans.extend((waiter, True) for waiter in self._in_flight.pop(loop))
        self._bury_orphans()

    def _bury_orphans(self) -> None:
        """Account for waiters whose loop closed as for cancelled ones (after being woken,
        if they were), so that what they held or blocked is passed on."""
        orphans = self._orphans
        while orphans:
            waiter, was_woken = orphans.pop()
            waiter._state = _BURIED
            if was_woken:
                self._woken -= 1
                self._lost(waiter.result())
            else:
                self._note_dead(waiter)  # type: ignore[arg-type]

    def _lost(self, value: Any) -> None:
        """Hook: a woken task's loop closed before it ran; pass ``value`` on as if it had
        been cancelled (for most primitives, ``_abandoned`` does just that)."""
        self._abandoned(value)

    def _leave_abnormally(self, fut: Any) -> None:
        # A buried waiter's task may still be finalized later (its coroutine closed by the
        # garbage collector): it was accounted for already.
        if fut._state != _BURIED:
            super()._leave_abnormally(fut)


class _Done:
    """An awaitable that is already done: what a plain ``__aenter__`` returns when it did
    its work without waiting (no coroutine to create and run)."""

    __slots__ = ()

    # An exhausted iterator, made in C (a Python ``__await__`` costs 30 ns more).
    __await__ = staticmethod(().__iter__)


_DONE: Final = _Done()


class AcquirableMonitor(Monitor):
    """``async with`` for a monitor over an Acquirable (Lock, RLock, Semaphore): plain
    methods that take the mutex once and create no coroutine unless the caller must wait.

    (A guarded ``async def __aenter__`` would cost two coroutines per ``async with`` where
    the single-loop class has one.)
    """

    __slots__ = ()

    # _begin() and _end(), inlined in both: this is the hottest path of all.
    def __aenter__(self) -> Any:  # an awaitable
        mutex = self._mutex
        mutex.acquire()
        try:
            if self._in_flight:
                self._recover_lost()
            acquired = self._try_acquire()  # type: ignore[attr-defined]
            if self._orphans:
                self._bury_orphans()
        finally:
            mutex.release()
        return _DONE if acquired else self._enter_contended()

    async def _enter_contended(self) -> None:
        self._begin()
        try:
            if not self._try_acquire():  # type: ignore[attr-defined]
                # ParkingLot._park, inlined as in the single-loop classes' ``async with``:
                # a blocked task then holds one coroutine frame less (0.15 KiB).
                waiter = self._enqueue()
                try:
                    value = await waiter
                except BaseException:
                    self._leave_abnormally(waiter)
                    raise
                self._woken -= 1
                if self._resumed is not None:
                    self._resumed(value)
        finally:
            self._end()

    def _try_acquire_now(self) -> bool:
        """Acquire if that needs no wait (never ahead of a waiter); False otherwise."""
        self._begin()
        try:
            return self._try_acquire()  # type: ignore[attr-defined,no-any-return]
        finally:
            self._end()

    def __aexit__(self, exc_type: object, exc: object, tb: object) -> Any:  # an awaitable
        mutex = self._mutex
        mutex.acquire()
        try:
            if self._in_flight:
                self._recover_lost()
            self._release_unguarded()
            if self._orphans:
                self._bury_orphans()
        finally:
            mutex.release()
        return _DONE

    # The single-loop class's release(), called with the mutex held (one call less than
    # the guarded ``release``).
    _release_unguarded: Callable[[], None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._release_unguarded = _single_loop_member(cls, "release")


def _guarded_function(method: Callable[..., Any]) -> Callable[..., Any]:
    if len(inspect.signature(method).parameters) == 1:  # (self): the common, hot case

        @functools.wraps(method)
        def guarded_call(self: Monitor) -> Any:
            # _begin() and _end(), inlined: locked(), is_set(), release() ... are hot.
            mutex = self._mutex
            mutex.acquire()
            try:
                if self._in_flight:
                    self._recover_lost()
                result = method(self)
                if self._orphans:
                    self._bury_orphans()
            finally:
                mutex.release()
            return result

        return guarded_call

    @functools.wraps(method)
    def guarded(self: Monitor, *args: Any, **kwargs: Any) -> Any:
        self._begin()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._end()

    return guarded


def _guarded_coroutine(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def guarded(self: Monitor, *args: Any, **kwargs: Any) -> Any:
        self._begin()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self._end()

    return guarded


def _single_loop_member(cls: type, name: str) -> Any:
    """``cls``'s own ``name``, or else the single-loop class's: never a guarded wrapper
    inherited from a thread-safe base class."""
    sources = [cls] + [k for k in cls.__mro__ if not issubclass(k, Monitor)]
    return next(k.__dict__[name] for k in sources if name in k.__dict__)


def guard(*names: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: run the named methods and properties (as inherited from the
    single-loop primitive, or defined by the class) with the instance's mutex held."""

    def decorate(cls: type[T]) -> type[T]:
        for name in names:
            member = _single_loop_member(cls, name)
            if isinstance(member, property):
                setter = member.fset and _guarded_function(member.fset)
                wrapped: Any = property(_guarded_function(member.fget), setter, doc=member.__doc__)  # type: ignore[arg-type]
            elif inspect.iscoroutinefunction(member):
                wrapped = _guarded_coroutine(member)
            else:
                wrapped = _guarded_function(member)
            setattr(cls, name, wrapped)
        return cls

    return decorate
