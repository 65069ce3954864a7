"""The thread-safe group (``python -m benchmarks --threadsafe``): aiosync.threadsafe's cost.

Two parts, run in one interleaved run:

* **The core workloads again** (benchmarks/workloads.py, unchanged code), each run with
  ``aiosync`` (the baseline) and ``aiosync.threadsafe`` (the candidate): what a program
  pays, on one loop, for classes that could also be shared with other loops and threads.
  Target: ratio threadsafe / top-level at most 1.3 for every workload.
* **Cross-thread hand-off** of one lock, where the top-level classes cannot be used at all:
  ``aiosync.threadsafe.Lock`` against ``aiologic.Lock`` (which serves tasks and threads
  too) and against the glue a user writes by hand (benchmarks/glue.py:
  ``threading.Lock`` + ``call_soon_threadsafe``). Each implementation is an adapter whose
  ``lock()`` returns what tasks enter (``async with``) and what threads enter (``with``);
  nothing else differs. The issue sets no target for these; the ratios are reported.

A cross-thread workload runs tasks on the harness's loop, on further loops of the same
kind (a new instance of the running loop's class, each run forever by its own thread), and
in plain threads. Starting threads and loops, creating the tasks and queueing every worker
on the lock (held meanwhile by the harness's task) is not timed; the timed section runs
from just before that task releases the lock until the last worker has finished (it takes
the end time stamp). These timings are always wall time (``time.perf_counter``),
whatever ``--clock`` says: the work is spread over several threads.

Every acquisition is checked: a holder that finds another holder inside the critical
section, or a count of acquisitions that is not exactly ``workers * iters``, makes the
workload raise, so a broken lock cannot produce a number.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import aiosync
import aiosync.threadsafe

from .glue import GlueLock
from .harness import Impl, Sample, Workload, fixed
from .workloads import WORKLOADS

CANDIDATE = "aiosync.threadsafe"
BASELINE = "aiosync"
TARGET = 1.3

# --- part 1: the core workloads, threadsafe against top-level -----------------------------

CORE: list[Workload] = [replace(w, target=fixed(TARGET), strict=False) for w in WORKLOADS]
"""The core suite's workloads with the thread-safe target (their code is unchanged)."""

CORE_MODULES = (aiosync, aiosync.threadsafe)


def core_impls() -> list[Impl]:
    """The top-level classes first (the baseline), then the thread-safe ones."""
    return [(BASELINE, aiosync), (CANDIDATE, aiosync.threadsafe)]


# --- part 2: the adapters of the cross-thread workloads ----------------------------------


# Each adapter has ``lock()``, returning what tasks enter (``async with``) and what threads
# enter (``with``), and ``waiting(lock)``, how many are blocked on it: the set-up, not
# timed, uses it to start the timed section only once every worker is queued.


def _threadsafe_lock() -> tuple[Any, Any]:
    lock = aiosync.threadsafe.Lock()
    return lock, lock.sync


def _threadsafe_waiting(lock: Any) -> int:
    return int(lock.statistics().tasks_waiting)  # tasks and threads alike


THREADSAFE = SimpleNamespace(lock=_threadsafe_lock, waiting=_threadsafe_waiting)
"""aiosync.threadsafe's side: ``async with lock`` in tasks, ``with lock.sync`` in threads."""


def _glue_lock() -> tuple[Any, Any]:
    lock = GlueLock()
    return lock, lock.sync


def _glue() -> SimpleNamespace:
    return SimpleNamespace(lock=_glue_lock, waiting=GlueLock.waiting)


def _aiologic() -> SimpleNamespace:
    import aiologic

    def lock() -> tuple[Any, Any]:
        # aiologic's Lock serves both: ``async with lock`` in tasks, ``with lock`` in threads.
        lock = aiologic.Lock()
        return lock, lock

    def waiting(lock: Any) -> int:
        return int(lock.waiting)

    return SimpleNamespace(lock=lock, waiting=waiting)


GLUE = "glue"
AIOLOGIC = "aiologic.Lock"

_BASELINES: dict[str, Callable[[], SimpleNamespace]] = {GLUE: _glue, AIOLOGIC: _aiologic}


def cross_impls() -> tuple[list[Impl], list[str]]:
    """The cross-thread workloads' implementations (baselines first, aiosync.threadsafe
    last), and a note for each baseline that is not importable."""
    impls: list[Impl] = []
    notes: list[str] = []
    for name, load in _BASELINES.items():
        try:
            impls.append((name, load()))
        except ImportError as exc:
            notes.append(f"{name} skipped: not importable on this Python ({exc})")
    return [*impls, (CANDIDATE, THREADSAFE)], notes


def versions(impls: list[Impl]) -> dict[str, str]:
    """What each loaded cross-thread baseline is (the header and JSON show it)."""
    out: dict[str, str] = {}
    for name, _ in impls:
        if name == GLUE:
            out[name] = "benchmarks/glue.py (threading.Lock + call_soon_threadsafe)"
        elif name == AIOLOGIC:
            out[name] = f"aiologic {version('aiologic')}"
    return out


# --- the cross-thread workload -----------------------------------------------------------


class _Who:
    """One worker: which thread it runs in (``home``) and whether it is a task or a thread."""

    __slots__ = ("home", "kind")

    def __init__(self, home: int, kind: str) -> None:
        self.home = home
        self.kind = kind


class _Record:
    """What the critical sections write (only ever with the lock under test held)."""

    __slots__ = ("count", "errors", "holder", "last", "last_release", "latencies", "overlaps")

    def __init__(self, ways: list[tuple[str, str]]) -> None:
        self.holder: _Who | None = None
        self.count = 0
        self.overlaps = 0
        self.last: _Who | None = None
        self.last_release = 0.0
        self.latencies: dict[tuple[str, str], list[float]] = {way: [] for way in ways}
        self.errors: list[BaseException] = []

    def enter(self, me: _Who, now: float) -> None:
        if self.holder is not None:
            self.overlaps += 1
        self.holder = me
        self.count += 1
        last = self.last
        if last is not None and last.home != me.home:  # handed over from another thread
            self.latencies[last.kind, me.kind].append(now - self.last_release)

    def leave(self, me: _Who, now: float) -> None:
        if self.holder is not me:
            self.overlaps += 1
        self.holder = None
        self.last = me
        self.last_release = now


class _Finish:
    """A countdown over every worker, on any thread: the last one takes the end time
    stamp and wakes the harness's loop."""

    __slots__ = ("done", "end", "left", "loop", "mutex")

    def __init__(self, n: int, loop: asyncio.AbstractEventLoop) -> None:
        self.mutex = threading.Lock()
        self.left = n
        self.end = math.nan
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()

    def tick(self) -> None:
        with self.mutex:
            self.left -= 1
            if self.left:
                return
            self.end = time.perf_counter()
        if asyncio._get_running_loop() is self.loop:
            _set(self.done)
        else:
            self.loop.call_soon_threadsafe(_set, self.done)


def _set(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _task_worker(
    lock: Any, record: _Record, me: _Who, iters: int, start: asyncio.Future[None], finish: _Finish
) -> None:
    now = time.perf_counter
    try:
        await start  # then blocks in its first ``async with``: the harness's task holds it
        for _ in range(iters):
            async with lock:
                record.enter(me, now())
                await asyncio.sleep(0)
                record.leave(me, now())
    except BaseException as exc:
        record.errors.append(exc)
        raise
    finally:
        finish.tick()


def _thread_worker(
    lock: Any, record: _Record, me: _Who, iters: int, go: threading.Event, finish: _Finish
) -> None:
    now = time.perf_counter
    try:
        go.wait()  # then blocks in its first ``with``: the harness's task holds the lock
        for _ in range(iters):
            with lock:
                record.enter(me, now())
                time.sleep(0)  # the thread's `await asyncio.sleep(0)`: let others run
                record.leave(me, now())
    except BaseException as exc:
        record.errors.append(exc)
    finally:
        finish.tick()


class _LoopThread:
    """A further event loop, run forever by a thread of its own until :meth:`stop`."""

    def __init__(self, new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self._new_loop = new_loop
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="benchmark loop", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        loop = self.loop = self._new_loop()
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self) -> asyncio.AbstractEventLoop:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("a benchmark loop did not start")
        assert self.loop is not None
        return self.loop

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        """Run ``coro`` on this loop and wait for its result (blocks the caller)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


async def _spawn(
    n: int, make: Callable[[asyncio.Future[None]], Coroutine[Any, Any, None]]
) -> tuple[list[asyncio.Future[None]], list[asyncio.Task[None]]]:
    """On the calling loop: create ``n`` tasks, each waiting for a start future of its own."""
    loop = asyncio.get_running_loop()
    starts: list[asyncio.Future[None]] = [loop.create_future() for _ in range(n)]
    tasks = [asyncio.create_task(make(start)) for start in starts]
    await asyncio.sleep(0)  # let them reach ``await start``
    return starts, tasks


async def _gather(tasks: list[asyncio.Task[None]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def _ways(loops: int, tasks: int, threads: int) -> list[tuple[str, str]]:
    """The kinds of hand-off between threads this configuration can have."""
    ways = []
    if loops >= 2 and tasks:
        ways.append(("loop", "loop"))
    if loops and tasks and threads:
        ways += [("loop", "thread"), ("thread", "loop")]
    if threads >= 2:
        ways.append(("thread", "thread"))
    return ways


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list; nan if empty."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


TIMEOUT = 120.0  # seconds: a lost wake-up fails the workload instead of hanging the run


async def handoff(impl: Any, loops: int, tasks: int, threads: int, iters: int) -> Sample:
    """``tasks`` tasks on each of ``loops`` event loops (the harness's loop and ``loops -
    1`` more, each in its own thread) and ``threads`` plain threads contend for one lock:
    each worker does ``iters`` times ``async with lock: await asyncio.sleep(0)`` (a task)
    or ``with lock: time.sleep(0)`` (a thread). Timed from just before the first release
    (below) until the last worker has finished; one op is one acquisition.

    Every worker is first queued on the lock, held meanwhile by the harness's own task
    (which is no worker), one at a time and taking the loops and the threads in turn; the
    timed section starts as that task releases the lock. So all workers contend from the
    first acquisition on, and in a FIFO lock every hand-off goes to another thread (when
    there are several workers on a side; else see docs/benchmarks.md on the GIL).

    Reported beside it (``Sample.extra``): the number of acquisitions, and per kind of
    hand-off between threads (``loop→loop``, ``loop→thread``, ...) how many there were and
    the p50 and p99 of their latency, from the time stamp the releasing worker takes just
    before leaving ``async with``/``with`` to the one the next holder takes as soon as it is
    inside.
    """
    async_lock, sync_lock = impl.lock()
    main = asyncio.get_running_loop()
    ways = _ways(loops, tasks, threads)
    record = _Record(ways)
    workers = loops * tasks + threads
    finish = _Finish(workers, main)

    def task_maker(home: int) -> Callable[[asyncio.Future[None]], Coroutine[Any, Any, None]]:
        me = _Who(home, "loop")

        def make(start: asyncio.Future[None]) -> Coroutine[Any, Any, None]:
            return _task_worker(async_lock, record, me, iters, start, finish)

        return make

    # --- set-up, not timed: loops, threads and tasks, each waiting for its start signal
    others = [_LoopThread(type(main)) for _ in range(loops - 1)]  # same kind as the harness's
    gos = [threading.Event() for _ in range(threads)]
    plain = [
        threading.Thread(
            target=_thread_worker,
            args=(sync_lock, record, _Who(loops + i, "thread"), iters, go, finish),
            name=f"benchmark thread {i}",
            daemon=True,
        )
        for i, go in enumerate(gos)
    ]
    spawned: list[tuple[_LoopThread, list[asyncio.Task[None]]]] = []
    held = False
    try:
        # Each side's start signals: the harness's loop, the other loops, the threads.
        sides: list[list[Callable[[], Any]]] = []
        for home, other in enumerate(others, 1):
            loop_b = other.start()
            starts_b, tasks_b = other.run(_spawn(tasks, task_maker(home)), 10)
            spawned.append((other, tasks_b))
            sides.append(
                [functools.partial(loop_b.call_soon_threadsafe, _set, f) for f in starts_b]
            )
        for thread in plain:
            thread.start()
        starts, mine = await _spawn(tasks if loops else 0, task_maker(0))
        sides.insert(0, [functools.partial(_set, f) for f in starts])
        sides.append([go.set for go in gos])
        # Hold the lock and queue the workers on it one by one, taking the sides in turn
        # (A1 B1 A2 B2 ...): in a FIFO lock each hand-off then goes to another thread.
        await async_lock.__aenter__()
        held = True
        order = [side[j] for j in range(max(map(len, sides))) for side in sides if j < len(side)]
        deadline = time.monotonic() + 10
        for queued, start_worker in enumerate(order, 1):
            start_worker()
            spins = 0
            while impl.waiting(async_lock) < queued:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {impl.waiting(async_lock)} of {workers} queued")
                spins += 1
                await asyncio.sleep(0 if spins < 100 else 0.0005)

        # --- timed: from the release that lets the first worker in until the last finished
        t0 = time.perf_counter()
        held = False
        await async_lock.__aexit__(None, None, None)
        try:
            await asyncio.wait_for(asyncio.shield(finish.done), TIMEOUT)
        except asyncio.TimeoutError:
            raise RuntimeError(
                f"{impl!r}: {finish.left} of {workers} workers still running after "
                f"{TIMEOUT:g} s ({record.count} acquisitions): a lost wake-up?"
            ) from None
        elapsed = finish.end - t0
        # --- tear-down, not timed (every worker has finished)
        await _gather(mine)
        for other, tasks_b in spawned:
            other.run(_gather(tasks_b), 10)
    finally:
        if held:  # failed while queueing: let the workers finish
            await async_lock.__aexit__(None, None, None)
        for go in gos:
            go.set()
        for other in others:
            other.stop()
        for thread in plain:
            thread.join(10)

    expected = workers * iters
    if record.errors:
        raise RuntimeError(f"a worker failed: {record.errors[0]!r}") from record.errors[0]
    if record.overlaps or record.count != expected:
        raise RuntimeError(
            f"mutual exclusion broken: {record.overlaps} overlapping holders, "
            f"{record.count} acquisitions counted for {expected}"
        )
    extra = {"acquisitions": float(expected)}
    for (a, b), lat in record.latencies.items():
        lat.sort()
        way = f"{a}→{b}"
        extra[f"n {way}"] = float(len(lat))
        extra[f"p50 {way}"] = _percentile(lat, 0.50)
        extra[f"p99 {way}"] = _percentile(lat, 0.99)
    return Sample(elapsed, expected, extra)


CROSS: list[Workload] = [
    Workload(
        name="handoff_loop_loop",
        summary="2 tasks on each of 2 loops (2 threads) loop `async with lock: await sleep(0)`",
        fn=handoff,
        params={"loops": 2, "tasks": 2, "threads": 0, "iters": 1_000},
        quick_params={"loops": 2, "tasks": 2, "threads": 0, "iters": 150},
        op="acquire",
        target=lambda version: None,
    ),
    Workload(
        name="handoff_loop_thread",
        summary="2 tasks on the loop (`async with lock`) and 2 plain threads (`with lock.sync`)",
        fn=handoff,
        params={"loops": 1, "tasks": 2, "threads": 2, "iters": 1_000},
        quick_params={"loops": 1, "tasks": 2, "threads": 2, "iters": 150},
        op="acquire",
        target=lambda version: None,
    ),
    Workload(
        name="handoff_mixed",
        summary="2 tasks on each of 2 loops and 2 plain threads contend",
        fn=handoff,
        params={"loops": 2, "tasks": 2, "threads": 2, "iters": 500},
        quick_params={"loops": 2, "tasks": 2, "threads": 2, "iters": 100},
        op="acquire",
        target=lambda version: None,
    ),
]
"""The cross-thread workloads: aiosync.threadsafe against the glue and aiologic."""

THREADSAFE_WORKLOADS: list[Workload] = [*CORE, *CROSS]
