"""The workloads: each is run identically on ``asyncio`` and ``aiosync`` (``mod``).

Every workload builds its primitive with ``mod.<Class>()`` and returns a
:class:`~benchmarks.harness.Sample`: the measured seconds (or bytes) and how many
operations that covers, so results can be shown per operation. See docs/benchmarks.md for
exactly what each one measures.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Awaitable, Callable, Coroutine
from types import ModuleType
from typing import Any

from .harness import (
    Arrivals,
    Countdown,
    PyVersion,
    Sample,
    Workload,
    clock,
    fixed,
    reap,
    until_arrived,
)


async def lock_uncontended(mod: ModuleType, iters: int) -> Sample:
    """One task does ``async with lock: pass`` ``iters`` times; the whole loop is timed."""
    lock = mod.Lock()
    t0 = clock()
    for _ in range(iters):
        async with lock:
            pass
    return Sample(clock() - t0, iters)


async def _contended(prim: object, tasks: int, iters: int) -> Sample:
    """``tasks`` tasks each do ``async with prim: await asyncio.sleep(0)`` ``iters`` times.

    Timed from the start of the first task to the end of the last one.
    """

    async def worker() -> None:
        for _ in range(iters):
            async with prim:  # type: ignore[attr-defined]
                await asyncio.sleep(0)

    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return Sample(clock() - t0, tasks * iters)


async def lock_contended(mod: ModuleType, tasks: int, iters: int) -> Sample:
    return await _contended(mod.Lock(), tasks, iters)


async def semaphore_contended(mod: ModuleType, value: int, tasks: int, iters: int) -> Sample:
    return await _contended(mod.Semaphore(value), tasks, iters)


WaiterFn = Callable[[], Coroutine[Any, Any, None]]
TriggerFn = Callable[[], Awaitable[float]]


async def _wake_parked(
    waiters: int,
    rounds: int,
    make_round: Callable[[Arrivals, Countdown], tuple[WaiterFn, TriggerFn]],
) -> Sample:
    """``rounds`` times: park ``waiters`` tasks running ``waiter()``, then time from the
    timestamp ``trigger()`` takes just before waking them until the last one ticks.

    Creating the tasks and letting them park is not timed, nor is reaping them.
    """
    elapsed = 0.0
    for _ in range(rounds):
        arrivals, done = Arrivals(), Countdown(waiters)
        waiter, trigger = make_round(arrivals, done)
        tasks = [asyncio.create_task(waiter()) for _ in range(waiters)]
        await until_arrived(arrivals, waiters)
        t0 = await trigger()
        elapsed += await done.done - t0
        await reap(tasks)
    return Sample(elapsed, waiters * rounds)


async def event_set(mod: ModuleType, waiters: int, rounds: int) -> Sample:
    """Time from just before ``set()`` until the last waiter's ``wait()`` has returned."""

    def make_round(arrivals: Arrivals, resumed: Countdown) -> tuple[WaiterFn, TriggerFn]:
        event = mod.Event()

        async def waiter() -> None:
            arrivals.count += 1
            await event.wait()
            resumed.tick()

        async def trigger() -> float:
            t0 = clock()
            event.set()
            return t0

        return waiter, trigger

    return await _wake_parked(waiters, rounds, make_round)


async def condition_notify_all(mod: ModuleType, waiters: int, rounds: int) -> Sample:
    """Time from just before ``notify_all()`` (lock held) until the last waiter has
    re-acquired the lock, returned from ``wait()`` and released the lock."""

    def make_round(arrivals: Arrivals, released: Countdown) -> tuple[WaiterFn, TriggerFn]:
        cond = mod.Condition()

        async def waiter() -> None:
            async with cond:
                arrivals.count += 1
                await cond.wait()
            released.tick()

        async def trigger() -> float:
            async with cond:
                t0 = clock()
                cond.notify_all()
            return t0

        return waiter, trigger

    return await _wake_parked(waiters, rounds, make_round)


async def condition_pingpong(mod: ModuleType, exchanges: int) -> Sample:
    """Two tasks take turns through one Condition: each, ``exchanges // 2`` times, waits
    for its turn, hands the turn over and ``notify()``-s. Timed end to end."""
    cond = mod.Condition()
    turn = [0]

    async def player(me: int) -> None:
        for _ in range(exchanges // 2):
            async with cond:
                while turn[0] != me:
                    await cond.wait()
                turn[0] = 1 - me
                cond.notify()

    t0 = clock()
    await asyncio.gather(player(0), player(1))
    return Sample(clock() - t0, 2 * (exchanges // 2))


async def barrier_rounds(mod: ModuleType, parties: int, rounds: int) -> Sample:
    """``parties`` tasks each pass ``barrier.wait()`` ``rounds`` times. Timed end to end;
    one op is one party passing the barrier once."""
    barrier = mod.Barrier(parties)

    async def party() -> None:
        for _ in range(rounds):
            await barrier.wait()

    t0 = clock()
    await asyncio.gather(*(party() for _ in range(parties)))
    return Sample(clock() - t0, parties * rounds)


async def lock_blocked_memory(mod: ModuleType, tasks: int) -> Sample:
    """Bytes allocated (tracemalloc) per task blocked in ``async with lock`` while the main
    task holds the lock: the Task, its coroutine frames, the waiter future and the
    primitive's queue entry. Measured once all tasks are parked, then everything is
    released and reaped."""
    lock = mod.Lock()
    await lock.acquire()
    arrivals = Arrivals()

    async def worker() -> None:
        arrivals.count += 1
        async with lock:
            await asyncio.sleep(0)

    started: list[asyncio.Task[None] | None] = [None] * tasks  # allocated before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(tasks):
            started[i] = asyncio.create_task(worker())
        await until_arrived(arrivals, tasks)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    lock.release()
    await reap(started)  # type: ignore[arg-type]
    return Sample(after - before, tasks)


def _lock_uncontended_target(version: PyVersion) -> float:
    # Given for 3.11 (0.75) and 3.13 (0.85); 3.10 takes 3.11's, 3.12 takes 3.13's (3.12
    # is where asyncio.current_task became C-accelerated).
    return 0.75 if version < (3, 12) else 0.85


def _event_scaling(waiters: int, total: int, target: float | None) -> Workload:
    rounds = max(1, total // waiters)
    return Workload(
        name=f"event_set_{waiters // 1000}k",
        summary=f"Event.set() waking {waiters:,} parked waiters (x{rounds} rounds)",
        fn=event_set,
        params={"waiters": waiters, "rounds": rounds},
        quick_params={"waiters": waiters, "rounds": max(1, rounds // 4)},
        op="waiter",
        target=(lambda v: None) if target is None else fixed(target),
        reps=None if waiters < 100_000 else 15,
    )


WORKLOADS: list[Workload] = [
    Workload(
        name="lock_uncontended",
        summary="`async with lock: pass` in one task",
        fn=lock_uncontended,
        params={"iters": 100_000},
        quick_params={"iters": 20_000},
        op="async with",
        target=_lock_uncontended_target,
    ),
    Workload(
        name="lock_contended",
        summary="Lock hand-off: 10 tasks loop `async with lock: await sleep(0)`",
        fn=lock_contended,
        params={"tasks": 10, "iters": 2_000},
        quick_params={"tasks": 10, "iters": 500},
        op="acquire",
        target=fixed(0.85),
    ),
    Workload(
        name="semaphore_contended",
        summary="Semaphore(3): 12 tasks loop `async with sem: await sleep(0)`",
        fn=semaphore_contended,
        params={"value": 3, "tasks": 12, "iters": 2_000},
        quick_params={"value": 3, "tasks": 12, "iters": 500},
        op="acquire",
        target=fixed(0.85),
    ),
    _event_scaling(1_000, 20_000, None),
    _event_scaling(10_000, 20_000, None),
    _event_scaling(100_000, 100_000, 0.95),
    Workload(
        name="condition_notify_all",
        summary="Condition.notify_all() to 10,000 waiters, until all re-acquired+released",
        fn=condition_notify_all,
        params={"waiters": 10_000, "rounds": 2},
        quick_params={"waiters": 10_000, "rounds": 1},
        op="waiter",
        target=fixed(0.9),
    ),
    Workload(
        name="condition_pingpong",
        summary="two tasks alternate turns via one Condition (wait/notify)",
        fn=condition_pingpong,
        params={"exchanges": 20_000},
        quick_params={"exchanges": 4_000},
        op="exchange",
        target=fixed(0.95),
    ),
    Workload(
        name="barrier",
        summary="Barrier(100): 100 parties x 100 rounds",
        fn=barrier_rounds,
        params={"parties": 100, "rounds": 100},
        quick_params={"parties": 100, "rounds": 20},
        op="party-round",
        target=fixed(0.25),
        requires=("Barrier",),
    ),
    Workload(
        name="lock_memory",
        summary="memory per task blocked in `async with lock` (10,000 tasks, tracemalloc)",
        fn=lock_blocked_memory,
        params={"tasks": 10_000},
        quick_params={"tasks": 10_000},
        op="task",
        target=fixed(0.9),
        kind="memory",
        reps=7,
    ),
]
