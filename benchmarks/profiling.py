"""``--profile WORKLOAD``: run one workload's aiosync side under cProfile.

The interleaved timings say *whether* aiosync is fast enough; this says where its time
goes. Only the aiosync implementation is profiled, a few repetitions in fresh loops, and
the report is restricted to aiosync's own functions plus the top callers overall.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any

import aiosync

from .harness import LoopFactory, Workload, run_once


def profile(
    workload: Workload,
    factory: LoopFactory,
    *,
    quick: bool,
    reps: int,
    limit: int = 25,
    impl: Any = None,
) -> str:
    """Profile ``impl``: the aiosync module, or aiosync's adapter for a peer workload."""
    impl = aiosync if impl is None else impl
    params = workload.quick_params if quick else workload.params
    run_once(workload, impl, factory, params)  # warm-up, not profiled
    profiler = cProfile.Profile()
    for _ in range(reps):
        profiler.enable()
        run_once(workload, impl, factory, params)
        profiler.disable()
    out = io.StringIO()
    out.write(f"== {workload.name} ({reps} reps, {dict(params)}): all functions by tottime\n")
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(limit)
    out.write(f"== {workload.name}: aiosync's functions by tottime\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats("aiosync", limit)
    return out.getvalue()
