"""The peer workloads (``python -m benchmarks --peers``): aiosync's RWLock, RateLimiter,
CapacityLimiter and RLock against the packages people use for them today.

Each workload takes an adapter (benchmarks/peers.py) and builds its primitive with it
(``impl.rwlock()``, ``impl.rate_limiter(rate, period)``, ...); the rest of its code is the
same for every implementation. One run of a workload interleaves all its implementations
(peer, aiosync, peer, aiosync, ...; with two peers, peer 1, peer 2, aiosync, ...), and a
row is reported per peer: the ratio aiosync / peer, which must be below 1. See
docs/benchmarks.md ("Peers") for exactly what each measures.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from .harness import Sample, Workload, clock, fixed
from .workloads import _contended

# --- RWLock ------------------------------------------------------------------------------


async def rwlock_mixed(impl: Any, readers: int, writers: int, iters: int) -> Sample:
    """``readers`` tasks loop ``async with read: await sleep(0)`` and ``writers`` tasks
    ``async with write: await sleep(0)``, ``iters`` times each, all started together.
    Timed from before the ``gather`` until all have finished; one op is one acquisition."""
    read, write = impl.rwlock()

    async def worker(side: Any) -> None:
        for _ in range(iters):
            async with side:
                await asyncio.sleep(0)

    workers = [worker(read) for _ in range(readers)] + [worker(write) for _ in range(writers)]
    t0 = clock()
    await asyncio.gather(*workers)
    return Sample(clock() - t0, (readers + writers) * iters)


async def rwlock_read_uncontended(impl: Any, iters: int) -> Sample:
    """One task does ``async with read: pass`` ``iters`` times; the whole loop is timed."""
    read, _ = impl.rwlock()
    t0 = clock()
    for _ in range(iters):
        async with read:
            pass
    return Sample(clock() - t0, iters)


# --- RateLimiter -------------------------------------------------------------------------


async def ratelimiter_throughput(impl: Any, units: int) -> Sample:
    """One task does ``await limiter.acquire()`` (one unit) ``units`` times at a rate of
    1e9 units per second (burst 1e9), so that it never waits: this times the limiter's own
    bookkeeping. The whole loop is timed."""
    limiter = impl.rate_limiter(1e9, 1.0)
    t0 = clock()
    for _ in range(units):
        await limiter.acquire()
    return Sample(clock() - t0, units)


def window_excess(stamps: list[float], per_second: float) -> float:
    """The largest ``(units granted in [t_i, t_j]) - per_second * (t_j - t_i)`` over all
    grant times ``t_i <= t_j`` (one unit each, ``stamps`` sorted): how far the busiest
    window went beyond the steady rate. A limiter with burst ``b`` keeps this <= ``b``.

    O(n): the excess is ``(j - r t_j) - (i - r t_i) + 1``, so it is the best of each
    ``j - r t_j`` against the running minimum of ``i - r t_i``.
    """
    best = -math.inf
    low = math.inf
    for j, t in enumerate(stamps):
        v = j - per_second * t
        low = min(low, v)
        best = max(best, v - low + 1)
    return best


async def ratelimiter_contended(
    impl: Any, tasks: int, units: int, rate: int, period_ms: int
) -> Sample:
    """``tasks`` tasks share ``units`` one-unit acquisitions (each takes a ticket, then
    ``await limiter.acquire()``) from a limiter of ``rate`` units per ``period_ms``
    milliseconds, burst ``rate``; each grant is time-stamped when ``acquire()`` returns.
    Timed (the sample's value) from before the ``gather`` until all tasks have finished.

    Reported beside it (``Sample.extra``), in wall time whatever the clock: the run, from
    before the ``gather`` to the last grant; the exact bound for that run, ``rate +
    floor(rate * run / period)`` units (the most any limiter with these parameters may
    grant in it); the peak window excess (:func:`window_excess`, at most ``rate``, the
    burst); and the CPU time of the whole run (``time.thread_time``).
    """
    period = period_ms / 1000
    limiter = impl.rate_limiter(rate, period)
    left = [units]
    stamps: list[float] = []
    wall = time.perf_counter

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await limiter.acquire()
            stamps.append(wall())

    cpu0 = time.thread_time()
    w0 = wall()
    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = clock() - t0
    cpu = time.thread_time() - cpu0
    run = stamps[-1] - w0
    bound = rate + math.floor(rate * run / period)
    extra = {
        "granted": float(len(stamps)),
        "run": run,
        "bound": float(bound),
        "shortest": (units - rate) * period / rate,  # if every unit came at its slot
        "peak_excess": window_excess(stamps, rate / period),
        "burst": float(rate),
        "cpu": cpu,
    }
    return Sample(elapsed, units, extra)


# --- CapacityLimiter ---------------------------------------------------------------------


async def capacity_uncontended(impl: Any, tokens: int, iters: int) -> Sample:
    """One task does ``async with limiter: pass`` ``iters`` times; the whole loop is timed."""
    limiter = impl.capacity_limiter(tokens)
    t0 = clock()
    for _ in range(iters):
        async with limiter:
            pass
    return Sample(clock() - t0, iters)


async def capacity_contended(impl: Any, tokens: int, tasks: int, iters: int) -> Sample:
    """``tasks`` tasks loop ``async with limiter: await sleep(0)`` over ``tokens`` tokens
    (as semaphore_contended); timed end to end, one op per acquisition."""
    return await _contended(impl.capacity_limiter(tokens), tasks, iters)


# --- RLock -------------------------------------------------------------------------------


async def rlock_uncontended(impl: Any, iters: int) -> Sample:
    """One task does ``async with lock: pass`` ``iters`` times; the whole loop is timed."""
    lock = impl.rlock()
    t0 = clock()
    for _ in range(iters):
        async with lock:
            pass
    return Sample(clock() - t0, iters)


async def rlock_nested(impl: Any, iters: int) -> Sample:
    """One task takes the lock three levels deep, ``iters`` times: ``async with lock,
    lock, lock: pass`` (the same as three nested ``async with lock:``). Timed as a whole;
    one op is one acquisition."""
    lock = impl.rlock()
    t0 = clock()
    for _ in range(iters):
        async with lock, lock, lock:  # three nested levels
            pass
    return Sample(clock() - t0, 3 * iters)


async def rlock_contended(impl: Any, tasks: int, iters: int) -> Sample:
    """``tasks`` tasks loop ``async with lock: await sleep(0)`` (as lock_contended)."""
    return await _contended(impl.rlock(), tasks, iters)


# --- the list ----------------------------------------------------------------------------

FASTER = fixed(1.0)  # aiosync faster than the peer: ratio strictly below 1

AIORWLOCK = ("aiorwlock.RWLock()", "aiorwlock.RWLock(fast=True)")

PEER_WORKLOADS: list[Workload] = [
    Workload(
        name="rwlock_read_heavy",
        summary="RWLock: 10 readers + 1 writer loop `async with side: await sleep(0)`",
        fn=rwlock_mixed,
        params={"readers": 10, "writers": 1, "iters": 1_000},
        quick_params={"readers": 10, "writers": 1, "iters": 250},
        op="acquire",
        target=FASTER,
        strict=True,
        peers=AIORWLOCK,
    ),
    Workload(
        name="rwlock_write_heavy",
        summary="RWLock: 1 reader + 10 writers loop `async with side: await sleep(0)`",
        fn=rwlock_mixed,
        params={"readers": 1, "writers": 10, "iters": 1_000},
        quick_params={"readers": 1, "writers": 10, "iters": 250},
        op="acquire",
        target=FASTER,
        strict=True,
        peers=AIORWLOCK,
    ),
    Workload(
        name="rwlock_read_uncontended",
        summary="RWLock: `async with read: pass` in one task",
        fn=rwlock_read_uncontended,
        params={"iters": 50_000},
        quick_params={"iters": 10_000},
        op="async with",
        target=FASTER,
        strict=True,
        peers=AIORWLOCK,
    ),
    Workload(
        name="ratelimiter_throughput",
        summary="RateLimiter: 100,000 x `await acquire()` at rate 1e9/s (never waits)",
        fn=ratelimiter_throughput,
        params={"units": 100_000},
        quick_params={"units": 20_000},
        op="acquire",
        target=FASTER,
        strict=True,
        peers=("aiolimiter.AsyncLimiter",),
    ),
    Workload(
        name="ratelimiter_contended",
        summary="RateLimiter 100 per 50 ms (burst 100): 200 tasks share 1,100 acquisitions",
        fn=ratelimiter_contended,
        params={"tasks": 200, "units": 1_100, "rate": 100, "period_ms": 50},
        quick_params={"tasks": 200, "units": 350, "rate": 100, "period_ms": 50},
        op="unit",
        target=FASTER,
        strict=True,
        peers=("aiolimiter.AsyncLimiter",),
        reps=11,
    ),
    Workload(
        name="capacity_uncontended",
        summary="CapacityLimiter(1): `async with limiter: pass` in one task",
        fn=capacity_uncontended,
        params={"tokens": 1, "iters": 50_000},
        quick_params={"tokens": 1, "iters": 10_000},
        op="async with",
        target=FASTER,
        strict=True,
        peers=("anyio.CapacityLimiter",),
    ),
    Workload(
        name="capacity_contended",
        summary="CapacityLimiter(3): 12 tasks loop `async with limiter: await sleep(0)`",
        fn=capacity_contended,
        params={"tokens": 3, "tasks": 12, "iters": 1_000},
        quick_params={"tokens": 3, "tasks": 12, "iters": 250},
        op="acquire",
        target=FASTER,
        strict=True,
        peers=("anyio.CapacityLimiter",),
    ),
    Workload(
        name="rlock_uncontended",
        summary="RLock: `async with lock: pass` in one task (single level)",
        fn=rlock_uncontended,
        params={"iters": 100_000},
        quick_params={"iters": 20_000},
        op="async with",
        target=FASTER,
        strict=True,
        peers=("asyncio.Lock", "aiologic.RLock"),
    ),
    Workload(
        name="rlock_nested",
        summary="RLock: three nested `async with lock` in one task",
        fn=rlock_nested,
        params={"iters": 50_000},
        quick_params={"iters": 10_000},
        op="acquire",
        target=FASTER,
        strict=True,
        peers=("aiologic.RLock",),
    ),
    Workload(
        name="rlock_contended",
        summary="RLock: 10 tasks loop `async with lock: await sleep(0)` (single level)",
        fn=rlock_contended,
        params={"tasks": 10, "iters": 2_000},
        quick_params={"tasks": 10, "iters": 500},
        op="acquire",
        target=FASTER,
        strict=True,
        peers=("asyncio.Lock", "aiologic.RLock"),
    ),
]
