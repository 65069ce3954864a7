"""Rendering results: the markdown tables and the JSON record."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .harness import CANDIDATE, Result, Stats


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _bytes(n: float) -> str:
    return f"{n / 1024:.2f} KiB" if n >= 1024 else f"{n:.0f} B"


def _cell(result: Result, stats: Stats) -> str:
    """The median: per op, and (for timings) the median total in parentheses."""
    op = result.workload.op
    if result.workload.kind == "memory":
        return f"{_bytes(stats.median)}/{op}"
    return f"{_time(stats.median_total)} ({_time(stats.median)}/{op})"


def _met(result: Result) -> str:
    if result.met is None:
        return "—"
    return "yes" if result.met else "**NO**"


def _noise(result: Result) -> str:
    """The larger IQR of the two implementations the row compares."""
    worst = max(result.stats[name].iqr_pct for name in (result.baseline, result.candidate))
    return "—" if math.isnan(worst) else f"{worst:.0f}%"


def _target(result: Result) -> str:
    if result.target is None:
        return "—"
    return f"{'<' if result.workload.strict else '≤'} {result.target:g}"


def markdown_table(python: str, results: Sequence[Result]) -> str:
    header = (
        "| Python | loop | workload | asyncio median | aiosync median | ratio | target "
        "| met? | paired ratio | IQR |",
        "|---|---|---|---:|---:|---:|---:|:---:|---:|---:|",
    )
    rows = [
        f"| {python} | {r.loop} | `{r.workload.name}` | {_cell(r, r.stats['asyncio'])} "
        f"| {_cell(r, r.stats['aiosync'])} | **{r.ratio:.2f}** "
        f"| {_target(r)} | {_met(r)} "
        f"| {r.paired_ratio:.2f} | {_noise(r)} |"
        for r in results
    ]
    return "\n".join([*header, *rows])


def peer_table(python: str, results: Sequence[Result], baseline: str = "peer") -> str:
    """The peer suite's table: one row per (loop, workload, peer), ratio aiosync / peer.
    (``--threadsafe`` prints the same table with its own candidate and ``baseline``.)"""
    candidate = results[0].candidate if results else CANDIDATE
    header = (
        f"| Python | loop | workload | {baseline} | {baseline} median | {candidate} median "
        "| ratio | target | met? | paired ratio | IQR |",
        "|---|---|---|---|---:|---:|---:|---:|:---:|---:|---:|",
    )
    rows = [
        f"| {python} | {r.loop} | `{r.workload.name}` | `{r.baseline}` "
        f"| {_cell(r, r.stats[r.baseline])} | {_cell(r, r.stats[r.candidate])} "
        f"| **{r.ratio:.2f}** | {_target(r)} | {_met(r)} "
        f"| {r.paired_ratio:.2f} | {_noise(r)} |"
        for r in results
    ]
    return "\n".join([*header, *rows])


def _rate_rows(result: Result) -> list[tuple[str, Stats]]:
    return [(name, s) for name, s in result.stats.items() if "bound" in s.extras]


def accuracy_table(python: str, results: Sequence[Result]) -> str:
    """For the contended rate-limiter workload: how much each limiter granted against the
    exact bound of its run, and its busiest window against the burst (medians over the
    repetitions, with the worst repetition in parentheses)."""
    lines = [
        "| Python | loop | implementation | units | run: median (max) | shortest possible "
        "| exact bound | granted / bound: median (min) | peak window excess: median (max) "
        "| burst | CPU per unit |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    seen: set[tuple[str, str, str]] = set()
    for r in results:
        for name, s in _rate_rows(r):
            if (r.loop, r.workload.name, name) in seen:
                continue
            seen.add((r.loop, r.workload.name, name))
            x = s.extras
            share = [g / b for g, b in zip(x["granted"], x["bound"], strict=True)]
            cpu = [c / g for c, g in zip(x["cpu"], x["granted"], strict=True)]
            lines.append(
                f"| {python} | {r.loop} | `{name}` | {statistics.median(x['granted']):,.0f} "
                f"| {_time(statistics.median(x['run']))} ({_time(max(x['run']))}) "
                f"| {_time(statistics.median(x['shortest']))} "
                f"| {statistics.median(x['bound']):,.0f} "
                f"| {100 * statistics.median(share):.1f}% ({100 * min(share):.1f}%) "
                f"| {statistics.median(x['peak_excess']):.2f} ({max(x['peak_excess']):.2f}) "
                f"| {statistics.median(x['burst']):g} | {_time(statistics.median(cpu))} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def handoff_table(python: str, results: Sequence[Result]) -> str:
    """For the cross-thread workloads: how many acquisitions were hand-offs to the other
    side (another loop, or between the loop and the threads), and the hand-off latency,
    from just before the release to just after the other side's acquisition returned:
    the median over the repetitions of each repetition's p50 and p99 (worst repetition's
    p99 in parentheses)."""
    lines = [
        "| Python | loop | workload | implementation | hand-off | hand-offs / acquisitions "
        "| latency p50 | latency p99 (worst rep) |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    seen: set[tuple[str, str, str]] = set()
    for r in results:
        for name, s in r.stats.items():
            x = s.extras
            if "acquisitions" not in x or (r.loop, r.workload.name, name) in seen:
                continue
            seen.add((r.loop, r.workload.name, name))
            for key in x:
                if not key.startswith("p50 "):
                    continue
                way = key[4:]
                share = statistics.median(
                    h / a for h, a in zip(x[f"n {way}"], x["acquisitions"], strict=True)
                )
                p50 = [v for v in x[key] if not math.isnan(v)]  # nan: none in that rep
                p99 = [v for v in x[f"p99 {way}"] if not math.isnan(v)]
                lines.append(
                    f"| {python} | {r.loop} | `{r.workload.name}` | `{name}` | {way} "
                    f"| {100 * share:.1f}% of {statistics.median(x['acquisitions']):,.0f} "
                    f"| {_time(statistics.median(p50)) if p50 else '—'} "
                    f"| {_time(statistics.median(p99)) if p99 else '—'} "
                    f"({_time(max(p99)) if p99 else '—'}) |"
                )
    return "\n".join(lines) if len(lines) > 2 else ""


def _label(r: Result) -> str:
    several = r.workload.peers or len(r.stats) > 2  # the name alone would be ambiguous
    return f"{r.workload.name} vs {r.baseline}" if several else r.workload.name


def verdict(results: Sequence[Result]) -> str:
    judged = [r for r in results if r.met is not None]
    missed = [f"{_label(r)} ({r.loop}, {r.ratio:.2f})" for r in judged if not r.met]
    line = f"Targets met: {len(judged) - len(missed)} of {len(judged)}."
    return line + (f" Missed: {', '.join(missed)}." if missed else "")


def scaling_table(results: Sequence[Result], prefix: str = "event_set_") -> str:
    """Per-waiter cost of Event.set() by number of waiters (should be flat)."""
    rows = [r for r in results if r.workload.name.startswith(prefix)]
    if not rows:
        return ""
    lines = [
        "| loop | waiters | asyncio per waiter | aiosync per waiter | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.loop} | {r.params['waiters']:,} | {_time(r.stats['asyncio'].median)} "
            f"| {_time(r.stats['aiosync'].median)} | {r.ratio:.2f} |"
        )
    return "\n".join(lines)


def to_json(env: dict[str, Any], settings: dict[str, Any], results: Sequence[Result]) -> str:
    return json.dumps(
        {
            "environment": env,
            "settings": settings,
            "results": [
                {
                    "workload": r.workload.name,
                    "summary": r.workload.summary,
                    "loop": r.loop,
                    "kind": r.workload.kind,
                    "op": r.workload.op,
                    "params": dict(r.params),
                    "baseline": r.baseline,
                    "candidate": r.candidate,
                    "ratio_of_medians": r.ratio,
                    "paired_ratio_median": r.paired_ratio,
                    "target": r.target,
                    "met": r.met,
                    "implementations": {
                        name: {
                            "ops_per_rep": s.ops,
                            "median_per_op": s.median,
                            "median_total": s.median_total,
                            "iqr_pct": None if math.isnan(s.iqr_pct) else s.iqr_pct,
                            "per_op": s.per_op,
                            **({"extras": s.extras} if s.extras else {}),
                        }
                        for name, s in r.stats.items()
                    },
                }
                for r in results
            ],
        },
        indent=2,
    )


def write_json(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
