"""The shared benchmark harness: event loops, interleaved repetitions, medians.

A workload is an ``async def`` taking the implementation under test plus its size
parameters. For the core suite that is a module (``asyncio`` or ``aiosync``), and the
workload builds its primitives from it (``mod.Lock()``); for the peer suite
(benchmarks/peers.py) it is an adapter whose factories return a library's own objects
(``impl.rwlock()``). Either way the code run for every implementation is identical. The
workload times the section it is about with ``clock()`` (``time.perf_counter`` unless
``--clock cpu``; or measures memory), and returns a :class:`Sample`.

:func:`measure` runs a workload ``warmup + reps`` times for each implementation, strictly
alternating (asyncio, aiosync, asyncio, aiosync, ...; with two peers, peer 1, peer 2,
aiosync, ...) in this one process. Every
repetition gets a fresh event loop and fresh primitives, and the garbage collector is run
before each one and paused while it runs, as ``timeit`` does (``keep_gc`` leaves it on).
With it on, a full collection over the 10k-100k parked tasks of the waiter workloads
lands at arbitrary points of the timed sections and dominates them; what drives that
cost, the objects each blocked task keeps alive, is measured by the memory workload.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import aiosync

IMPLEMENTATIONS: tuple[ModuleType, ...] = (asyncio, aiosync)
"""Baseline first: it runs first in every interleaved pair."""

CANDIDATE = "aiosync"
"""The implementation every ratio is about, unless a run names another (``--threadsafe``
compares ``aiosync.threadsafe`` with ``aiosync``): candidate / baseline."""

Impl = tuple[str, Any]
"""An implementation under test: its name in the tables and what the workload receives."""


def default_impls() -> list[Impl]:
    """The core suite's implementations: the modules, asyncio first."""
    return [(mod.__name__, mod) for mod in IMPLEMENTATIONS]


PyVersion = tuple[int, int]

CLOCKS: dict[str, Callable[[], float]] = {
    # Wall time: the default, and what the targets are about.
    "wall": time.perf_counter,
    # CPU time of this thread: on a machine shared with other busy processes, time spent
    # waiting for a CPU is not counted. Every workload runs in this one thread.
    "cpu": time.thread_time,
}
_clock = CLOCKS["wall"]


def clock() -> float:
    """The benchmark clock (see :data:`CLOCKS`); workloads read only this."""
    return _clock()


def use_clock(name: str) -> None:
    global _clock
    _clock = CLOCKS[name]


# --- helpers for workloads ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """What one repetition measured: ``value`` (seconds or bytes) over ``ops`` operations.

    ``extra`` holds further per-repetition measurements a workload reports beside its
    value (the rate limiter's accuracy figures), collected into :attr:`Stats.extras`.
    """

    value: float
    ops: int
    extra: Mapping[str, float] | None = None


class Arrivals:
    """A counter that tasks bump just before they block (to check they are all parked)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


async def until_arrived(arrivals: Arrivals, n: int, max_spins: int = 1_000_000) -> None:
    """Yield to the loop until ``n`` tasks have arrived, then once more.

    Workloads bump the counter in the same step in which the task blocks on the primitive
    (nothing awaits in between), so ``count == n`` means all ``n`` tasks are parked; the
    extra spin lets any callback scheduled by the last one run before timing starts.
    """
    for _ in range(max_spins):
        if arrivals.count >= n:
            await asyncio.sleep(0)
            return
        await asyncio.sleep(0)
    raise RuntimeError(f"only {arrivals.count} of {n} tasks arrived")


async def reap(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait for ``tasks`` and re-raise their errors; cheap if they are all done already
    (``gather`` of 100k tasks costs about as much as the section being timed)."""
    if all(task.done() for task in tasks):
        for task in tasks:
            task.result()
    else:
        await asyncio.gather(*tasks)


class Countdown:
    """Takes a ``clock()`` timestamp when the n-th ``tick()`` happens.

    Lets a workload stop the clock exactly when the last woken task has resumed, without
    counting the cost of ``gather`` or of the main task waking up.
    """

    __slots__ = ("done", "left")

    def __init__(self, n: int) -> None:
        self.left = n
        self.done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def tick(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set_result(clock())


# --- workload description ----------------------------------------------------------------

Target = Callable[[PyVersion], "float | None"]


def fixed(limit: float) -> Target:
    """A target ratio that does not depend on the Python version."""
    return lambda version: limit


@dataclass(frozen=True)
class Workload:
    name: str
    summary: str
    fn: Callable[..., Awaitable[Sample]]
    params: Mapping[str, int]
    quick_params: Mapping[str, int]
    op: str  # what one of ``Sample.ops`` is, e.g. "acquire", "waiter"
    target: Target
    kind: str = "time"  # "time" (seconds) or "memory" (bytes)
    requires: tuple[str, ...] = ()  # attributes both modules must have
    reps: int | None = None  # overrides the default repetition count
    # Peer workloads: the names of the peers (benchmarks/peers.py) aiosync is compared
    # with; empty for the core suite, which compares with asyncio.
    peers: tuple[str, ...] = ()
    # Met only when the ratio is strictly below the target (the peers' "faster than").
    strict: bool = False

    def missing(self, mods: Sequence[ModuleType] = IMPLEMENTATIONS) -> list[str]:
        """The required attributes some implementation lacks (e.g. Barrier on 3.10)."""
        return [
            f"{mod.__name__}.{attr}"
            for mod in mods
            for attr in self.requires
            if not hasattr(mod, attr)
        ]


# --- event loops -------------------------------------------------------------------------

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factories(names: list[str]) -> tuple[dict[str, LoopFactory], list[str]]:
    """Return the requested loop factories that are available, and notes on the others."""
    factories: dict[str, LoopFactory] = {}
    notes: list[str] = []
    for name in names:
        if name == "asyncio":
            factories[name] = asyncio.new_event_loop
        elif name == "uvloop":
            try:
                import uvloop
            except ImportError as exc:
                notes.append(f"uvloop skipped: not importable on this Python ({exc})")
                continue
            factories[name] = uvloop.new_event_loop
        else:
            raise ValueError(f"unknown loop {name!r}")
    return factories, notes


def loop_version(name: str) -> str:
    if name == "uvloop":
        from importlib.metadata import version

        return f"uvloop {version('uvloop')}"
    return "asyncio (default selector loop)"


# --- running -----------------------------------------------------------------------------


def run_once(
    workload: Workload,
    mod: Any,
    factory: LoopFactory,
    params: Mapping[str, int],
    keep_gc: bool = False,
) -> Sample:
    """One repetition in a fresh loop, after a full collection; the collector is paused
    during the repetition unless ``keep_gc``."""
    gc.collect()
    loop = factory()
    gc_was_enabled = gc.isenabled()
    if not keep_gc:
        gc.disable()
    try:
        return loop.run_until_complete(workload.fn(mod, **params))
    finally:
        if gc_was_enabled:
            gc.enable()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def interleaved(
    workload: Workload,
    factory: LoopFactory,
    params: Mapping[str, int],
    reps: int,
    warmup: int,
    keep_gc: bool,
    impls: Sequence[Impl] | None = None,
) -> Iterator[tuple[str, Sample | None]]:
    """Yield (implementation name, sample) alternating A B A B ... (A B C A B C ... for
    three implementations); warm-up samples are None."""
    for i in range(warmup + reps):
        for name, impl in impls or default_impls():
            sample = run_once(workload, impl, factory, params, keep_gc)
            yield name, (sample if i >= warmup else None)


@dataclass
class Stats:
    """The per-op values (seconds or bytes per op) of one implementation."""

    per_op: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    ops: int = 0
    extras: dict[str, list[float]] = field(default_factory=dict)  # Sample.extra, per rep

    @property
    def median(self) -> float:
        return statistics.median(self.per_op)

    @property
    def median_total(self) -> float:
        return statistics.median(self.totals)

    @property
    def iqr_pct(self) -> float:
        """Interquartile range relative to the median, in percent (a noise indicator)."""
        if len(self.per_op) < 4:
            return float("nan")
        q1, _, q3 = statistics.quantiles(self.per_op, n=4)
        return 100 * (q3 - q1) / self.median


@dataclass
class Result:
    workload: Workload
    loop: str
    params: Mapping[str, int]
    stats: dict[str, Stats]
    target: float | None
    baseline: str = "asyncio"  # what aiosync is compared with: asyncio, or a peer
    candidate: str = CANDIDATE  # what is compared: aiosync, or aiosync.threadsafe

    @property
    def ratio(self) -> float:
        """Ratio of medians, candidate / baseline: lower is better."""
        return self.stats[self.candidate].median / self.stats[self.baseline].median

    @property
    def paired_ratio(self) -> float:
        """Median of the per-pair ratios (each candidate rep over the baseline rep of the
        same round, which ran before it)."""
        a, b = self.stats[self.baseline].per_op, self.stats[self.candidate].per_op
        return statistics.median(y / x for x, y in zip(a, b, strict=True))

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio < self.target if self.workload.strict else self.ratio <= self.target

    def per_baseline(self) -> list[Result]:
        """One result per implementation other than the candidate, sharing this run's
        samples (a run that interleaved two peers with aiosync gives two rows)."""
        return [
            Result(
                self.workload, self.loop, self.params, self.stats, self.target, name, self.candidate
            )
            for name in self.stats
            if name != self.candidate
        ]


def measure(
    workload: Workload,
    loop: str,
    factory: LoopFactory,
    *,
    quick: bool,
    reps: int,
    warmup: int,
    keep_gc: bool = False,
    impls: Sequence[Impl] | None = None,
    candidate: str = CANDIDATE,
) -> Result:
    """Run ``workload`` interleaved over ``impls`` (default: asyncio, aiosync), the
    baseline(s) first and the candidate (aiosync unless named) last in every round. The
    result's ratio is candidate / first implementation; :meth:`Result.per_baseline` gives
    one result per baseline."""
    impls = list(impls or default_impls())
    params = workload.quick_params if quick else workload.params
    stats = {name: Stats() for name, _ in impls}
    for name, sample in interleaved(workload, factory, params, reps, warmup, keep_gc, impls):
        if sample is None:
            continue
        s = stats[name]
        s.totals.append(sample.value)
        s.per_op.append(sample.value / sample.ops)
        s.ops = sample.ops
        for key, value in (sample.extra or {}).items():
            s.extras.setdefault(key, []).append(value)
    target = workload.target(sys.version_info[:2])
    return Result(workload, loop, params, stats, target, impls[0][0], candidate)


def _source_revision(path: str) -> str | None:
    """The git commit of aiosync's source, with "+dirty" if it has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", path, *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}+dirty" if dirty else rev


def _source_hash(path: str) -> str:
    """A short hash of aiosync's ``*.py`` files, identifying exactly what was measured
    (the top-level modules; :func:`threadsafe_hash` covers the subpackage)."""
    digest = hashlib.sha256()
    for file in sorted(Path(path).glob("*.py")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def threadsafe_hash() -> str:
    """The same hash over ``aiosync/threadsafe/*.py`` (shown by ``--threadsafe`` only)."""
    return _source_hash(os.path.join(os.path.dirname(aiosync.__file__ or ""), "threadsafe"))


def load_average() -> str:
    """The 1/5/15-minute load averages (others' work competing for the CPUs), if known."""
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def environment() -> dict[str, Any]:
    path = os.path.dirname(aiosync.__file__ or "")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "aiosync_version": aiosync.__version__,
        "aiosync_path": path,
        "aiosync_revision": _source_revision(path),
        "aiosync_source_sha256": _source_hash(path),
    }
