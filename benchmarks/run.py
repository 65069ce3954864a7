"""Command line: ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the repo root.

Runs every workload on each event loop, asyncio and aiosync interleaved, and prints a
markdown table; with ``--peers``, the peer workloads instead, each peer and aiosync
interleaved; with ``--threadsafe``, aiosync.threadsafe against the top-level classes on the
core workloads and against aiologic and hand-written glue on cross-thread hand-offs. See
``--help`` and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    __package__ = "benchmarks"

from benchmarks import harness, peers, report
from benchmarks.peer_workloads import PEER_WORKLOADS
from benchmarks.workloads import WORKLOADS

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_REPS = 21
QUICK_REPS = 5


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark aiosync against asyncio (interleaved, medians, ratio); "
        "with --peers, its newer primitives against aiorwlock, aiolimiter, anyio and aiologic; "
        "with --threadsafe, aiosync.threadsafe against the top-level classes and, across "
        "threads, against aiologic and threading.Lock + call_soon_threadsafe glue.",
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help="run the peer workloads instead (RWLock, RateLimiter, CapacityLimiter, RLock "
        "against the packages people use for them); -w and --list then apply to those",
    )
    p.add_argument(
        "--threadsafe",
        action="store_true",
        help="run the thread-safe group instead: every core workload with aiosync and "
        "aiosync.threadsafe (target ratio <= 1.3), and cross-thread lock hand-offs "
        "(aiosync.threadsafe against aiologic and hand-written glue); -w and --list then "
        "apply to those",
    )
    p.add_argument(
        "-w",
        "--workload",
        action="append",
        metavar="NAME",
        help="workload(s) to run: names or glob patterns, repeatable or comma-separated "
        "(default: all; see --list)",
    )
    p.add_argument(
        "-l",
        "--loop",
        action="append",
        choices=["asyncio", "uvloop"],
        help="event loop(s), repeatable (default: asyncio and uvloop)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smaller sizes and {QUICK_REPS} reps: a smoke test, not for the record",
    )
    p.add_argument(
        "--reps",
        type=int,
        help=f"timed repetitions per implementation (default {DEFAULT_REPS}; some "
        "heavy workloads use fewer unless this is given)",
    )
    p.add_argument(
        "--clock",
        choices=sorted(harness.CLOCKS),
        default="wall",
        help="wall: time.perf_counter (default); cpu: time.thread_time, which does not "
        "count time this process waits for a CPU (use on a heavily loaded machine)",
    )
    p.add_argument(
        "--gc",
        action="store_true",
        help="keep the garbage collector enabled during repetitions (default: paused, as "
        "timeit does; a full collection runs before every repetition either way)",
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed reps each (default 1)")
    p.add_argument(
        "--json",
        nargs="?",
        const="",
        metavar="PATH",
        help="also write the results as JSON "
        f"(default path: {RESULTS_DIR.name}/<date>-py<X.Y>.json)",
    )
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument(
        "--profile",
        action="store_true",
        help="instead of comparing, profile aiosync's side of the selected workloads "
        "(cProfile) on the first selected loop",
    )
    args = p.parse_args(argv)
    if args.reps is not None and args.reps < 1:
        p.error("--reps must be >= 1")
    if args.peers and args.threadsafe:
        p.error("--peers and --threadsafe are two different groups: choose one")
    return args


def _select(
    patterns: list[str] | None, group: list[harness.Workload], other: list[harness.Workload]
) -> list[harness.Workload]:
    if not patterns:
        return list(group)
    wanted = [pat.strip() for arg in patterns for pat in arg.split(",") if pat.strip()]
    selected = [w for w in group if any(fnmatch.fnmatch(w.name, pat) for pat in wanted)]
    unknown = [pat for pat in wanted if not any(fnmatch.fnmatch(w.name, pat) for w in group)]
    if unknown:
        names = ", ".join(w.name for w in group)
        msg = f"unknown workload(s) {', '.join(unknown)}; choose from: {names}"
        if any(fnmatch.fnmatch(w.name, pat) for w in other for pat in unknown):
            msg += " (the others are in the other group: add or drop --peers)"
        raise SystemExit(msg)
    return selected


def _suffix(args: argparse.Namespace) -> str:
    return "-peers" if args.peers else "-threadsafe" if args.threadsafe else ""


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    group, other = (PEER_WORKLOADS, WORKLOADS) if args.peers else (WORKLOADS, PEER_WORKLOADS)
    if args.threadsafe:
        # Imported only here: an aiosync without the subpackage (an older commit put on
        # PYTHONPATH) still runs the other groups.
        from benchmarks import thread_workloads

        group, other = thread_workloads.THREADSAFE_WORKLOADS, []
    if args.list:
        width = max(22, *(len(w.name) + 1 for w in group))
        for w in group:
            vs = f" (vs {', '.join(w.peers)})" if w.peers else ""
            if args.threadsafe:
                vs = " (vs glue, aiologic.Lock)" if w in thread_workloads.CROSS else ""
            print(f"{w.name:{width}} {w.summary}{vs}")
        return 0
    workloads = _select(args.workload, group, other)
    factories, notes = harness.loop_factories(args.loop or ["asyncio", "uvloop"])
    loaded, peer_notes = peers.load(p for w in workloads for p in w.peers)
    cross_impls: list[harness.Impl] = []
    if args.threadsafe:
        cross_impls, cross_notes = thread_workloads.cross_impls()
        peer_notes += cross_notes
    for note in notes + peer_notes:
        print(f"NOTE: {note}")
    if not factories:
        return 1

    harness.use_clock(args.clock)
    env = harness.environment()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if args.profile:
        from benchmarks.profiling import profile

        factory = next(iter(factories.values()))
        for w in workloads:
            impl = peers.AIOSYNC if w.peers else None
            if args.threadsafe:
                cross = w in thread_workloads.CROSS
                impl = thread_workloads.THREADSAFE if cross else thread_workloads.CORE_MODULES[1]
            print(profile(w, factory, quick=args.quick, reps=args.reps or 3, impl=impl))
        return 0

    print(
        f"Python {env['python']} ({env['implementation']}) on {env['platform']}, "
        f"{env['cpus']} CPUs, load average {env['load_average']}; {env['date']}"
    )
    print(
        f"aiosync {env['aiosync_version']} from {env['aiosync_path']} "
        f"(git {env['aiosync_revision'] or 'n/a'}, source sha256 {env['aiosync_source_sha256']})"
    )
    print("loops: " + "; ".join(harness.loop_version(name) for name in factories))
    if args.peers:
        env["peers"] = peers.versions(loaded)
        env["peer_settings"] = peers.settings_notes(loaded)
        print("peers: " + "; ".join(f"{n} ({v})" for n, v in env["peers"].items()))
        for note in env["peer_settings"]:
            print(f"peer setting: {note}")
    if args.threadsafe:
        env["threadsafe_sha256"] = harness.threadsafe_hash()
        env["baselines"] = thread_workloads.versions(cross_impls)
        # The aiologic checkpoint setting, as the peer suite shows it for aiologic.RLock.
        aiologic_loaded = thread_workloads.AIOLOGIC in env["baselines"]
        env["peer_settings"] = peers.settings_notes(["aiologic.RLock"] if aiologic_loaded else [])
        print(
            f"aiosync.threadsafe source sha256 {env['threadsafe_sha256']}; cross-thread "
            "baselines: " + "; ".join(f"{n} ({v})" for n, v in env["baselines"].items())
        )
        for note in env["peer_settings"]:
            print(f"peer setting: {note}")
    print(
        f"clock: {args.clock} ({harness.CLOCKS[args.clock].__name__}); garbage collector "
        f"{'enabled' if args.gc else 'paused'} during repetitions"
        + ("; cross-thread workloads: wall time always" if args.threadsafe else "")
    )
    started = time.perf_counter()
    results: list[harness.Result] = []
    for loop, factory in factories.items():
        for w in workloads:
            missing = w.missing(thread_workloads.CORE_MODULES) if args.threadsafe else w.missing()
            if missing:
                print(f"NOTE: {w.name} skipped on {loop}: {', '.join(missing)} not available")
                continue
            impls = peers.impls_for(w.peers, loaded) if w.peers else harness.default_impls()
            candidate = harness.CANDIDATE
            if args.threadsafe:
                cross = w in thread_workloads.CROSS
                impls = cross_impls if cross else thread_workloads.core_impls()
                candidate = thread_workloads.CANDIDATE
            if not impls:
                print(f"NOTE: {w.name} skipped on {loop}: none of its peers is importable")
                continue
            reps = args.reps or (QUICK_REPS if args.quick else (w.reps or DEFAULT_REPS))
            t0 = time.perf_counter()
            _log(f"[{loop}] {w.name}: {reps} reps x {len(impls)} implementations ...")
            r = harness.measure(
                w,
                loop,
                factory,
                quick=args.quick,
                reps=reps,
                warmup=args.warmup,
                keep_gc=args.gc,
                impls=impls,
                candidate=candidate,
            )
            rows = r.per_baseline()
            results.extend(rows)
            ratios = ", ".join(
                f"{row.ratio:.2f}" + (f" vs {row.baseline}" if w.peers or len(rows) > 1 else "")
                for row in rows
            )
            _log(f"[{loop}] {w.name}: ratio {ratios} ({time.perf_counter() - t0:.1f} s)")

    print()
    if args.threadsafe:
        core = [r for r in results if r.workload not in thread_workloads.CROSS]
        cross = [r for r in results if r.workload in thread_workloads.CROSS]
        if core:
            print(report.peer_table(python, core, baseline="baseline"))
        if core and cross:
            print()
        if cross:
            print(report.peer_table(python, cross, baseline="baseline"))
    elif args.peers:
        print(report.peer_table(python, results))
    else:
        print(report.markdown_table(python, results))
    print("\n" + report.verdict(results))
    handoffs = report.handoff_table(python, results)
    if handoffs:
        print(
            "\nCross-thread hand-offs (share of acquisitions that went to another thread; "
            "latency from just before the release to just inside the next holder):\n"
        )
        print(handoffs)
    accuracy = report.accuracy_table(python, results)
    if accuracy:
        print(
            "\nRate limiter accuracy (units granted against the exact bound of the run; "
            "busiest window against the burst):\n"
        )
        print(accuracy)
    scaling = "" if args.threadsafe else report.scaling_table(results)
    if scaling:
        print("\nEvent.set() cost per waiter (should not grow with the number of waiters):\n")
        print(scaling)
    env["load_average_end"] = harness.load_average()
    print(
        f"\n(total {time.perf_counter() - started:.0f} s{', --quick' if args.quick else ''}; "
        f"load average at the end {env['load_average_end']})"
    )

    if args.json is not None:
        path = (
            Path(args.json)
            if args.json
            else RESULTS_DIR / (time.strftime("%Y%m%d-%H%M%S") + f"-py{python}{_suffix(args)}.json")
        )
        settings = {
            "quick": args.quick,
            "reps": args.reps,
            "warmup": args.warmup,
            "clock": args.clock,
            "gc_enabled": args.gc,
            "peers": args.peers,
            "threadsafe": args.threadsafe,
        }
        report.write_json(path, report.to_json(env, settings, results))
        print(f"JSON written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
