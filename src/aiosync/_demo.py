"""``aiosync demo``: a guided tour of the primitives, printed as a timeline.

Every section starts a few tasks that share one primitive and prints what each task does,
one line per step::

    +0.100s  worker-2     gets the lock, reads counter = 1

(time since the section started, the task, what it does). The demo uses only aiosync's
public API. Apart from the timings, its output is the same on every run: every scene is
timed so that no two steps are due at the same moment, and the primitives wake their
waiters in FIFO order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO, TypeAlias

from aiosync import (
    Barrier,
    BarrierStatistics,
    BrokenBarrierError,
    Condition,
    ConditionStatistics,
    Event,
    EventStatistics,
    Lock,
    LockStatistics,
    Semaphore,
    SemaphoreStatistics,
    __version__,
)

__all__ = ["SECTIONS", "run_demo"]

Statistics: TypeAlias = (
    LockStatistics | EventStatistics | SemaphoreStatistics | ConditionStatistics | BarrierStatistics
)

_NAME_WIDTH = 11


class Timeline:
    """Prints ``+elapsed  task  message`` lines, the clock restarting with each section."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._t0 = 0.0

    def say(self, text: str = "") -> None:
        """Print a line that is not a timeline step (a header, a summary)."""
        print(text, file=self._out, flush=True)

    def restart(self) -> None:
        self._t0 = asyncio.get_running_loop().time()

    def __call__(self, message: str) -> None:
        """Print a step of the task that is running now."""
        elapsed = asyncio.get_running_loop().time() - self._t0
        task = asyncio.current_task()
        name = task.get_name() if task is not None else "?"
        self.say(f"  +{elapsed:.3f}s  {name:<{_NAME_WIDTH}}  {message}")

    def stats(self, statistics: Statistics) -> None:
        """Print a primitive's ``statistics()``, a task shown by its name."""
        fields = []
        for field in dataclasses.fields(statistics):
            value = getattr(statistics, field.name)
            shown = f"<task {value.get_name()}>" if isinstance(value, asyncio.Task) else repr(value)
            fields.append(f"{field.name}={shown}")
        self(f"statistics(): {type(statistics).__name__}({', '.join(fields)})")


async def _after(delay: float, step: Callable[[], None]) -> None:
    await asyncio.sleep(delay)
    step()


# -- 1. Lock --------------------------------------------------------------------------------


async def _lock(log: Timeline) -> None:
    lock = Lock()
    counter = 0

    async def worker() -> None:
        nonlocal counter
        if lock.locked():
            log("waits for the lock")
        async with lock:
            value = counter
            log(f"gets the lock, reads counter = {value}")
            await asyncio.sleep(0.1)  # a slow update: other tasks run meanwhile
            counter = value + 1
            log(f"writes counter = {counter}, releases the lock")

    workers = [asyncio.create_task(worker(), name=f"worker-{i}") for i in (1, 2, 3)]
    await _after(0.05, lambda: log.stats(lock.statistics()))
    await asyncio.gather(*workers)

    n_workers, n_steps = 4, 100
    expected = n_workers * n_steps
    log.say()
    log.say(
        f"  The same race at full speed: {n_workers} tasks each add 1 to a counter {n_steps} times,"
    )
    log.say("  yielding to the event loop between reading the counter and writing it back.")

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
        log.say(f"  {label + ':':<15} counter = {counter} (expected {expected}): {verdict}")


# -- 2. Event -------------------------------------------------------------------------------


async def _event(log: Timeline) -> None:
    event = Event()

    async def waiter() -> None:
        log("waits for the event")
        result = await event.wait()
        log(f"wakes up: wait() returned {result}")

    async def setter() -> None:
        await asyncio.sleep(0.2)
        log("sets the event")
        event.set()

    tasks = [asyncio.create_task(waiter(), name=f"waiter-{i}") for i in (1, 2, 3)]
    tasks.append(asyncio.create_task(setter(), name="setter"))
    await _after(0.1, lambda: log.stats(event.statistics()))
    await asyncio.gather(*tasks)

    async def latecomer() -> None:
        result = await event.wait()
        log(f"arrives after set(): wait() returned {result} at once")

    await asyncio.sleep(0.05)
    await asyncio.create_task(latecomer(), name="latecomer")
    log.stats(event.statistics())


# -- 3. Semaphore ---------------------------------------------------------------------------


async def _semaphore(log: Timeline) -> None:
    sem = Semaphore(2)
    inside = max_inside = 0

    async def job(seconds: float) -> None:
        nonlocal inside, max_inside
        if sem.locked():
            log("waits for a slot")
        async with sem:
            inside += 1
            max_inside = max(max_inside, inside)
            log(f"enters ({inside} inside)")
            await asyncio.sleep(seconds)
            inside -= 1
            log(f"leaves after {seconds:.2f}s")

    # job-1 is shorter, so that the two slots never free up at the same moment.
    jobs = [
        asyncio.create_task(job(0.08 if i == 1 else 0.12), name=f"job-{i}") for i in range(1, 9)
    ]
    await _after(0.04, lambda: log.stats(sem.statistics()))
    await asyncio.gather(*jobs)
    log.stats(sem.statistics())
    log.say(f"  max inside at once: {max_inside}")


# -- 4. Condition ---------------------------------------------------------------------------


async def _condition(log: Timeline) -> None:
    cond = Condition()
    items: deque[str] = deque()
    done = False

    async def producer() -> None:
        nonlocal done
        for n in range(1, 5):
            await asyncio.sleep(0.1)
            async with cond:
                items.append(f"item-{n}")
                log(f"puts item-{n}, notify()")
                cond.notify()
        await asyncio.sleep(0.1)
        async with cond:
            done = True
            log("has nothing more, notify_all()")
            cond.notify_all()

    async def consumer() -> None:
        while True:
            async with cond:
                if not (items or done):
                    log("waits for an item")
                await cond.wait_for(lambda: items or done)
                if not items:
                    log("sees the producer is done, stops")
                    return
                item = items.popleft()
            log(f"takes {item}, works on it")
            await asyncio.sleep(0.15)  # outside the lock: the others may proceed
            log(f"finishes {item}")

    tasks = [asyncio.create_task(consumer(), name=f"consumer-{i}") for i in (1, 2)]
    tasks.append(asyncio.create_task(producer(), name="producer"))
    await _after(0.05, lambda: log.stats(cond.statistics()))
    await asyncio.gather(*tasks)


# -- 5. Barrier -----------------------------------------------------------------------------


async def _barrier(log: Timeline) -> None:
    barrier = Barrier(3)
    # Seconds each party spends before reaching the barrier, round by round.
    delays = {
        "party-1": (0.05, 0.15, 0.10),
        "party-2": (0.10, 0.05, 0.15),
        "party-3": (0.15, 0.10, 0.05),
    }

    async def party(own_delays: Sequence[float]) -> None:
        for round_no, delay in enumerate(own_delays, 1):
            await asyncio.sleep(delay)
            log(f"arrives (round {round_no}, {barrier.n_waiting} already waiting)")
            index = await barrier.wait()
            log(f"passes round {round_no}: index {index}")

    tasks = [asyncio.create_task(party(d), name=name) for name, d in delays.items()]
    await _after(0.125, lambda: log.stats(barrier.statistics()))
    await asyncio.gather(*tasks)


# -- 6. Timeouts ----------------------------------------------------------------------------


async def _timeouts(log: Timeline) -> None:
    log.say("  -- Lock.acquire(timeout=) while another task holds the lock")
    lock = Lock()

    async def holder() -> None:
        async with lock:
            log("holds the lock for 0.4s")
            await asyncio.sleep(0.4)
            log("releases the lock")

    async def contender(timeout: float) -> None:
        log(f"calls acquire(timeout={timeout})")
        if await lock.acquire(timeout=timeout):
            log("acquire() returned True: got the lock")
            lock.release()
        else:
            log("times out: acquire() returned False")

    tasks = [
        asyncio.create_task(holder(), name="holder"),
        asyncio.create_task(contender(0.2), name="impatient"),
        asyncio.create_task(contender(1.0), name="patient"),
    ]
    # The impatient task has left the queue: one waiter is left.
    await _after(0.3, lambda: log.stats(lock.statistics()))
    await asyncio.gather(*tasks)

    log.say("  -- Event.wait(timeout=) when nobody sets the event")
    event = Event()

    async def watcher() -> None:
        log("calls wait(timeout=0.1)")
        result = await event.wait(timeout=0.1)
        log(f"times out: wait() returned {result}")

    await asyncio.create_task(watcher(), name="watcher")

    log.say("  -- Barrier.wait(timeout=) when the third party never comes")
    barrier = Barrier(3)

    async def party(timeout: float | None) -> None:
        log("calls wait()" if timeout is None else f"calls wait(timeout={timeout})")
        try:
            await barrier.wait(timeout=timeout)
        except BrokenBarrierError as exc:
            log(f"gets {type(exc).__name__}: {exc}")

    tasks = [
        asyncio.create_task(party(None), name="punctual"),
        asyncio.create_task(party(0.1), name="hasty"),
    ]
    await asyncio.gather(*tasks)
    log.stats(barrier.statistics())


# -- The tour -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    title: str
    note: str
    scene: Callable[[Timeline], Awaitable[None]]


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
)
"""The demo's sections, in order; ``name`` is what ``aiosync demo NAME`` selects."""


async def _tour(names: Sequence[str], out: TextIO) -> None:
    current = asyncio.current_task()
    if current is not None:
        current.set_name("main")
    log = Timeline(out)
    log.say(f"aiosync {__version__} demo: asyncio's synchronization primitives, with timeouts")
    log.say("Each line: time since the section started, the task, what it does.")
    for number, section in enumerate(SECTIONS, 1):
        if names and section.name not in names:
            continue
        log.say()
        log.say(f"[{number}/{len(SECTIONS)}] {section.title}")
        log.say(f"  {section.note}")
        log.restart()
        await section.scene(log)


def run_demo(names: Sequence[str] = (), out: TextIO | None = None) -> int:
    """Run the sections called ``names`` (all of them if empty), printing to ``out``
    (stdout by default); return 0."""
    stream = sys.stdout if out is None else out
    start = time.perf_counter()
    asyncio.run(_tour(names, stream))
    print(f"\nDemo finished in {time.perf_counter() - start:.2f}s.", file=stream, flush=True)
    return 0
