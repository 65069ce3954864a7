"""Stress tests for aiosync.threadsafe: several event loops (each in its own thread) and
several plain threads hammer one primitive at once, through both faces.

Each test starts K loop threads running T tasks each (the async face: ``await``, ``async
with``) and M plain threads (the blocking face, ``obj.sync``), all released at the same
moment. Every worker makes a hundred or more random operations with random ``timeout=``
values (0, a few milliseconds, None); tasks also run many operations under a random
cancellation (``task.cancel()`` after a random short delay, ``asyncio.wait_for``,
``asyncio.timeout`` where this Python has it). The tests check invariants, never speed:

* Lock, RLock, RWLock's write side, Condition's lock: at most one holder at a time (a
  gauge guarded by a plain ``threading.Lock`` counts who is inside); RLock and RWLock
  re-entry by the holding task or thread, with the owner and count it reports;
* Semaphore, BoundedSemaphore, CapacityLimiter: never more holders than permits; the free
  permits plus those in transit plus the holders never exceed the initial value; a
  BoundedSemaphore refuses (changing nothing) a release one past what is out;
* RWLock: never a writer with readers, nor two writers; a reader asking to write gets
  RuntimeError;
* Event and CountdownLatch: every waiter parked when ``set()`` (the last ``count_down()``)
  runs is woken by it and returns True, even if ``clear()`` follows at once;
* Condition: producers and consumers on every loop and thread, waking each other with
  ``notify()``, ``notify(2)`` and ``notify_all()``, consume every item exactly once; and
  no notification is lost to a waiter that is cancelled or times out (an exact count of
  notifications keeps untimed waiters going only if none is lost);
* Barrier: each trip hands every index in ``range(parties)`` out exactly once (so, over a
  run without cancellation, each index is returned equally often); in rounds without
  timeouts, tasks and threads mixed, each round's indices are a permutation;
* loops that stop and close with tasks still parked (woken, timed out, or not, and not
  yet run), beside loops and threads that go on: their waiters are dropped and what they
  were handed is passed on, as docs/threadsafe.md promises;
* afterwards: every worker finished (a hang fails the test after a deadline, with every
  stuck thread's stack, never hanging the suite), ``statistics()`` shows nothing held and
  nobody waiting, no live waiter is left in the queue, ``_woken == 0``.

Runs are random but seeded: each worker draws from ``random.Random(f"{seed}:{name}")``;
the seed is printed and named in every failure. The interleaving of threads is not
reproducible, so a failure may need a few runs to come back: AIOSYNC_STRESS_SEEDS=1,2,3
chooses the seeds, AIOSYNC_STRESS_SCALE=10 makes every run ten times longer. A variant on
uvloop runs where uvloop is installed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from aiosync import threadsafe as ts
from aiosync.threadsafe._monitor import _WOKEN  # a waiter's state once woken

#: How long a run may take before the test fails as hung: far more than it ever needs.
DEADLINE = 60.0

SCALE = float(os.environ.get("AIOSYNC_STRESS_SCALE", "1"))
SEEDS = [int(s) for s in os.environ.get("AIOSYNC_STRESS_SEEDS", "1,2").split(",")]

HAS_TIMEOUT = hasattr(asyncio, "timeout")  # Python 3.11+


def ops(n: int) -> int:
    return max(1, round(n * SCALE))


# --- the harness ------------------------------------------------------------------------


@dataclass
class Env:
    loop: str
    factory: Callable[[], asyncio.AbstractEventLoop] | None
    seed: int

    def __str__(self) -> str:
        return f"seed={self.seed} loop={self.loop}"


_ENVS = [("asyncio", seed) for seed in SEEDS] + [("uvloop", SEEDS[0])]


@pytest.fixture(params=_ENVS, ids=[f"{loop}-seed{seed}" for loop, seed in _ENVS])
def env(request: pytest.FixtureRequest) -> Env:
    loop, seed = request.param
    factory = None
    if loop == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    print(f"stress run: seed={seed} loop={loop} scale={SCALE}")
    return Env(loop, factory, seed)


@pytest.fixture(autouse=True)
def _switch_often() -> Iterable[None]:
    # Switch threads far more often than every 5 ms, to interleave more.
    before = sys.getswitchinterval()
    sys.setswitchinterval(5e-5)
    yield
    sys.setswitchinterval(before)


def _run_loop(
    factory: Callable[[], asyncio.AbstractEventLoop] | None,
    main: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    if factory is None:
        asyncio.run(main())
        return
    loop = factory()
    try:
        loop.run_until_complete(main())
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


_FORMATTING = threading.Lock()


def format_exc() -> str:
    # One thread at a time: Python 3.11's traceback formatting parses source lines (ast),
    # and doing that in several threads at once left the parser's state inconsistent on
    # 3.11.7 (pytest then died of "SystemError: AST constructor recursion depth mismatch"
    # formatting a failure).
    with _FORMATTING:
        return traceback.format_exc()


class Stress:
    """Runs workers on K loops and M threads against some primitives, collecting failures
    (a worker records what went wrong and carries on; the test fails at the end)."""

    def __init__(self, env: Env, *prims: Any) -> None:
        self.env = env
        self.prims = prims
        self.guard = threading.Lock()
        self.errors: list[str] = []
        #: Set when a run is given up as hung: workers that would go on forever stop.
        self.halted = threading.Event()
        self.doing: dict[str, str] = {}  # worker -> what it is doing, for a hang report

    def fail(self, message: str) -> None:
        with self.guard:
            self.errors.append(f"[{self.env}] {message}")

    def check(self, ok: object, message: str) -> None:
        if not ok:
            self.fail(message)

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.env.seed}:{name}")

    def tally(self, counter: collections.Counter[Any], key: Any) -> None:
        with self.guard:
            counter[key] += 1

    def run(
        self,
        *,
        loops: int,
        tasks: int,
        threads: int,
        task_fn: Callable[[random.Random, str, int], Coroutine[Any, Any, None]],
        thread_fn: Callable[[random.Random, str, int], None],
        helpers: Iterable[Callable[[threading.Event], None]] = (),
        deadline: float = DEADLINE,
    ) -> None:
        """Run ``task_fn(rng, name, i)`` as ``tasks`` tasks on each of ``loops`` loops and
        ``thread_fn(rng, name, i)`` in ``threads`` plain threads (``i`` numbers the
        workers of each kind from 0), all starting at once; and each helper, in a thread
        of its own, until the workers are done (it is passed a threading.Event set then).
        Fail if anything is still running after ``deadline`` seconds, or if any worker
        raised or recorded a failure."""
        start = threading.Barrier(loops + threads)
        stop = threading.Event()
        helpers = list(helpers)

        def loop_thread(i: int) -> None:
            async def main() -> None:
                start.wait(DEADLINE)
                await asyncio.gather(
                    *(self._task(task_fn, f"loop{i}.task{j}", i * tasks + j) for j in range(tasks))
                )

            _run_loop(self.env.factory, main)

        def plain_thread(i: int) -> None:
            start.wait(DEADLINE)
            name = f"thread{i}"
            self.doing[name] = "started"
            thread_fn(self.rng(name), name, i)
            self.doing[name] = "finished"

        def helper_thread(i: int) -> None:
            helpers[i](stop)

        workers = [self._thread(loop_thread, i, f"loop{i}") for i in range(loops)]
        workers += [self._thread(plain_thread, i, f"thread{i}") for i in range(threads)]
        helper_threads = [self._thread(helper_thread, i, f"helper{i}") for i in range(len(helpers))]
        end = time.monotonic() + deadline
        for t in workers:
            t.join(max(0.0, end - time.monotonic()))
        stop.set()
        for t in helper_threads:
            t.join(max(1.0, end - time.monotonic()))
        stuck = [t for t in workers + helper_threads if t.is_alive()]
        if stuck:
            report = self._hang_report(stuck, deadline)
            self.halted.set()
            pytest.fail(report, pytrace=False)
        if self.errors:
            shown = "\n".join(self.errors[:10])
            pytest.fail(f"{len(self.errors)} failure(s), the first ones:\n{shown}", pytrace=False)

    def _thread(self, fn: Callable[[int], None], i: int, name: str) -> threading.Thread:
        def target() -> None:
            try:
                fn(i)
            except BaseException:
                self.fail(f"{name} raised:\n{format_exc()}")

        thread = threading.Thread(target=target, name=f"stress-{name}", daemon=True)
        thread.start()
        return thread

    async def _task(
        self,
        fn: Callable[[random.Random, str, int], Coroutine[Any, Any, None]],
        name: str,
        i: int,
    ) -> None:
        self.doing[name] = "started"
        try:
            await fn(self.rng(name), name, i)
        except BaseException:
            self.fail(f"{name} raised:\n{format_exc()}")
        self.doing[name] = "finished"

    def state(self) -> str:
        lines = []
        for prim in self.prims:
            if not prim._mutex.acquire(timeout=2):
                lines.append(f"{type(prim).__name__}: its mutex stays held")
                continue
            try:
                queue = [(type(w).__name__, w._state) for w in prim._queue]
                lines.append(
                    f"{prim!r} stats={prim.statistics()} parked={prim._parked_count()} "
                    f"woken={prim._woken} queue(kind, state)={queue}"
                )
            finally:
                prim._mutex.release()
        return "\n".join(lines)

    def _hang_report(self, stuck: list[threading.Thread], deadline: float) -> str:
        frames = sys._current_frames()
        lines = [f"[{self.env}] still running after {deadline}s: {[t.name for t in stuck]}"]
        lines += [
            f"  {who}: {what}" for who, what in sorted(self.doing.items()) if what != "finished"
        ]
        lines.append(self.state())
        for t in stuck:
            frame = frames.get(t.ident) if t.ident is not None else None
            lines.append(f"--- {t.name}")
            if frame is not None:
                with _FORMATTING:
                    lines.extend(traceback.format_stack(frame))
        lines.extend(self.errors[:5])
        return "\n".join(lines)

    def assert_quiet(self) -> None:
        """Nothing parked, nothing woken and not yet resumed, nothing left over."""
        for prim in self.prims:
            prim.statistics()  # lets the primitive account for waiters whose loop closed
            with prim._mutex:
                parked = prim._parked_count()
                woken = prim._woken
                orphans = list(prim._orphans)
                tags = dict(prim._tags or {})
            where = f"[{self.env}] {prim!r}"
            assert parked == 0, f"{where}: {parked} live waiter(s) left in the queue"
            assert woken == 0, f"{where}: _woken is {woken}"
            assert not orphans, f"{where}: orphans {orphans}"
            assert not tags, f"{where}: tags left {tags}"


class Gauge:
    """Who is inside a critical section, checked on every entry against ``limit``."""

    def __init__(self, stress: Stress, limit: int, what: str) -> None:
        self.stress = stress
        self.limit = limit
        self.what = what
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.entries = collections.Counter[str]()

    def enter(self, who: str, n: int = 1) -> None:
        with self.lock:
            self.inside += n
            self.most = max(self.most, self.inside)
            self.entries[who.partition(".")[0].rstrip("0123456789")] += 1
            inside = self.inside
        if inside > self.limit:
            self.stress.fail(f"{who}: {inside} inside {self.what}, limit {self.limit}")

    def leave(self, n: int = 1) -> None:
        with self.lock:
            self.inside -= n


class Traced:
    """Mixin: remembers the waiter each task or thread parked last (``last_waiter``), so
    that a worker can tell whether its own waiter was among those woken by a ``set()``."""

    def __init__(self, *args: Any) -> None:
        self.last_waiter: dict[Any, Any] = {}
        super().__init__(*args)

    def _enqueue(self) -> Any:
        waiter = super()._enqueue()  # type: ignore[misc]
        self.last_waiter[self._caller()] = waiter  # type: ignore[attr-defined]
        return waiter


class TracedEvent(Traced, ts.Event):
    pass


class TracedLatch(Traced, ts.CountdownLatch):
    pass


def live_waiters(prim: Any) -> list[Any]:
    """The waiters parked in ``prim`` (call with its mutex held)."""
    return [w for w in prim._queue if not w.done()]


def me_in_task() -> Any:
    return asyncio.current_task()


async def pause(rng: random.Random) -> None:
    await asyncio.sleep(rng.choice((0, 0, 0, 0.0002)))


def pause_thread(rng: random.Random) -> None:
    time.sleep(rng.choice((0, 0, 0, 0.0002)))


async def chaos(rng: random.Random, op: Callable[[], Coroutine[Any, Any, Any]]) -> str:
    """Run ``op()`` to its end, or under a random cancellation: cancelled after a random
    short delay (possibly before it starts), or given a short time by ``asyncio.wait_for``
    or ``asyncio.timeout``. Return "done", "cancelled" or "timeout"."""
    r = rng.random()
    if r < 0.5:
        await op()
        return "done"
    if r < 0.75:
        delay = rng.choice((None, 0, 0, 0.0003, 0.001, 0.003))
        task = asyncio.ensure_future(op())
        if delay is not None:
            await asyncio.sleep(delay)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "done"
    seconds = rng.choice((0, 0.0005, 0.002, 0.006))
    try:
        if r < 0.9 or not HAS_TIMEOUT:
            await asyncio.wait_for(op(), seconds)
        else:
            async with asyncio.timeout(seconds):  # type: ignore[attr-defined]
                await op()
    except asyncio.TimeoutError:
        return "timeout"
    return "done"


TIMEOUTS = (0, 0.0005, 0.002, 0.01, None, None)
LOCK_TIMEOUTS = (0, 0.0005, 0.002, 0.01, -1, -1)  # threading.Lock.acquire's: -1 is forever


# --- Lock and RLock ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_lock_mutual_exclusion(env: Env, kind: str) -> None:
    lock = getattr(ts, kind)()
    owned = kind == "RLock"
    s = Stress(env, lock)
    gauge = Gauge(s, 1, kind)
    n = ops(120)

    async def inside(rng: random.Random, who: str) -> None:
        gauge.enter(who)
        try:
            if owned and rng.random() < 0.3:
                me = me_in_task()
                st = lock.statistics()
                s.check(st.owner is me and st.count == 1, f"{who}: holds, yet {st}")
                if rng.random() < 0.5:
                    async with lock:
                        st = lock.statistics()
                        s.check(st.owner is me and st.count == 2, f"{who}: re-entered, {st}")
                        await pause(rng)
                else:
                    ok = await lock.acquire(timeout=rng.choice((0, None)))
                    s.check(ok is True, f"{who}: re-entry refused")
                    try:
                        await pause(rng)
                    finally:
                        lock.release()
                st = lock.statistics()
                s.check(st.owner is me and st.count == 1, f"{who}: after re-entry, {st}")
            await pause(rng)
        finally:
            gauge.leave()

    async def task_op(rng: random.Random, who: str) -> None:
        r = rng.random()
        if r < 0.4:
            async with lock:
                await inside(rng, who)
        elif r < 0.95:
            if not await lock.acquire(timeout=rng.choice(TIMEOUTS)):
                return
            try:
                await inside(rng, who)
            finally:
                lock.release()
        elif owned:
            try:
                lock.release()  # not the owner: refused, whoever holds it
            except RuntimeError:
                pass
            else:
                s.fail(f"{who}: released an RLock it does not hold")
        else:
            try:
                lock.sync.acquire()  # would block this loop: refused
            except RuntimeError:
                pass
            else:
                s.fail(f"{who}: sync.acquire() blocked a running loop")
                lock.release()

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            await chaos(rng, lambda: task_op(rng, who))

    def inside_thread(rng: random.Random, who: str) -> None:
        gauge.enter(who)
        try:
            if owned and rng.random() < 0.3:
                me = threading.current_thread()
                st = lock.statistics()
                s.check(st.owner is me and st.count == 1, f"{who}: holds, yet {st}")
                if rng.random() < 0.5:
                    with lock.sync:
                        st = lock.statistics()
                        s.check(st.owner is me and st.count == 2, f"{who}: re-entered, {st}")
                        pause_thread(rng)
                else:
                    s.check(lock.sync.acquire(blocking=False), f"{who}: re-entry refused")
                    lock.sync.release()
            pause_thread(rng)
        finally:
            gauge.leave()

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        face = lock.sync
        for _ in range(n):
            r = rng.random()
            if r < 0.4:
                with face:
                    inside_thread(rng, who)
                continue
            if r < 0.95:
                if r < 0.55:
                    ok = face.acquire(blocking=False)
                else:
                    ok = face.acquire(timeout=rng.choice(LOCK_TIMEOUTS))
                if ok:
                    try:
                        inside_thread(rng, who)
                    finally:
                        face.release()
            elif owned:
                try:
                    face.release()
                except RuntimeError:
                    pass
                else:
                    s.fail(f"{who}: released an RLock it does not hold")

    s.run(loops=3, tasks=3, threads=3, task_fn=task_fn, thread_fn=thread_fn)
    assert gauge.most == 1
    assert gauge.entries["loop"] > 0 and gauge.entries["thread"] > 0, gauge.entries
    st = lock.statistics()
    assert not st.locked and st.tasks_waiting == 0, st
    if owned:
        assert st.owner is None and st.count == 0, st
    s.assert_quiet()


# --- Semaphore, BoundedSemaphore --------------------------------------------------------


@pytest.mark.parametrize("kind", ["Semaphore", "BoundedSemaphore"])
def test_semaphore_permits(env: Env, kind: str) -> None:
    value = 3
    sem = getattr(ts, kind)(value)
    bounded = kind == "BoundedSemaphore"
    s = Stress(env, sem)
    gauge = Gauge(s, value, kind)
    n = ops(120)

    def probe(rng: random.Random, who: str) -> None:
        """With the semaphore's state frozen: free + in transit + inside <= value; and,
        bounded, a release of one more permit than are out is refused, changing nothing."""
        with sem._mutex:
            free, woken, inside = sem._value, sem._woken, gauge.inside
            s.check(
                free + woken + inside <= value,
                f"{who}: {free} free + {woken} woken + {inside} inside > {value}",
            )
            if bounded:
                over = value - free - woken + 1
                try:
                    if rng.random() < 0.5:
                        sem.release_many(over)
                    else:
                        sem.sync.release(over)
                except ValueError:
                    pass
                else:
                    s.fail(f"{who}: release({over}) accepted with {free} free, {woken} woken")
                s.check(sem._value == free, f"{who}: refused release changed the value")

    async def held(rng: random.Random, who: str, k: int) -> None:
        gauge.enter(who, k)
        try:
            if rng.random() < 0.25:
                probe(rng, who)
            await pause(rng)
        finally:
            gauge.leave(k)

    async def task_op(rng: random.Random, who: str) -> None:
        r = rng.random()
        if r < 0.35:
            async with sem:
                await held(rng, who, 1)
            return
        if not await sem.acquire(timeout=rng.choice(TIMEOUTS)):
            return
        k = 1
        try:
            # Sometimes a second permit, never waiting forever for it while holding one.
            if r > 0.8 and await sem.acquire(timeout=rng.choice((0, 0.0005, 0.003))):
                k = 2
            await held(rng, who, k)
        finally:
            if k == 1 and rng.random() < 0.5:
                sem.release()
            else:
                sem.release_many(k)

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            await chaos(rng, lambda: task_op(rng, who))

    def held_thread(rng: random.Random, who: str, k: int) -> None:
        gauge.enter(who, k)
        try:
            if rng.random() < 0.25:
                probe(rng, who)
            pause_thread(rng)
        finally:
            gauge.leave(k)

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        face = sem.sync
        for _ in range(n):
            r = rng.random()
            if r < 0.35:
                with face:
                    held_thread(rng, who, 1)
                continue
            if r < 0.45:
                ok = face.acquire(blocking=False)
            else:
                ok = face.acquire(timeout=rng.choice(TIMEOUTS))
            if not ok:
                continue
            k = 1
            try:
                if r > 0.8 and face.acquire(timeout=rng.choice((0, 0.0005, 0.003))):
                    k = 2
                held_thread(rng, who, k)
            finally:
                face.release(k)

    s.run(loops=3, tasks=3, threads=3, task_fn=task_fn, thread_fn=thread_fn)
    assert 1 <= gauge.most <= value
    assert gauge.entries["loop"] > 0 and gauge.entries["thread"] > 0, gauge.entries
    st = sem.statistics()
    assert st.value == value and st.tasks_waiting == 0, st
    s.assert_quiet()
    if bounded:
        for release in (sem.release, sem.sync.release, lambda: sem.sync.release(2)):
            with pytest.raises(ValueError):
                release()
        assert sem.statistics().value == value


# --- CapacityLimiter --------------------------------------------------------------------


def test_capacity_limiter_tokens(env: Env) -> None:
    total = 3
    limiter = ts.CapacityLimiter(total)
    s = Stress(env, limiter)
    gauge = Gauge(s, total, "CapacityLimiter")
    n = ops(120)

    def probe(who: str, borrower: object) -> None:
        st = limiter.statistics()
        s.check(st.borrowed_tokens <= total, f"{who}: {st}")
        s.check(borrower in st.borrowers, f"{who}: holds a token, but not among {st}")

    async def held(rng: random.Random, who: str, borrower: object) -> None:
        gauge.enter(who)
        try:
            if rng.random() < 0.3:
                probe(who, borrower)
            if borrower is me_in_task() and rng.random() < 0.1:
                try:
                    await limiter.acquire(timeout=rng.choice((0, None)))
                except RuntimeError:
                    pass
                else:
                    s.fail(f"{who}: borrowed a second token")
            await pause(rng)
        finally:
            gauge.leave()

    async def task_op(rng: random.Random, who: str) -> None:
        r = rng.random()
        if r < 0.35:
            async with limiter:
                await held(rng, who, me_in_task())
        elif r < 0.7:
            if await limiter.acquire(timeout=rng.choice(TIMEOUTS)):
                try:
                    await held(rng, who, me_in_task())
                finally:
                    limiter.release()
        else:
            borrower = object()
            if await limiter.acquire_on_behalf_of(borrower, timeout=rng.choice(TIMEOUTS)):
                try:
                    await held(rng, who, borrower)
                finally:
                    limiter.release_on_behalf_of(borrower)

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            await chaos(rng, lambda: task_op(rng, who))

    def held_thread(rng: random.Random, who: str, borrower: object) -> None:
        gauge.enter(who)
        try:
            if rng.random() < 0.3:
                probe(who, borrower)
            if borrower is threading.current_thread() and rng.random() < 0.1:
                try:
                    limiter.sync.acquire(blocking=False)
                except RuntimeError:
                    pass
                else:
                    s.fail(f"{who}: borrowed a second token")
            pause_thread(rng)
        finally:
            gauge.leave()

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        face = limiter.sync
        me = threading.current_thread()
        for _ in range(n):
            r = rng.random()
            if r < 0.35:
                with face:
                    held_thread(rng, who, me)
            elif r < 0.7:
                if face.acquire(timeout=rng.choice(LOCK_TIMEOUTS)):
                    try:
                        held_thread(rng, who, me)
                    finally:
                        face.release()
            else:
                borrower = object()
                if face.acquire_on_behalf_of(borrower, timeout=rng.choice(LOCK_TIMEOUTS)):
                    try:
                        held_thread(rng, who, borrower)
                    finally:
                        face.release_on_behalf_of(borrower)

    s.run(loops=3, tasks=3, threads=3, task_fn=task_fn, thread_fn=thread_fn)
    assert 1 <= gauge.most <= total
    assert gauge.entries["loop"] > 0 and gauge.entries["thread"] > 0, gauge.entries
    st = limiter.statistics()
    assert st.borrowed_tokens == 0 and st.borrowers == () and st.tasks_waiting == 0, st
    assert limiter.available_tokens == total
    assert not limiter._waiting_borrowers
    s.assert_quiet()


# --- RWLock -----------------------------------------------------------------------------


class RWGauge:
    def __init__(self, stress: Stress) -> None:
        self.stress = stress
        self.lock = threading.Lock()
        self.readers = 0
        self.writers = 0
        self.most_readers = 0
        self.entries = collections.Counter[str]()

    def enter(self, who: str, mode: str) -> None:
        with self.lock:
            readers, writers = self.readers, self.writers
            if mode == "write":
                self.writers += 1
            else:
                self.readers += 1
                self.most_readers = max(self.most_readers, self.readers)
            self.entries[mode] += 1
        if writers or (mode == "write" and readers):
            self.stress.fail(f"{who} got {mode} with {readers} readers, {writers} writers")

    def leave(self, mode: str) -> None:
        with self.lock:
            if mode == "write":
                self.writers -= 1
            else:
                self.readers -= 1


def test_rwlock_exclusion(env: Env) -> None:
    rw = ts.RWLock()
    s = Stress(env, rw)
    gauge = RWGauge(s)
    n = ops(120)

    def holds(who: str, me: object, mode: str) -> None:
        st = rw.statistics()
        if mode == "write":
            s.check(st.writer is me, f"{who}: writes, yet {st}")
        else:
            s.check(me in st.readers and st.writer is None, f"{who}: reads, yet {st}")

    async def held(rng: random.Random, who: str, mode: str) -> None:
        gauge.enter(who, mode)
        try:
            me = me_in_task()
            if rng.random() < 0.3:
                holds(who, me, mode)
                # Re-entry is granted at once; a reader asking to write is refused.
                s.check(await rw.read.acquire(timeout=0), f"{who}: {mode}, read refused")
                rw.read.release()
                if mode == "write":
                    s.check(await rw.write.acquire(timeout=0), f"{who}: write re-entry refused")
                    rw.write.release()
                else:
                    try:
                        await rw.write.acquire(timeout=rng.choice((0, None)))
                    except RuntimeError:
                        pass
                    else:
                        s.fail(f"{who}: upgraded read to write")
                        rw.write.release()
                holds(who, me, mode)
            await pause(rng)
        finally:
            gauge.leave(mode)

    async def task_op(rng: random.Random, who: str) -> None:
        mode = "write" if rng.random() < 0.4 else "read"
        side = getattr(rw, mode)
        if rng.random() < 0.4:
            async with side:
                await held(rng, who, mode)
        elif await side.acquire(timeout=rng.choice(TIMEOUTS)):
            try:
                await held(rng, who, mode)
            finally:
                side.release()

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            await chaos(rng, lambda: task_op(rng, who))

    def held_thread(rng: random.Random, who: str, mode: str) -> None:
        gauge.enter(who, mode)
        try:
            me = threading.current_thread()
            if rng.random() < 0.3:
                holds(who, me, mode)
                with rw.read.sync:
                    pass
                if mode == "write":
                    s.check(rw.write.sync.acquire(timeout=0), f"{who}: write re-entry refused")
                    rw.write.sync.release()
                else:
                    try:
                        rw.write.sync.acquire(blocking=False)
                    except RuntimeError:
                        pass
                    else:
                        s.fail(f"{who}: upgraded read to write")
                        rw.write.sync.release()
                holds(who, me, mode)
            pause_thread(rng)
        finally:
            gauge.leave(mode)

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            mode = "write" if rng.random() < 0.4 else "read"
            face = getattr(rw, mode).sync
            if rng.random() < 0.4:
                with face:
                    held_thread(rng, who, mode)
            elif face.acquire(timeout=rng.choice(LOCK_TIMEOUTS)):
                try:
                    held_thread(rng, who, mode)
                finally:
                    face.release()

    s.run(loops=3, tasks=3, threads=3, task_fn=task_fn, thread_fn=thread_fn)
    assert gauge.entries["read"] > 0 and gauge.entries["write"] > 0, gauge.entries
    st = rw.statistics()
    assert st.readers == () and st.writer is None, st
    assert st.readers_waiting == 0 and st.writers_waiting == 0, st
    assert not rw.read.locked() and not rw.write.locked()
    s.assert_quiet()


# --- Event ------------------------------------------------------------------------------


def test_event_set_wakes_every_waiter(env: Env) -> None:
    ev = TracedEvent()
    s = Stress(env, ev)
    n = ops(150)
    present: set[Any] = set()  # every waiter that was parked when set() ran
    results = collections.Counter[str]()

    def checked_set(who: str, via_face: bool, then_clear: bool) -> None:
        with ev._mutex:
            live = live_waiters(ev)
            if via_face:
                ev.sync.set()
            else:
                ev.set()
            unwoken = [w for w in live if w._state != _WOKEN]
            with s.guard:
                present.update(live)
            if then_clear:
                ev.clear()
        s.check(not unwoken, f"{who}: set() left {len(unwoken)} of {len(live)} unwoken")

    def finished_wait(who: str, me: object, timeout: float | None, result: object) -> None:
        waiter = ev.last_waiter.pop(me, None)
        with s.guard:
            was_present = waiter is not None and waiter in present
            results[f"{result}"] += 1  # under s.guard
        if result is not True and (timeout is None or was_present):
            s.fail(f"{who}: wait({timeout}) returned {result!r} (parked at a set(): {was_present})")

    async def wait_op(rng: random.Random, who: str) -> None:
        me = me_in_task()
        timeout = rng.choice(TIMEOUTS)
        ev.last_waiter.pop(me, None)
        try:
            result = await ev.wait(timeout)
        except BaseException:
            ev.last_waiter.pop(me, None)
            raise
        finished_wait(who, me, timeout, result)

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            r = rng.random()
            if r < 0.8:
                await chaos(rng, lambda: wait_op(rng, who))
            elif r < 0.9:
                checked_set(who, False, then_clear=rng.random() < 0.7)
            else:
                ev.clear()

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        me = threading.current_thread()
        for _ in range(n):
            r = rng.random()
            if r < 0.8:
                timeout = rng.choice(TIMEOUTS)
                ev.last_waiter.pop(me, None)
                finished_wait(who, me, timeout, ev.sync.wait(timeout))
            elif r < 0.9:
                checked_set(who, True, then_clear=rng.random() < 0.7)
            else:
                ev.sync.clear()

    def pulser(stop: threading.Event) -> None:
        # Keeps untimed waiters going once the other workers are done.
        while not stop.wait(0.001):
            checked_set("pulser", False, then_clear=True)

    s.run(loops=3, tasks=3, threads=3, task_fn=task_fn, thread_fn=thread_fn, helpers=[pulser])
    assert results["True"] > 0, results
    assert not ev.last_waiter
    assert ev.statistics().tasks_waiting == 0
    s.assert_quiet()


# --- CountdownLatch ---------------------------------------------------------------------


def test_countdown_latch_releases_every_waiter(env: Env) -> None:
    loops, tasks, threads, quota = 2, 2, 2, 2
    count = (loops * tasks + threads) * quota
    latches = [TracedLatch(count) for _ in range(ops(25))]
    s = Stress(env, *latches)
    present: set[Any] = set()  # every waiter parked when its latch opened
    released = collections.Counter[int]()  # latch index -> workers through its final wait

    def checked_count_down(who: str, latch: Any, k: int, via_face: bool) -> None:
        with latch._mutex:
            live = live_waiters(latch)
            if via_face:
                latch.sync.count_down(k)
            else:
                latch.count_down(k)
            opened = latch.count == 0
            unwoken = [w for w in live if w._state != _WOKEN]
            if opened:
                with s.guard:
                    present.update(live)
        if opened:
            s.check(not unwoken, f"{who}: opening left {len(unwoken)} of {len(live)} unwoken")

    def finished_wait(who: str, latch: Any, me: object, timeout: Any, result: object) -> None:
        waiter = latch.last_waiter.pop(me, None)
        with s.guard:
            was_present = waiter is not None and waiter in present
        if result is True:
            s.check(latch.count == 0, f"{who}: wait() returned True at count {latch.count}")
        elif timeout is None or was_present:
            s.fail(f"{who}: wait({timeout}) returned {result!r} (parked at opening: {was_present})")

    def plan(rng: random.Random) -> list[Any]:
        steps: list[Any] = ["down"] * quota if rng.random() < 0.7 else [("down", quota)]
        steps += ["wait"] * rng.randrange(3)
        rng.shuffle(steps)
        return [*steps, "final"]

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for index, latch in enumerate(latches):
            for step in plan(rng):
                if step == "final" or step == "wait":
                    final = step == "final"
                    timeout = None if final else rng.choice((0, 0.0005, 0.002, 0.01))

                    async def wait_op(timeout: Any = timeout, latch: Any = latch) -> None:
                        me = me_in_task()
                        latch.last_waiter.pop(me, None)
                        try:
                            result = await latch.wait(timeout)
                        except BaseException:
                            latch.last_waiter.pop(me, None)
                            raise
                        finished_wait(who, latch, me, timeout, result)

                    if final:
                        await wait_op()
                        s.tally(released, index)
                    else:
                        await chaos(rng, wait_op)
                else:
                    k = step[1] if isinstance(step, tuple) else 1
                    checked_count_down(who, latch, k, False)
            try:
                latch.count_down()
            except ValueError:
                pass
            else:
                s.fail(f"{who}: counted an open latch below zero")

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        me = threading.current_thread()
        for index, latch in enumerate(latches):
            for step in plan(rng):
                if step == "final" or step == "wait":
                    timeout = None if step == "final" else rng.choice((0, 0.0005, 0.002, 0.01))
                    latch.last_waiter.pop(me, None)
                    finished_wait(who, latch, me, timeout, latch.sync.wait(timeout))
                    if step == "final":
                        s.tally(released, index)
                else:
                    k = step[1] if isinstance(step, tuple) else 1
                    checked_count_down(who, latch, k, True)

    s.run(loops=loops, tasks=tasks, threads=threads, task_fn=task_fn, thread_fn=thread_fn)
    workers = loops * tasks + threads
    assert released == {i: workers for i in range(len(latches))}, released
    for latch in latches:
        st = latch.statistics()
        assert st.count == 0 and st.tasks_waiting == 0, st
        assert not latch.last_waiter
    s.assert_quiet()


# --- Condition --------------------------------------------------------------------------


@pytest.mark.parametrize("lock_kind", ["Lock", "RLock"])
def test_condition_delivers_every_item_once(env: Env, lock_kind: str) -> None:
    cond = ts.Condition(getattr(ts, lock_kind)())
    s = Stress(env, cond, cond._lock)
    gauge = Gauge(s, 1, f"Condition({lock_kind})")
    # One task in four and one thread in two produce; the others consume, and so wait.
    loops, tasks, threads = 2, 4, 4
    per_producer = ops(150)
    total = per_producer * (loops * tasks // 4 + threads // 2)
    buffer: collections.deque[Any] = collections.deque()
    produced: list[Any] = []
    consumed: list[Any] = []
    waits = collections.Counter[str]()

    def done() -> bool:
        return len(consumed) == total or s.halted.is_set()

    def notify(rng: random.Random, face: Any) -> None:
        r = rng.random()
        if r < 0.7:
            face.notify()
        elif r < 0.85:
            face.notify(2)
        else:
            face.notify_all()

    def put(rng: random.Random, who: str, item: Any, face: Any) -> None:
        gauge.enter(who)
        try:
            buffer.append(item)
            produced.append(item)
            notify(rng, face)
        finally:
            gauge.leave()

    def take(who: str, face: Any) -> None:
        if buffer:
            consumed.append(buffer.popleft())
            if done():
                face.notify_all()  # the other consumers may leave

    async def produce(rng: random.Random, who: str) -> None:
        for i in range(per_producer):
            item = (who, i)
            put_in: list[bool] = []

            async def put_op(item: Any = item, put_in: list[bool] = put_in) -> None:
                async with cond:
                    put(rng, who, item, cond)
                    put_in.append(True)  # nothing awaited since the put: it happened

            while not put_in:  # a cancelled put is tried again
                await chaos(rng, put_op)
            await asyncio.sleep(rng.choice((0, 0.0002, 0.0005)))

    async def consume(rng: random.Random, who: str) -> None:
        async def take_op() -> None:
            async with cond:
                gauge.enter(who)
                try:
                    while not buffer and not done():
                        gauge.leave()
                        try:
                            r = rng.random()
                            if r < 0.6:
                                s.tally(waits, await cond.wait())
                            elif r < 0.8:
                                s.tally(waits, await cond.wait(rng.choice(TIMEOUTS)))
                            else:
                                predicate = lambda: buffer or done()  # noqa: E731
                                await cond.wait_for(predicate, rng.choice(TIMEOUTS))
                        finally:
                            gauge.enter(who)
                    take(who, cond)
                finally:
                    gauge.leave()

        while not done():
            await chaos(rng, take_op)

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        await (produce if i % 4 == 0 else consume)(rng, who)

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        face = cond.sync
        if i % 2 == 0:
            for j in range(per_producer):
                with face:
                    put(rng, who, (who, j), face)
                time.sleep(rng.choice((0, 0.0002, 0.0005)))
            return
        while not done():
            with face:
                gauge.enter(who)
                try:
                    while not buffer and not done():
                        gauge.leave()
                        try:
                            r = rng.random()
                            if r < 0.6:
                                s.tally(waits, face.wait())
                            elif r < 0.8:
                                s.tally(waits, face.wait(rng.choice(TIMEOUTS)))
                            else:
                                predicate = lambda: buffer or done()  # noqa: E731
                                face.wait_for(predicate, rng.choice(TIMEOUTS))
                        finally:
                            gauge.enter(who)
                    take(who, face)
                finally:
                    gauge.leave()

    s.run(loops=loops, tasks=tasks, threads=threads, task_fn=task_fn, thread_fn=thread_fn)
    assert gauge.most == 1
    assert len(produced) == total, (len(produced), total)
    duplicates = [item for item, k in collections.Counter(consumed).items() if k > 1]
    assert not duplicates, duplicates[:10]
    assert sorted(consumed) == sorted(produced)
    assert not buffer
    st = cond.statistics()
    assert not st.locked and st.tasks_waiting == 0, st
    assert not cond._lock.locked()
    s.assert_quiet()


@pytest.mark.parametrize("lock_kind", ["Lock", "RLock"])
def test_condition_loses_no_notification(env: Env, lock_kind: str) -> None:
    """Every notification reaches a waiter, even one cancelled or timing out meanwhile.

    Steady waiters (tasks and threads) wait untimed and are never cancelled; for each one
    that starts waiting, the notifiers (tasks and a thread) issue exactly one notify(1).
    Flaky waiters (tasks under random cancellation, threads with timeouts) compete for
    the same notifications: one that returns True from wait() passes its notification on
    with notify(), and one that leaves wait() with an exception must have it passed on by
    the Condition. So a notification stays in play until a steady waiter takes it: were
    one lost, a steady waiter would never return (and the test would fail as hung)."""
    cond = ts.Condition(getattr(ts, lock_kind)())
    s = Stress(env, cond, cond._lock)
    rounds = ops(100)
    loops, tasks, threads = 2, 4, 4
    steady_workers = loops + threads // 2  # task 1 of each loop, the even threads
    total = rounds * steady_workers
    tally = {"arrived": 0, "issued": 0, "returned": 0}  # changed with the lock held
    outcomes = collections.Counter[Any]()
    flaky_timeouts = (0, 0.0005, 0.002, 0.01)

    def finished() -> bool:
        return tally["returned"] == total or s.halted.is_set()

    def issue(face: Any) -> None:
        if tally["issued"] < tally["arrived"]:
            tally["issued"] += 1
            face.notify()

    async def steady(rng: random.Random, who: str) -> None:
        for _ in range(rounds):
            async with cond:
                tally["arrived"] += 1
                result = await cond.wait(None if rng.random() < 0.7 else DEADLINE)
                s.check(result is True, f"{who}: wait() returned {result!r}")
                tally["returned"] += 1

    async def flaky(rng: random.Random, who: str) -> None:
        async def wait_op() -> None:
            async with cond:
                if finished():
                    return
                result = await cond.wait(rng.choice(flaky_timeouts))
                s.tally(outcomes, result)
                if result:
                    cond.notify()  # not ours: pass it on

        while not finished():
            await chaos(rng, wait_op)

    async def notifier(rng: random.Random, who: str) -> None:
        while not finished():
            async with cond:
                issue(cond)
            await asyncio.sleep(rng.choice((0, 0.0003)))

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        await (notifier, steady, flaky, flaky)[i % tasks](rng, who)

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        face = cond.sync
        if i % 2 == 0:
            for _ in range(rounds):
                with face:
                    tally["arrived"] += 1
                    result = face.wait(None if rng.random() < 0.7 else DEADLINE)
                    s.check(result is True, f"{who}: wait() returned {result!r}")
                    tally["returned"] += 1
            return
        while not finished():
            with face:
                if finished():
                    break
                result = face.wait(rng.choice(flaky_timeouts))
                s.tally(outcomes, result)
                if result:
                    face.notify()

    def notifier_thread(stop: threading.Event) -> None:
        while not stop.is_set() and not finished():
            with cond.sync:
                issue(cond.sync)
            time.sleep(0.0003)

    s.run(
        loops=loops,
        tasks=tasks,
        threads=threads,
        task_fn=task_fn,
        thread_fn=thread_fn,
        helpers=[notifier_thread],
    )
    print(f"flaky waits: {outcomes}")
    assert tally["returned"] == tally["arrived"] == total, tally
    st = cond.statistics()
    assert not st.locked and st.tasks_waiting == 0, st
    s.assert_quiet()


# --- Barrier ----------------------------------------------------------------------------


def test_barrier_indices(env: Env) -> None:
    parties = 5
    barrier = ts.Barrier(parties)
    s = Stress(env, barrier)
    n = ops(60)
    long_waits = (0.02, 0.1, 0.3, 0.3)

    def check_index(who: str, index: object) -> None:
        s.check(
            isinstance(index, int) and 0 <= index < parties, f"{who}: wait() returned {index!r}"
        )

    # 1. More workers than parties, finite timeouts (a timeout breaks the barrier), resets
    #    and aborts, no cancellation: every trip hands each index out once, and each party
    #    woken with an index returns it, so every index comes back equally often.
    def chaos_round(cancel: bool) -> collections.Counter[Any]:
        indices = collections.Counter[Any]()

        async def wait_op(rng: random.Random, who: str) -> None:
            try:
                index = await barrier.wait(rng.choice((0, 0.001, *long_waits)))
            except ts.BrokenBarrierError:
                s.tally(indices, "broken")
                r = rng.random()
                if r < 0.5 and barrier.broken:
                    await barrier.reset()
                elif r < 0.52:
                    await barrier.abort()
                return
            check_index(who, index)
            s.tally(indices, index)

        async def task_fn(rng: random.Random, who: str, i: int) -> None:
            for _ in range(n):
                if cancel:
                    await chaos(rng, lambda: wait_op(rng, who))
                else:
                    await wait_op(rng, who)

        def thread_fn(rng: random.Random, who: str, i: int) -> None:
            face = barrier.sync
            for _ in range(n):
                try:
                    index = face.wait(rng.choice((0, 0.001, *long_waits)))
                except ts.BrokenBarrierError:
                    s.tally(indices, "broken")
                    r = rng.random()
                    if r < 0.5 and face.broken:
                        face.reset()
                    elif r < 0.52:
                        face.abort()
                    continue
                check_index(who, index)
                s.tally(indices, index)

        s.run(loops=3, tasks=2, threads=3, task_fn=task_fn, thread_fn=thread_fn)
        return indices

    indices = chaos_round(cancel=False)
    counts = {indices[i] for i in range(parties)}
    assert len(counts) == 1, f"[{env}] each trip hands each index out once: {indices}"
    print(f"without cancellation: {indices}")

    # 2. The same with random cancellations (a party cancelled after being woken loses its
    #    index: only the range is checked).
    print(f"with cancellations: {chaos_round(cancel=True)}")
    barrier.sync.reset()
    s.assert_quiet()

    # 3. Exactly `parties` workers, tasks and threads, no timeouts: round r is every
    #    party's r-th wait, so its indices are a permutation of range(parties).
    rounds = ops(30)
    got: dict[str, list[Any]] = {}

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        mine = got.setdefault(who, [])
        for _ in range(rounds):
            r = rng.random()
            if r < 0.4:
                mine.append(await barrier.wait())
            elif r < 0.7:
                async with barrier as index:
                    mine.append(index)
            else:
                mine.append(await barrier.wait(DEADLINE))

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        mine = got.setdefault(who, [])
        for _ in range(rounds):
            mine.append(barrier.sync.wait(DEADLINE if rng.random() < 0.3 else None))

    s.run(loops=3, tasks=1, threads=parties - 3, task_fn=task_fn, thread_fn=thread_fn)
    assert len(got) == parties
    for r in range(rounds):
        assert sorted(mine[r] for mine in got.values()) == list(range(parties)), (r, got)
    st = barrier.statistics()
    assert st.n_waiting == 0 and not st.broken, st
    s.assert_quiet()


# --- Loops that close with tasks still parked -------------------------------------------


#: How long the runs with closing loops may take: a lost grant or notification shows as a
#: hang there, so fail sooner than DEADLINE (a run takes well under a second).
CLOSING_DEADLINE = 20.0


class Closing:
    """Loops that stop, then close, with tasks of theirs still parked (not cancelled).

    Each helper made by ``helper()`` runs a few such loops one after the other, each with
    three tasks running ``body(rng, first_timeout)`` (which must never hold anything
    across an await). A loop stops when the first timeouts of its tasks expire, so that a
    timer may fire in its last iteration and wake a task that never runs; it closes a
    moment later, so that wake-ups sent from other threads meanwhile are never run either.
    """

    def __init__(self, stress: Stress) -> None:
        self.stress = stress
        self.tasks: list[asyncio.Task[Any]] = []

    def helper(
        self,
        name: str,
        body: Callable[[random.Random, float], Coroutine[Any, Any, None]],
        on_closed: Callable[[list[asyncio.Task[Any]]], None] | None = None,
    ) -> Callable[[threading.Event], None]:
        env = self.stress.env

        def run(stop: threading.Event) -> None:
            rng = self.stress.rng(name)
            for _ in range(ops(8)):
                if stop.is_set():
                    return
                loop = (env.factory or asyncio.new_event_loop)()
                run_for = rng.choice((0.001, 0.003, 0.01))

                tasks: list[asyncio.Task[Any]] = []

                async def start(run_for: float = run_for, tasks: list[Any] = tasks) -> None:
                    for _ in range(3):
                        tasks.append(asyncio.ensure_future(self._run(name, body(rng, run_for))))
                    await asyncio.sleep(0)

                try:
                    loop.run_until_complete(start())
                    loop.call_later(run_for, loop.stop)
                    loop.run_forever()
                    # Stopped, not yet closed: wake-ups may still be sent to its tasks.
                    time.sleep(rng.choice((0, 0.001, 0.005)))
                finally:
                    loop.close()
                    self.tasks.extend(tasks)
                if on_closed is not None:
                    on_closed(tasks)

        return run

    async def _run(self, name: str, body: Coroutine[Any, Any, None]) -> None:
        # No task may end with an exception nobody retrieves: asyncio would log it when the
        # task is collected, at some random point of a later test.
        try:
            await body
        except asyncio.CancelledError:
            raise
        except BaseException:
            self.stress.fail(f"a task of {name} raised:\n{format_exc()}")

    def finish(self) -> None:
        """Run the tasks that never ran to their end (their loops closed) to it, rather
        than leave their coroutines to be closed at some random later point: throw
        CancelledError into each from a plain thread, as cancelling them would have (a
        wait there blocks the thread instead of suspending). A primitive left broken could
        block that thread for good: it is then abandoned (a daemon)."""

        def run() -> None:
            for task in self.tasks:
                task._log_destroy_pending = False  # type: ignore[attr-defined]
                coro: Any = task.get_coro()
                try:
                    coro.throw(asyncio.CancelledError())
                except BaseException:
                    continue
                with contextlib.suppress(BaseException):
                    coro.close()

        finisher = threading.Thread(target=run, name="stress-finisher", daemon=True)
        finisher.start()
        finisher.join(5.0)


def suspended_in(task: asyncio.Task[Any], function: str) -> bool:
    """Whether ``task``'s coroutine is suspended inside a call of ``function``."""
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None and frame.f_code.co_name == function:
            return True
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return False


@pytest.mark.parametrize("kind", ["Lock", "Semaphore", "RWLock", "CapacityLimiter"])
def test_loops_closing_with_tasks_parked(env: Env, kind: str) -> None:
    """Loops close with tasks still parked (perhaps woken, or timed out, and not yet run)
    while other loops and threads keep using the primitive. As aiosync.threadsafe
    promises, a waiter whose loop closed is dropped, and a grant it could not take is
    passed on; and, as everywhere, never more holders than permits. Afterwards the
    primitive is free, with nobody waiting and nothing reserved."""
    prim: Any
    if kind == "RWLock":
        prim, limit = ts.RWLock(), 1
        side = prim.write
    else:
        limit = 1 if kind == "Lock" else 2
        prim = ts.Lock() if kind == "Lock" else getattr(ts, kind)(limit)
        side = prim
    s = Stress(env, prim)
    gauge = Gauge(s, limit, kind)
    closing = Closing(s)
    n = ops(100)
    timeouts = (0, 0.0005, 0.002, 0.01, 0.05)

    async def task_op(rng: random.Random, who: str) -> None:
        if await side.acquire(timeout=rng.choice(timeouts)):
            try:
                gauge.enter(who)
                try:
                    await pause(rng)
                finally:
                    gauge.leave()
            finally:
                side.release()

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            await chaos(rng, lambda: task_op(rng, who))

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        for _ in range(n):
            if side.sync.acquire(timeout=rng.choice(timeouts)):
                try:
                    gauge.enter(who)
                    try:
                        pause_thread(rng)
                    finally:
                        gauge.leave()
                finally:
                    side.sync.release()

    async def doomed(rng: random.Random, first_timeout: float) -> None:
        timeout: float | None = first_timeout
        while True:
            if await side.acquire(timeout=timeout):
                side.release()
            await asyncio.sleep(rng.choice((0, 0.0005, 0.002)))
            timeout = rng.choice((None, 0.0005, 0.002))

    try:
        s.run(
            loops=2,
            tasks=2,
            threads=2,
            task_fn=task_fn,
            thread_fn=thread_fn,
            helpers=[closing.helper("doomed0", doomed), closing.helper("doomed1", doomed)],
            deadline=CLOSING_DEADLINE,
        )
        assert gauge.most <= limit
        st = prim.statistics()
        if kind == "Lock":
            free = not st.locked and st.tasks_waiting == 0
        elif kind == "Semaphore":
            free = st.value == limit and st.tasks_waiting == 0
        elif kind == "RWLock":
            free = st.writer is None and st.readers == () and not st.writers_waiting
        else:
            free = st.borrowed_tokens == 0 and st.tasks_waiting == 0
        assert free, f"[{env}] {st}, _woken={prim._woken}"
        s.assert_quiet()
        assert side.sync.acquire(blocking=False)
        side.sync.release()
    finally:
        closing.finish()


def test_condition_loops_closing_with_tasks_waiting(env: Env) -> None:
    """As test_condition_loses_no_notification, with more flaky waiters: tasks on loops
    that close while they wait (perhaps notified, and not yet run). As aiosync.threadsafe
    promises, what such a waiter was handed, a notification, is passed on; were one lost,
    a steady waiter would never return (and the test would fail as hung).

    (A task whose loop closes while it re-acquires the lock at the end of wait() took its
    notification, if it had one, for good: nothing promises to pass that on, so for each
    such task the notifiers issue one more.)"""
    cond = ts.Condition()
    s = Stress(env, cond, cond._lock)
    closing = Closing(s)
    rounds = ops(60)
    steady_workers = 2 + 1  # task 0 of each loop, thread 0
    total = rounds * steady_workers
    tally = {"arrived": 0, "issued": 0, "returned": 0}  # changed with the lock held

    def finished() -> bool:
        return tally["returned"] == total or s.halted.is_set()

    async def task_fn(rng: random.Random, who: str, i: int) -> None:
        if i % 2 == 0:  # steady
            for _ in range(rounds):
                async with cond:
                    tally["arrived"] += 1
                    s.check(await cond.wait() is True, f"{who}: wait() returned False")
                    tally["returned"] += 1
            return
        while not finished():  # a notifier
            async with cond:
                if tally["issued"] < tally["arrived"]:
                    tally["issued"] += 1
                    cond.notify()
            await asyncio.sleep(rng.choice((0, 0.0003)))

    def thread_fn(rng: random.Random, who: str, i: int) -> None:
        face = cond.sync
        if i == 0:  # steady
            for _ in range(rounds):
                with face:
                    tally["arrived"] += 1
                    s.check(face.wait() is True, f"{who}: wait() returned False")
                    tally["returned"] += 1
            return
        while not finished():  # flaky
            with face:
                if not finished() and face.wait(rng.choice((0, 0.0005, 0.002))):
                    face.notify()  # not ours: pass it on

    def compensate(tasks: list[asyncio.Task[Any]]) -> None:
        lost = sum(suspended_in(task, "_reacquire") for task in tasks)
        if lost:
            with cond.sync:
                tally["issued"] -= lost

    async def doomed(rng: random.Random, first_timeout: float) -> None:
        timeout: float | None = first_timeout
        while not finished():
            async with cond:
                if await cond.wait(timeout):
                    cond.notify()  # not ours: pass it on
            await asyncio.sleep(rng.choice((0, 0.0005)))
            timeout = rng.choice((None, 0.0005, 0.002))

    try:
        s.run(
            loops=2,
            tasks=2,
            threads=2,
            task_fn=task_fn,
            thread_fn=thread_fn,
            helpers=[
                closing.helper("doomed0", doomed, compensate),
                closing.helper("doomed1", doomed, compensate),
            ],
            deadline=CLOSING_DEADLINE,
        )
        assert tally["returned"] == tally["arrived"] == total, tally
        st = cond.statistics()
        assert not st.locked and st.tasks_waiting == 0, st
        s.assert_quiet()
    finally:
        closing.finish()
