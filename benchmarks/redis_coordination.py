"""Redis coordination: ``python -m benchmarks --redis-coordination`` (see its ``--help``).

Event, Barrier and RateLimiter of aiosync.redis, on a redis-server of its own (loopback, a
free port, no persistence), stopped at the end; every party is an OS process
(benchmarks/redis_coordination_worker.py). Times are ``time.monotonic_ns()`` taken in the
processes themselves: CLOCK_MONOTONIC, one clock for every process on Linux.

Measured (docs/benchmarks.md, "Redis coordination", says how to read each):

1. Event broadcast: N waiter processes (one waiting task each) wait on one
   ``aiosync.redis.Event``; another process calls ``set()`` once all N are registered;
   from just before ``set()`` to each waiter's ``wait()`` returning, over repetitions
   (clear, re-arm, set). No peer library has a Redis event; the floor is a hand-written
   redis-py pub/sub broadcast (one ``PUBLISH`` to a channel the N processes subscribe to).
2. Barrier rounds: P processes loop ``await barrier.wait()`` for R rounds; rounds per
   second, and from the last arrival (just before the tripping party's ``wait()``) to
   each party's ``wait()`` returning.
3. RateLimiter accuracy: N processes loop ``acquire()`` on one limiter for T seconds;
   the units granted against the GCRA bound ``rate * T / period + burst``, the most
   granted in any window of ``period``, and the cost of a grant: commands the clients
   sent (MONITOR, as in ``--redis``), client and server CPU time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import redis_common
from benchmarks.redis_common import (
    LineProcess,
    RedisServer,
    _breakdown,
    _log,
    _ms,
    _pct,
    add_run_options,
    count_commands,
    dist_version,
    git,
    go,
    machine,
    measured,
    redis_source_hash,
    spawned,
)

BEGIN, END = "<!-- redis-coordination:begin -->", "<!-- redis-coordination:end -->"
PREFIX = "rcoord"
PHASES = ("event", "barrier", "rate")


@dataclass
class Settings:
    event_n: tuple[int, ...] = (1, 5, 10, 20)
    event_reps: int = 20  # measured set() per N and kind
    event_warmup: int = 3  # unmeasured set() first: connected, subscribed, scripts loaded
    event_settle: float = 0.02  # after every waiter registered, before set()
    barrier_p: tuple[int, ...] = (2, 5, 10)
    barrier_rounds: int = 300
    barrier_warmup: int = 20
    barrier_reps: int = 3
    rate_n: int = 5
    rate: float = 200.0
    period: float = 1.0
    burst: float = 10.0
    rate_s: float = 10.0
    rate_reps: int = 3
    rate_commands_s: float = 3.0  # a further window with MONITOR attached


QUICK = Settings(
    event_n=(1, 5),
    event_reps=5,
    event_warmup=2,
    barrier_p=(2, 5),
    barrier_rounds=50,
    barrier_warmup=5,
    barrier_reps=1,
    rate_s=3.0,
    rate_reps=1,
    rate_commands_s=1.0,
)

_run_id = f"{os.getpid()}-{int(time.time())}"


# --- worker processes -----------------------------------------------------------------


class Proc(LineProcess):
    """A worker process (benchmarks/redis_coordination_worker.py), spoken to in lines."""

    module = "benchmarks.redis_coordination_worker"

    def expect(self, word: str, timeout: float = 120.0) -> list[str]:
        line = self.next_line(word, timeout, self.cfg["mode"])
        if line is None or line.split(" ", 1)[0] != word:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            raise RuntimeError(
                f"worker {self.cfg['mode']} said {line!r} instead of {word} (exit code "
                f"{self.proc.returncode}; its error is above)"
            )
        return line.split()[1:]

    def done(self, timeout: float) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        if line is None or not line.startswith("DONE "):
            raise RuntimeError(f"worker {self.cfg['mode']} said {line!r} instead of DONE")
        result: dict[str, Any] = json.loads(line[5:])
        return result

    def finish(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.send("QUIT")
                self.proc.stdin.close()
        super().finish()


def procs(cfgs: list[dict[str, Any]]) -> contextlib.AbstractContextManager[list[Proc]]:
    return spawned(Proc, cfgs)


def ready(ps: list[Proc]) -> None:
    """Every worker's READY: warmed up, idle."""
    for p in ps:
        p.expect("READY")


def _cfg(mode: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"mode": mode, "port": port, **extra}


# --- 1. Event broadcast ---------------------------------------------------------------


def event_broadcast(server: RedisServer, s: Settings, kind: str, n: int) -> dict[str, Any]:
    """``kind`` "aiosync" (aiosync.redis.Event) or "pubsub" (the floor)."""
    name = f"{PREFIX}-event:{n}:{_run_id}"
    extra = {"name": name} if kind == "aiosync" else {"channel": name}
    waiters = [_cfg(f"{'event' if kind == 'aiosync' else 'pubsub'}-waiter", server.port, **extra)]
    waiters *= n
    setter = _cfg(
        f"{'event' if kind == 'aiosync' else 'pubsub'}-setter",
        server.port,
        waiters=n,
        settle=s.event_settle,
        **extra,
    )
    wakes: list[float] = []  # ms, every waiter of every measured repetition
    last: list[float] = []  # ms, the last waiter of each repetition
    calls: list[float] = []  # ms, set() itself
    order: list[list[int]] = []  # which waiter woke when, by process index
    cpu0 = server.cpu()
    with procs([setter, *waiters]) as ps:
        set_p, wait_ps = ps[0], ps[1:]
        for p in ps:
            p.expect("READY")
        for k in range(s.event_warmup + s.event_reps):
            set_p.send("CLEAR")
            set_p.expect("CLEARED")
            for w in wait_ps:
                w.send(f"ARM {k}")
            set_p.send(f"SET {k}")
            rk, t0, t1 = set_p.expect("SET")
            assert int(rk) == k
            woke = []
            for w in wait_ps:
                wk, t = w.expect("WOKE", 60)
                if int(wk) != k:
                    raise RuntimeError(f"waiter woke for {wk} in repetition {k}")
                woke.append(int(t))
            if k < s.event_warmup:
                continue
            lat = [(t - int(t0)) / 1e6 for t in woke]
            wakes += lat
            last.append(max(lat))
            calls.append((int(t1) - int(t0)) / 1e6)
            order.append(sorted(range(n), key=lambda i: woke[i]))
    server_cpu = server.cpu() - cpu0
    wakes.sort()
    last.sort()
    calls.sort()
    return {
        "kind": kind,
        "n": n,
        "reps": len(last),
        "wake_p50": _pct(wakes, 50),
        "wake_p99": _pct(wakes, 99),
        "wake_max": wakes[-1],
        "last_p50": _pct(last, 50),
        "last_max": last[-1],
        "set_p50": _pct(calls, 50),
        "server_cpu_s": server_cpu,
        "wakes_ms": [round(x, 3) for x in wakes],
        "last_ms": [round(x, 3) for x in last],
    }


# --- 2. Barrier rounds -----------------------------------------------------------------


def barrier_rounds(server: RedisServer, s: Settings, p: int) -> dict[str, Any]:
    name = f"{PREFIX}-barrier:{p}:{_run_id}"
    cfg = _cfg(
        "barrier",
        server.port,
        name=name,
        parties=p,
        rounds=s.barrier_rounds,
        warmup=s.barrier_warmup,
        reps=s.barrier_reps,
    )
    rates: list[float] = []
    release: list[float] = []  # ms from the last arrival to each party's release
    tripper: list[float] = []  # ms: the tripping party's own wait() (one script call)
    others: list[float] = []  # ms: the parties woken by the trip (pub/sub)
    last_release: list[float] = []  # ms: from the last arrival to the last party released
    disorder = bad_index = 0
    calls = cpu = server_cpu = 0.0
    with procs([cfg] * p) as ps:
        for _ in range(s.barrier_reps):
            ready(ps)  # warmed up: the commands counted are the measured rounds'
            before, scpu0 = server.commandstats(), server.cpu()
            start, _ = go(ps, 0.0)
            results = [q.done(600) for q in ps]
            delta = server.commandstats() - before
            server_cpu += server.cpu() - scpu0
            calls += delta.get("evalsha", 0) + delta.get("eval", 0)
            cpu += sum(r["cpu_s"] for r in results)
            end = max(r["rounds"][-1][1] for r in results)
            rates.append(s.barrier_rounds / ((end - start) / 1e9))
            for r in range(s.barrier_rounds):
                entries = [res["rounds"][r] for res in results]
                if sorted(e[2] for e in entries) != list(range(p)):
                    bad_index += 1
                    continue
                trip = next(e for e in entries if e[2] == p - 1)
                t_last = max(e[0] for e in entries)  # the last party called wait()
                if t_last != trip[0]:
                    disorder += 1  # Redis saw another party's call last
                lat = [(e[1] - t_last) / 1e6 for e in entries]
                release += lat
                last_release.append(max(lat))
                tripper.append((trip[1] - trip[0]) / 1e6)
                others += [(e[1] - t_last) / 1e6 for e in entries if e is not trip]
    for x in (release, tripper, others, last_release):
        x.sort()
    rates.sort()
    total = s.barrier_rounds * s.barrier_reps
    return {
        "parties": p,
        "rounds": total,
        "rate": statistics.median(rates),
        "rate_min": rates[0],
        "rate_max": rates[-1],
        "release_p50": _pct(release, 50),
        "release_p99": _pct(release, 99),
        "release_max": release[-1] if release else float("nan"),
        "others_p50": _pct(others, 50),
        "others_p99": _pct(others, 99),
        "tripper_p50": _pct(tripper, 50),
        "last_p50": _pct(last_release, 50),
        "last_p99": _pct(last_release, 99),
        "calls_per_round": calls / total,
        "client_cpu_per_round_us": cpu / total * 1e6,
        "server_cpu_per_round_us": server_cpu / total * 1e6,
        "disorder": disorder,
        "bad_index": bad_index,
    }


# --- 3. RateLimiter accuracy -------------------------------------------------------------


def _max_in_window(stamps: list[int], width_ns: int) -> int:
    """The most stamps in any closed window [t, t + width] (sorted stamps)."""
    best, j = 0, 0
    for i in range(len(stamps)):
        while stamps[i] - stamps[j] > width_ns:
            j += 1
        best = max(best, i - j + 1)
    return best


def _lateness(stamps: list[int], start: int, s: Settings) -> list[float]:
    """How late (ms) the k-th grant returned against the k-th slot of the GCRA schedule
    begun at ``start`` (the burst at once, then one ``period / rate`` apart): the schedule
    Redis followed began at the first request, after ``start``, and each caller returns
    after its own slot, so the k-th time is never before the k-th slot; what exceeds it is
    the callers' delay (the reply, the sleep's overshoot, the process's scheduling) and
    the start (the first request reaching Redis)."""
    interval = s.period / s.rate * 1e9
    return sorted(
        (t - (start + max(0.0, k - s.burst) * interval)) / 1e6 for k, t in enumerate(stamps, 1)
    )


def rate_limiter(server: RedisServer, s: Settings) -> dict[str, Any]:
    name = f"{PREFIX}-rate:{_run_id}"
    cfg = _cfg(
        "rate",
        server.port,
        name=name,
        rate=s.rate,
        period=s.period,
        burst=s.burst,
        phases=s.rate_reps + 1,
    )
    per_period = s.rate + s.burst  # the most any window of ``period`` may hold
    reps: list[dict[str, Any]] = []
    with procs([cfg] * s.rate_n) as ps:
        for _ in range(s.rate_reps):
            ready(ps)  # warmed up: the commands counted are the measured grants'
            before, scpu0 = server.commandstats(), server.cpu()
            start, end = go(ps, s.rate_s)
            results = [q.done(s.rate_s + 120) for q in ps]
            delta = server.commandstats() - before
            server_cpu = server.cpu() - scpu0
            stamps = sorted(t for r in results for t in r["stamps"])
            duration = (end - start) / 1e9
            granted = sum(1 for t in stamps if t <= end)
            bound = int(s.rate * duration / s.period + s.burst)
            steady = sum(1 for t in stamps if start + s.period * 1e9 < t <= end)
            late = _lateness(stamps, start, s)
            reps.append(
                {
                    "duration": duration,
                    "granted": granted,
                    "grants_all": len(stamps),
                    "bound": bound,
                    "deviation": granted - bound,
                    "steady_rate": steady / (duration - s.period) * s.period,
                    "max_window": _max_in_window(stamps, int(s.period * 1e9)),
                    "late_p50": _pct(late, 50),
                    "late_p99": _pct(late, 99),
                    "late_max": late[-1] if late else float("nan"),
                    "per_process": [len(r["stamps"]) for r in results],
                    "script_calls": delta.get("evalsha", 0) + delta.get("eval", 0),
                    "client_cpu_s": sum(r["cpu_s"] for r in results),
                    "server_cpu_s": server_cpu,
                }
            )
            r = reps[-1]
            _log(
                f"[rate] granted {granted} of bound {bound} ({granted - bound:+d}), most in "
                f"a window of {s.period:g} s: {r['max_window']} (limit {per_period:g})"
            )

        ready(ps)

        def counted_run() -> list[dict[str, Any]]:
            go(ps, s.rate_commands_s)
            return [q.done(s.rate_commands_s + 120) for q in ps]

        results, counted, _ = count_commands(server, f"{PREFIX}-rate", counted_run)
    grants = sum(len(r["stamps"]) for r in results)
    all_grants = sum(r["grants_all"] for r in reps)
    return {
        "reps": reps,
        "limit_per_period": per_period,
        "commands": {
            "grants": grants,
            "wire": sum(counted.wire.values()) / max(grants, 1),
            "by_command": {c: k / max(grants, 1) for c, k in counted.wire.most_common() if k},
            "executed": counted.executed / max(grants, 1),
        },
        "script_calls_per_grant": sum(r["script_calls"] for r in reps) / max(all_grants, 1),
        "client_cpu_per_grant_us": sum(r["client_cpu_s"] for r in reps) / all_grants * 1e6,
        "server_cpu_per_grant_us": sum(r["server_cpu_s"] for r in reps) / all_grants * 1e6,
    }


# --- the environment ------------------------------------------------------------------


def environment(server: RedisServer) -> dict[str, Any]:
    """Where the aiosync measured comes from: the checkout its package was imported from
    (a worktree, with PYTHONPATH, or this one), its commit and whether its src/ differs."""
    import aiosync.redis

    folder = Path(aiosync.redis.__file__).resolve().parent
    src_root = folder.parent.parent.parent  # <checkout>/src/aiosync/redis
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": git(src_root, "rev-parse", "--short", "HEAD") or "n/a",
        "checkout": str(src_root),
        "src_dirty": bool(git(src_root, "status", "--porcelain", "--", "src")),
        "redis_source_sha256": redis_source_hash(folder),
        **machine(server),
        "redis_py": dist_version("redis", "n/a"),
    }


# --- the report -----------------------------------------------------------------------


def report(env: dict[str, Any], res: dict[str, Any], s: Settings, quick: bool) -> str:
    dirty = " + **uncommitted changes in src/**" if env["src_dirty"] else " (src/ clean)"
    out = [
        measured(env, quick, dirty),
        f"- {env['cpus']} cores, loopback, redis-server {env['redis_server']} (no "
        f"persistence), Python {env['python']} on {env['platform']}, redis-py "
        f"{env['redis_py']}, asyncio's default event loop; load average "
        f"{env['load_average']} at the start, {env.get('load_average_end', 'n/a')} at the "
        f"end; CPUs {env['busy_before']} busy with other work just before the start",
    ]
    ev = res.get("event", {})
    if ev:
        out += [
            "",
            f"**1. Event broadcast**: N waiter processes (one waiting task each) and a "
            f"setter process; {s.event_reps} repetitions per N after {s.event_warmup} "
            f"unmeasured (clear, every waiter calls `wait()`, the setter sees all N "
            f"registered, {s.event_settle * 1000:g} ms, `set()`); from just before `set()` "
            "to each waiter's `wait()` returning, pooled over the repetitions, and to the "
            "last waiter of each repetition. The pub/sub floor: redis-py, N processes "
            "subscribed to one channel, one `PUBLISH` (no flag, no registration): what any "
            "Redis broadcast costs here:",
            "",
            "| implementation | N | wake: p50 / p99 / max, ms | last waiter: p50 / max, ms | "
            "`set()` / `PUBLISH` returns, p50, ms |",
            "| --- | --- | --- | --- | --- |",
        ]
        for n in s.event_n:
            for kind, label in (("aiosync", "aiosync.redis.Event"), ("pubsub", "pub/sub floor")):
                r = ev.get(f"{kind}:{n}")
                if r is None:
                    continue
                out.append(
                    f"| {label} | {n} | {_ms(r['wake_p50'])} / {_ms(r['wake_p99'])} / "
                    f"{_ms(r['wake_max'])} | {_ms(r['last_p50'])} / {_ms(r['last_max'])} | "
                    f"{_ms(r['set_p50'])} |"
                )
    br = res.get("barrier", {})
    if br:
        out += [
            "",
            f"**2. Barrier rounds**: P processes, each looping `await barrier.wait()`, "
            f"{s.barrier_rounds} rounds after {s.barrier_warmup} of warm-up, "
            f"{s.barrier_reps} repetition(s) in the same processes; rounds per second "
            "(median of the repetitions, and their range); from the last arrival (just "
            "before the last of the round's `wait()` calls) to each party's `wait()` "
            "returning (p50 / p99, all parties, all rounds), to the other parties' (all "
            "but the tripping one, the party whose call Redis saw last and that gets index "
            "P-1: those are woken through pub/sub) and to the last party of each round; the "
            "tripping party's own `wait()` (one script call); script calls per round "
            "(commandstats EVALSHA), CPU time per round of all clients and of the server:",
            "",
            "| P | rounds | rounds/s | range | last arrival → release: p50 / p99, ms | → others "
            "released: p50 / p99, ms | → last released: p50 / p99, ms | tripper's `wait()`, "
            "p50, ms | script calls per round | client CPU per round, µs | server CPU per "
            "round, µs |",
            "| --- |" + " --- |" * 10,
        ]
        for p in s.barrier_p:
            r = br.get(str(p))
            if r is None:
                continue
            out.append(
                f"| {p} | {r['rounds']:,} | {r['rate']:,.0f} | {r['rate_min']:,.0f}-"
                f"{r['rate_max']:,.0f} | {_ms(r['release_p50'])} / {_ms(r['release_p99'])} | "
                f"{_ms(r['others_p50'])} / {_ms(r['others_p99'])} | {_ms(r['last_p50'])} / "
                f"{_ms(r['last_p99'])} | {_ms(r['tripper_p50'])} | "
                f"{r['calls_per_round']:.2f} | {r['client_cpu_per_round_us']:,.0f} | "
                f"{r['server_cpu_per_round_us']:,.0f} |"
            )
        odd = [
            f"P={p}: in {r['disorder']} of {r['rounds']:,} rounds the tripping party was not "
            "the last to call `wait()` (Redis received the calls in another order)"
            for p, r in ((p, br.get(str(p))) for p in s.barrier_p)
            if r and r["disorder"]
        ] + [
            f"P={p}: {r['bad_index']} round(s) whose indices were not 0..P-1"
            for p, r in ((p, br.get(str(p))) for p in s.barrier_p)
            if r and r["bad_index"]
        ]
        if odd:
            out += ["", "; ".join(odd) + "."]
    rl = res.get("rate")
    if rl:
        reps = rl["reps"]
        out += [
            "",
            f"**3. RateLimiter accuracy**: {s.rate_n} processes, one task each, looping "
            f"`acquire()` on one `RateLimiter(client, name, {s.rate:g}, {s.period:g}, "
            f"burst={s.burst:g})` (a fresh name each time: its burst full) for "
            f"{s.rate_s:g} s from a common start, {s.rate_reps} time(s). Granted: the "
            "`acquire()` calls that returned inside the window; the bound: the most GCRA "
            f"can grant in T seconds, floor(rate * T / period + burst); the steady rate: "
            f"grants per {s.period:g} s after the first {s.period:g} s; the most grants in "
            f"any closed window of {s.period:g} s (from the times `acquire()` returned), "
            f"against rate + burst = {rl['limit_per_period']:g}; how far behind the "
            "schedule the grants returned (the k-th grant against the k-th slot of a "
            "schedule begun at the common start: the burst at once, then one every "
            f"{s.period / s.rate * 1000:g} ms):",
            "",
            "| run | T, s | granted | bound | granted - bound | steady rate | most in "
            f"{s.period:g} s | behind the schedule: p50 / p99 / max, ms | per process, "
            "min-max |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for i, r in enumerate(reps, 1):
            out.append(
                f"| {i} | {r['duration']:g} | {r['granted']:,} | {r['bound']:,} | "
                f"{r['deviation']:+d} ({r['deviation'] / r['bound']:+.2%}) | "
                f"{r['steady_rate']:.1f} | {r['max_window']} | {_ms(r['late_p50'])} / "
                f"{_ms(r['late_p99'])} / {_ms(r['late_max'])} | "
                f"{min(r['per_process'])}-{max(r['per_process'])} |"
            )
        c = rl["commands"]
        out += [
            "",
            f"Cost per grant: commands the clients sent, over a further {s.rate_commands_s:g} "
            f"s window with MONITOR attached (commandstats delta less the commands inside "
            f"scripts, as in `--redis`; {c['grants']} grants): **{c['wire']:.3f}** "
            f"({_breakdown(c['by_command'], 3)}), {c['executed']:.1f} server executions "
            "(inside the script included); over the runs above, without MONITOR: "
            f"{rl['script_calls_per_grant']:.3f} script calls per grant (commandstats), "
            f"client CPU {rl['client_cpu_per_grant_us']:,.0f} µs and server CPU "
            f"{rl['server_cpu_per_grant_us']:,.0f} µs per grant.",
        ]
        over = [r for r in reps if r["deviation"] > 0 or r["max_window"] > rl["limit_per_period"]]
        if over:
            out += [
                "",
                "NOTE: more than the bound granted, or more than rate + burst returned within one "
                "period (by the callers' clocks: see how far behind the schedule), in run(s) "
                + ", ".join(str(reps.index(r) + 1) for r in over)
                + ".",
            ]
    return "\n".join(out)


write_docs = partial(redis_common.write_docs, begin=BEGIN, end=END, section="Redis coordination")


# --- the command line -----------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks --redis-coordination",
        description="Redis coordination: aiosync.redis's Event broadcast (against a redis-py "
        "pub/sub floor), Barrier rounds and RateLimiter accuracy, each party a real OS "
        "process, on a redis-server of its own. See docs/benchmarks.md, 'Redis coordination'.",
    )
    p.add_argument("--quick", action="store_true", help="short runs: a smoke run")
    add_run_options(p, PHASES, "Redis coordination", "redis-coordination.json", "")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    s = QUICK if args.quick else Settings()
    phases = args.phase or list(PHASES)

    def measure(server: RedisServer, env: dict[str, Any]) -> dict[str, Any]:
        res: dict[str, Any] = {}
        _log(
            f"redis-server {env['redis_server']} on 127.0.0.1:{server.port}; aiosync from "
            f"{env['checkout']} ({env['commit']}{', src/ dirty' if env['src_dirty'] else ''})"
        )
        if "event" in phases:
            res["event"] = {}
            for n in s.event_n:
                for kind in ("aiosync", "pubsub"):
                    r = res["event"][f"{kind}:{n}"] = event_broadcast(server, s, kind, n)
                    _log(
                        f"[event] {kind} N={n}: wake p50 {_ms(r['wake_p50'])} max "
                        f"{_ms(r['wake_max'])} ms, last p50 {_ms(r['last_p50'])} max "
                        f"{_ms(r['last_max'])} ms"
                    )
        if "barrier" in phases:
            res["barrier"] = {}
            for p in s.barrier_p:
                r = res["barrier"][str(p)] = barrier_rounds(server, s, p)
                _log(
                    f"[barrier] P={p}: {r['rate']:,.0f} rounds/s, release p50 "
                    f"{_ms(r['release_p50'])} p99 {_ms(r['release_p99'])} ms, "
                    f"{r['calls_per_round']:.2f} script calls per round"
                )
        if "rate" in phases:
            res["rate"] = rate_limiter(server, s)
            c = res["rate"]["commands"]
            _log(f"[rate] {c['wire']:.3f} commands per grant ({_breakdown(c['by_command'], 3)})")
        return res

    return redis_common.run(
        args, s, environment, measure, report, write_docs, "redis-coordination.json"
    )


if __name__ == "__main__":
    raise SystemExit(main())
