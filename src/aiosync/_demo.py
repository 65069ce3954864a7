"""``aiosync demo``: a guided tour of the primitives, printed as a timeline.

Every section stages a scene: a few tasks share one primitive, and each step a task takes is
printed on one line::

    +0.100s  worker-2     gets the lock, reads counter = 1

(time since the section started, the task, what it does). The scenes use only aiosync's
public API: first asyncio's primitives and their timeouts, then those asyncio lacks.

Apart from the timings, the output is the same on every run, even on a busy machine: every
pause in a scene is a :meth:`Stage.sleep`, which wakes sleepers one at a time, in the order
of their wake-up times, and lets the tasks that the woken one sets going run before the
next is woken. (With plain ``asyncio.sleep``, a machine that stalls for a moment can let two
tasks due 50 ms apart overtake each other.) The only real timers left are those of
aiosync's own ``timeout=`` and RateLimiter's schedule, each at least 0.1 s from any other
step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO, TypeAlias

from aiosync import (
    Barrier,
    BarrierStatistics,
    BrokenBarrierError,
    CapacityLimiter,
    CapacityLimiterStatistics,
    Condition,
    ConditionStatistics,
    CountdownLatch,
    CountdownLatchStatistics,
    Event,
    EventStatistics,
    KeyedLock,
    KeyedLockStatistics,
    Lock,
    LockStatistics,
    RateLimiter,
    RateLimiterStatistics,
    RLock,
    RLockStatistics,
    RWLock,
    RWLockStatistics,
    Semaphore,
    SemaphoreStatistics,
    __version__,
)

__all__ = ["SECTIONS", "Section", "Stage", "run_demo"]

Statistics: TypeAlias = (
    LockStatistics
    | EventStatistics
    | SemaphoreStatistics
    | ConditionStatistics
    | BarrierStatistics
    | RLockStatistics
    | RWLockStatistics
    | CapacityLimiterStatistics
    | RateLimiterStatistics
    | KeyedLockStatistics
    | CountdownLatchStatistics
)

_NAME_WIDTH = 11

# Loop iterations that Stage lets pass after waking a sleeper, for the tasks it sets going
# to run up to their next pause (a scene's longest chain of hand-offs takes about five).
_SETTLE = 32


class Stage:
    """Where a section's scene plays: its clock, its ``sleep()`` and its printing."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._closed = False
        self._t0 = 0.0
        # Scene time of the latest wake-up: a sleep(d) ends at now + d, in scene time.
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._sleeper_added: asyncio.Future[None] | None = None

    # -- printing ---------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        """Print a line that is not a step (a header, a summary)."""
        if self._closed:
            return
        try:
            print(text, file=self._out, flush=True)
        except BrokenPipeError:
            # Raised once, in the task that printed; the others just stop printing, so that
            # no second error is left unretrieved while the demo winds down.
            self._closed = True
            raise

    def log(self, message: str) -> None:
        """Print a step of the task that is running now."""
        elapsed = asyncio.get_running_loop().time() - self._t0
        task = asyncio.current_task()
        name = task.get_name() if task is not None else "?"
        self.say(f"  +{elapsed:.3f}s  {name:<{_NAME_WIDTH}}  {message}")

    def stats(self, statistics: Statistics) -> None:
        """Print a primitive's ``statistics()`` as a step (a task shown by its name)."""
        fields = [
            f"{field.name}={_shown(getattr(statistics, field.name))}"
            for field in dataclasses.fields(statistics)
        ]
        self.log(f"statistics(): {type(statistics).__name__}({', '.join(fields)})")

    # -- time -------------------------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        """Pause the calling task for ``seconds`` of scene time."""
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), fut))
        if self._sleeper_added is not None and not self._sleeper_added.done():
            self._sleeper_added.set_result(None)
        await fut

    async def play(self, scene: Callable[[Stage], Awaitable[None]]) -> None:
        """Run ``scene``, its clock starting now, waking its sleepers until it returns."""
        self._t0 = asyncio.get_running_loop().time()
        self._now = 0.0
        clock = asyncio.create_task(self._run_clock(), name="clock")
        try:
            await scene(self)
        finally:
            clock.cancel()
            await asyncio.wait([clock])

    async def _run_clock(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for _ in range(_SETTLE):
                await asyncio.sleep(0)
            if not self._sleepers:
                self._sleeper_added = loop.create_future()
                await self._sleeper_added
                continue
            # Measured from now rather than from the section's start: should the machine
            # stall, the rest of the scene (aiosync's timeouts included) shifts as a whole.
            delay = self._sleepers[0][0] - self._now
            if delay > 0:
                await asyncio.sleep(delay)
            wake_at, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, wake_at)
            if not fut.done():
                fut.set_result(None)


def _shown(value: object) -> str:
    """A field of a statistics snapshot, as printed: a task by its name."""
    if isinstance(value, asyncio.Task):
        return f"<task {value.get_name()}>"
    if isinstance(value, tuple):
        # Sorted: CapacityLimiter's borrowers come from a set, whose order varies from run
        # to run.
        items = sorted(_shown(item) for item in value)
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)


# -- 1. Lock --------------------------------------------------------------------------------


async def _lock(stage: Stage) -> None:
    lock = Lock()
    counter = 0

    async def worker() -> None:
        nonlocal counter
        if lock.locked():
            stage.log("waits for the lock")
        async with lock:
            value = counter
            stage.log(f"gets the lock, reads counter = {value}")
            await stage.sleep(0.1)  # a slow update: other tasks run meanwhile
            counter = value + 1
            stage.log(f"writes counter = {counter}, releases the lock")

    workers = [asyncio.create_task(worker(), name=f"worker-{i}") for i in (1, 2, 3)]
    await stage.sleep(0.05)
    stage.stats(lock.statistics())
    await asyncio.gather(*workers)

    n_workers, n_steps = 4, 100
    expected = n_workers * n_steps
    stage.say()
    stage.say(
        f"  The same race at full speed: {n_workers} tasks each add 1 to a counter {n_steps} times,"
    )
    stage.say("  yielding to the event loop between reading the counter and writing it back.")

    async def add(guard: Lock | None) -> None:
        nonlocal counter
        for _ in range(n_steps):
            if guard is not None:
                await guard.acquire()
            value = counter
            await asyncio.sleep(0)
            counter = value + 1
            if guard is not None:
                guard.release()

    for label, guard in (("without a lock", None), ("with the lock", Lock())):
        counter = 0
        await asyncio.gather(*(add(guard) for _ in range(n_workers)))
        lost = expected - counter
        verdict = "correct" if lost == 0 else f"{lost} updates lost"
        stage.say(f"  {label + ':':<15} counter = {counter} (expected {expected}): {verdict}")


# -- 2. Event -------------------------------------------------------------------------------


async def _event(stage: Stage) -> None:
    event = Event()

    async def waiter() -> None:
        stage.log("waits for the event")
        result = await event.wait()
        stage.log(f"wakes up: wait() returned {result}")

    async def setter() -> None:
        await stage.sleep(0.2)
        stage.log("sets the event")
        event.set()

    async def latecomer() -> None:
        await stage.sleep(0.3)
        result = await event.wait()
        stage.log(f"arrives after set(): wait() returned {result} at once")

    tasks = [asyncio.create_task(waiter(), name=f"waiter-{i}") for i in (1, 2, 3)]
    tasks.append(asyncio.create_task(setter(), name="setter"))
    tasks.append(asyncio.create_task(latecomer(), name="latecomer"))
    await stage.sleep(0.1)
    stage.stats(event.statistics())
    await asyncio.gather(*tasks)
    stage.stats(event.statistics())


# -- 3. Semaphore ---------------------------------------------------------------------------


async def _semaphore(stage: Stage) -> None:
    sem = Semaphore(2)
    inside = max_inside = 0

    async def job(seconds: float) -> None:
        nonlocal inside, max_inside
        if sem.locked():
            stage.log("waits for a slot")
        async with sem:
            inside += 1
            max_inside = max(max_inside, inside)
            stage.log(f"enters ({inside} inside)")
            await stage.sleep(seconds)
            inside -= 1
            stage.log(f"leaves after {seconds:.2f}s")

    # job-1 is shorter, so that the two slots free up at different moments.
    jobs = [
        asyncio.create_task(job(0.08 if i == 1 else 0.12), name=f"job-{i}") for i in range(1, 9)
    ]
    await stage.sleep(0.04)
    stage.stats(sem.statistics())
    await asyncio.gather(*jobs)
    stage.stats(sem.statistics())
    stage.say(f"  max inside at once: {max_inside}")


# -- 4. Condition ---------------------------------------------------------------------------


async def _condition(stage: Stage) -> None:
    cond = Condition()
    items: deque[str] = deque()
    done = False

    async def producer() -> None:
        nonlocal done
        for n in range(1, 5):
            await stage.sleep(0.1)
            async with cond:
                items.append(f"item-{n}")
                stage.log(f"puts item-{n}, notify()")
                cond.notify()
        await stage.sleep(0.1)
        async with cond:
            done = True
            stage.log("has nothing more, notify_all()")
            cond.notify_all()

    async def consumer() -> None:
        while True:
            async with cond:
                if not (items or done):
                    stage.log("waits for an item")
                await cond.wait_for(lambda: items or done)
                if not items:
                    stage.log("sees the producer is done, stops")
                    return
                item = items.popleft()
            stage.log(f"takes {item}, works on it")
            await stage.sleep(0.15)  # outside the lock: the others may proceed
            stage.log(f"finishes {item}")

    tasks = [asyncio.create_task(consumer(), name=f"consumer-{i}") for i in (1, 2)]
    tasks.append(asyncio.create_task(producer(), name="producer"))
    await stage.sleep(0.05)
    stage.stats(cond.statistics())
    await asyncio.gather(*tasks)


# -- 5. Barrier -----------------------------------------------------------------------------


async def _barrier(stage: Stage) -> None:
    barrier = Barrier(3)
    # Seconds each party spends before reaching the barrier, round by round.
    delays = {
        "party-1": (0.05, 0.15, 0.10),
        "party-2": (0.10, 0.05, 0.15),
        "party-3": (0.15, 0.10, 0.05),
    }

    async def party(own_delays: Sequence[float]) -> None:
        for round_no, delay in enumerate(own_delays, 1):
            await stage.sleep(delay)
            stage.log(f"arrives (round {round_no}, {barrier.n_waiting} already waiting)")
            index = await barrier.wait()
            stage.log(f"passes round {round_no}: index {index}")

    tasks = [asyncio.create_task(party(d), name=name) for name, d in delays.items()]
    await stage.sleep(0.125)
    stage.stats(barrier.statistics())
    await asyncio.gather(*tasks)


# -- 6. Timeouts ----------------------------------------------------------------------------


async def _timeouts(stage: Stage) -> None:
    stage.say("  -- Lock.acquire(timeout=) while another task holds the lock")
    lock = Lock()

    async def holder() -> None:
        async with lock:
            stage.log("holds the lock for 0.4s")
            await stage.sleep(0.4)
            stage.log("releases the lock")

    async def contender(timeout: float) -> None:
        stage.log(f"calls acquire(timeout={timeout})")
        if await lock.acquire(timeout=timeout):
            stage.log("acquire() returned True: got the lock")
            lock.release()
        else:
            stage.log("times out: acquire() returned False")

    tasks = [
        asyncio.create_task(holder(), name="holder"),
        asyncio.create_task(contender(0.2), name="impatient"),
        asyncio.create_task(contender(1.0), name="patient"),
    ]
    await stage.sleep(0.3)
    stage.stats(lock.statistics())  # the impatient task has left the queue
    await asyncio.gather(*tasks)

    stage.say("  -- Event.wait(timeout=) when nobody sets the event")
    event = Event()

    async def watcher() -> None:
        stage.log("calls wait(timeout=0.1)")
        result = await event.wait(timeout=0.1)
        stage.log(f"times out: wait() returned {result}")

    await asyncio.create_task(watcher(), name="watcher")

    stage.say("  -- Barrier.wait(timeout=) when the third party never comes")
    barrier = Barrier(3)

    async def party(timeout: float | None) -> None:
        stage.log("calls wait()" if timeout is None else f"calls wait(timeout={timeout})")
        try:
            await barrier.wait(timeout=timeout)
        except BrokenBarrierError as exc:
            stage.log(f"gets {type(exc).__name__}: {exc}")

    tasks = [
        asyncio.create_task(party(None), name="punctual"),
        asyncio.create_task(party(0.1), name="hasty"),
    ]
    await asyncio.gather(*tasks)
    stage.stats(barrier.statistics())


# -- 7. RLock -------------------------------------------------------------------------------


async def _rlock(stage: Stage) -> None:
    rlock = RLock()

    async def descend(level: int) -> None:
        # A recursive function: each level takes the lock its caller already holds.
        async with rlock:
            stage.log(f"enters level {level}: recursion = {rlock.statistics().count}")
            if level < 3:
                await descend(level + 1)
            else:
                await stage.sleep(0.1)
        stage.log(f"leaves level {level}: recursion = {rlock.statistics().count}")

    async def other() -> None:
        try:
            rlock.release()
        except RuntimeError:
            stage.log("calls release() without holding the lock: RuntimeError")
        stage.log("waits for the lock")
        async with rlock:
            stage.log(f"gets the lock: recursion = {rlock.statistics().count}")

    tasks = [
        asyncio.create_task(descend(1), name="recursive"),
        asyncio.create_task(other(), name="other"),
    ]
    await stage.sleep(0.05)
    stage.stats(rlock.statistics())
    await asyncio.gather(*tasks)
    stage.stats(rlock.statistics())


# -- 8. RWLock ------------------------------------------------------------------------------


async def _rwlock(stage: Stage) -> None:
    rw = RWLock()
    readers_inside = max_readers = 0

    async def reader(arrival: float, seconds: float) -> None:
        nonlocal readers_inside, max_readers
        if arrival:
            await stage.sleep(arrival)
        if rw.statistics().writers_waiting:
            stage.log("wants to read: a writer waits, so it queues behind the writer")
        async with rw.read:
            readers_inside += 1
            max_readers = max(max_readers, readers_inside)
            stage.log(f"reads ({readers_inside} inside)")
            await stage.sleep(seconds)
            readers_inside -= 1
            stage.log("stops reading")

    async def writer() -> None:
        await stage.sleep(0.05)
        stage.log(f"wants to write: waits for the {readers_inside} readers inside")
        async with rw.write:
            stage.log(f"writes alone ({readers_inside} readers inside)")
            await stage.sleep(0.1)
            stage.log("stops writing")

    tasks = [asyncio.create_task(reader(0, 0.15), name=f"reader-{i}") for i in (1, 2, 3)]
    tasks.append(asyncio.create_task(writer(), name="writer"))
    tasks += [asyncio.create_task(reader(0.1, 0.1), name=f"reader-{i}") for i in (4, 5)]
    await stage.sleep(0.125)
    stage.stats(rw.statistics())
    await asyncio.gather(*tasks)
    stage.say(f"  max readers inside at once: {max_readers}")


# -- 9. CapacityLimiter ---------------------------------------------------------------------


async def _capacity_limiter(stage: Stage) -> None:
    limiter = CapacityLimiter(2)
    inside = 0

    async def download() -> None:
        nonlocal inside
        if not limiter.available_tokens:
            stage.log("waits for a token")
        async with limiter:
            inside += 1
            stage.log(f"borrows a token, downloads ({inside} downloading)")
            await stage.sleep(0.15)
            inside -= 1
            stage.log("finishes, returns its token")

    tasks = [asyncio.create_task(download(), name=f"download-{i}") for i in range(1, 6)]
    await stage.sleep(0.05)
    stage.stats(limiter.statistics())
    await stage.sleep(0.05)
    stage.log(f"raises total_tokens from {limiter.total_tokens} to 4")
    limiter.total_tokens = 4
    await asyncio.gather(*tasks)
    stage.stats(limiter.statistics())


# -- 10. RateLimiter ------------------------------------------------------------------------


async def _rate_limiter(stage: Stage) -> None:
    rate, burst = 5, 2
    limiter = RateLimiter(rate, burst=burst)  # 5 units per second, up to 2 at once
    granted = 0
    stage.stats(limiter.statistics())

    async def client() -> None:
        nonlocal granted
        stage.log("calls acquire()")
        await limiter.acquire()
        granted += 1
        # Every client asked at +0s: the first `burst` units are due at once, then one
        # every 1/rate seconds.
        due = max(0, granted - burst) / rate
        stage.log(f"gets unit {granted}, due at +{due:.3f}s")

    async def impatient() -> None:
        await stage.sleep(0.1)
        waiting = limiter.statistics().tasks_waiting
        stage.log(f"calls acquire(timeout=0.1) behind {waiting} waiting clients")
        if await limiter.acquire(timeout=0.1):
            stage.log("acquire() returned True: got a unit")
        else:
            stage.log("acquire() returned False at once: no slot for it within 0.1s")

    tasks = [asyncio.create_task(client(), name=f"client-{i}") for i in range(1, 6)]
    tasks.append(asyncio.create_task(impatient(), name="impatient"))
    await asyncio.gather(*tasks)
    stage.say(f"  units granted: {granted}, {burst} at once, then one every {1 / rate:g}s")


# -- 11. KeyedLock --------------------------------------------------------------------------


async def _keyed_lock(stage: Stage) -> None:
    locks: KeyedLock[str] = KeyedLock()

    async def order(customer: str) -> None:
        key = f"locks[{customer!r}]"
        if locks[customer].locked():
            stage.log(f"waits for {key}")
        async with locks[customer]:
            stage.log(f"holds {key}, updates {customer}'s account (len(locks) = {len(locks)})")
            await stage.sleep(0.1)
        stage.log(f"releases {key} (len(locks) = {len(locks)})")

    customers = ("alice", "bob", "alice")
    tasks = [
        asyncio.create_task(order(customer), name=f"order-{i}")
        for i, customer in enumerate(customers, 1)
    ]
    await stage.sleep(0.05)
    stage.stats(locks.statistics())
    await asyncio.gather(*tasks)
    stage.stats(locks.statistics())
    stage.say(f"  keys left behind: len(locks) = {len(locks)}")


# -- 12. CountdownLatch ---------------------------------------------------------------------


async def _countdown_latch(stage: Stage) -> None:
    latch = CountdownLatch(3)

    async def coordinator() -> None:
        stage.log(f"waits for the workers (count = {latch.count})")
        result = await latch.wait()
        stage.log(f"wakes up: wait() returned {result}, count = {latch.count}")

    async def worker(seconds: float) -> None:
        await stage.sleep(seconds)
        latch.count_down()
        stage.log(f"finishes after {seconds:.2f}s, count_down(): count = {latch.count}")

    tasks = [asyncio.create_task(coordinator(), name="coordinator")]
    tasks += [
        asyncio.create_task(worker(seconds), name=f"worker-{i}")
        for i, seconds in enumerate((0.1, 0.2, 0.15), 1)
    ]
    await stage.sleep(0.05)
    stage.stats(latch.statistics())
    await asyncio.gather(*tasks)
    result = await latch.wait()
    stage.log(f"calls wait() later: returns {result} at once, the latch stays open")
    stage.stats(latch.statistics())


# -- The tour -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    title: str
    note: str
    scene: Callable[[Stage], Awaitable[None]]


SECTIONS: tuple[Section, ...] = (
    Section(
        "lock",
        "Lock: three workers take turns updating a shared counter",
        "Each worker reads the counter, works 0.1s, writes it back plus 1, all under the lock.",
        _lock,
    ),
    Section(
        "event",
        "Event: three waiters, one setter",
        "wait() blocks until the flag is set; set() wakes every waiter at once.",
        _event,
    ),
    Section(
        "semaphore",
        "Semaphore(2): eight jobs, at most two at a time",
        "`async with sem:` takes one of two slots; the others queue, first come first served.",
        _semaphore,
    ),
    Section(
        "condition",
        "Condition: one producer, two consumers",
        "Consumers wait_for() an item under the lock; the producer notify()s one per item.",
        _condition,
    ),
    Section(
        "barrier",
        "Barrier(3): three parties meet, three rounds",
        "wait() returns when all three have arrived, with the arrival index (0, 1, 2) of\n"
        "  each party; the last to arrive gets 2 and releases the others.",
        _barrier,
    ),
    Section(
        "timeout",
        "Timeouts: timeout= on every blocking call",
        "acquire() and wait() return False when time runs out; Barrier.wait() breaks the\n"
        "  barrier and raises BrokenBarrierError.",
        _timeouts,
    ),
    Section(
        "rlock",
        "RLock: a recursive function re-enters the lock, another task waits",
        "The owner (a task) may acquire again; the lock is free once it has released as many\n"
        "  times as it acquired. Other tasks wait, and may not release it.",
        _rlock,
    ),
    Section(
        "rwlock",
        "RWLock: three readers together, a writer alone, two late readers",
        "`async with rw.read` shares, `async with rw.write` excludes. Once a writer waits,\n"
        "  new readers queue behind it: writers never starve.",
        _rwlock,
    ),
    Section(
        "capacitylimiter",
        "CapacityLimiter(2): five downloads, then the limit goes up to 4",
        "Each borrower holds one token, first come first served; assigning total_tokens at run\n"
        "  time admits waiters at once.",
        _capacity_limiter,
    ),
    Section(
        "ratelimiter",
        "RateLimiter(5 per second, burst 2): five clients and an impatient one",
        "Each unit has a slot on a fixed schedule: 2 at once, then one every 0.2s.\n"
        "  acquire(timeout=) returns False at once if the slot is further away.",
        _rate_limiter,
    ),
    Section(
        "keyedlock",
        "KeyedLock: three orders, two customers",
        "`async with locks[key]` serialises tasks per key, distinct keys run in parallel; a\n"
        "  key's lock exists only while some task holds or waits for it.",
        _keyed_lock,
    ),
    Section(
        "countdownlatch",
        "CountdownLatch(3): a coordinator waits for three workers",
        "wait() returns once count_down() has been called 3 times; then the latch stays open.",
        _countdown_latch,
    ),
)
"""The demo's sections, in order; ``name`` is what ``aiosync demo NAME`` selects."""


async def _tour(names: Sequence[str], out: TextIO) -> None:
    current = asyncio.current_task()
    if current is not None:
        current.set_name("main")
    stage = Stage(out)
    stage.say(
        f"aiosync {__version__} demo: asyncio's synchronization primitives, with timeouts,"
        " and those asyncio lacks"
    )
    stage.say("Each line: time since the section started, the task, what it does.")
    for number, section in enumerate(SECTIONS, 1):
        if names and section.name not in names:
            continue
        stage.say()
        stage.say(f"[{number}/{len(SECTIONS)}] {section.title}")
        stage.say(f"  {section.note}")
        await stage.play(section.scene)


def run_demo(names: Sequence[str] = (), out: TextIO | None = None) -> int:
    """Run the sections called ``names`` (all of them if empty), printing to ``out``
    (stdout by default); return the exit code: 0, or 1 if the output was closed early,
    130 if interrupted."""
    stream = sys.stdout if out is None else out
    start = time.perf_counter()
    try:
        asyncio.run(_tour(names, stream))
        print(f"\nDemo finished in {time.perf_counter() - start:.2f}s.", file=stream, flush=True)
    except BrokenPipeError:
        # The reader went away (``aiosync demo | head``): stop quietly, as other command-line
        # tools do, and keep Python from failing again when it flushes stdout at exit.
        if out is None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
