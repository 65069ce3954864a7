"""Rendering results: the markdown tables and the JSON record."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .harness import Result, Stats


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
    worst = max(s.iqr_pct for s in result.stats.values())
    return "—" if math.isnan(worst) else f"{worst:.0f}%"


def markdown_table(python: str, results: Sequence[Result]) -> str:
    header = (
        "| Python | loop | workload | asyncio median | aiosync median | ratio | target "
        "| met? | paired ratio | IQR |",
        "|---|---|---|---:|---:|---:|---:|:---:|---:|---:|",
    )
    rows = [
        f"| {python} | {r.loop} | `{r.workload.name}` | {_cell(r, r.stats['asyncio'])} "
        f"| {_cell(r, r.stats['aiosync'])} | **{r.ratio:.2f}** "
        f"| {'—' if r.target is None else f'≤ {r.target:g}'} | {_met(r)} "
        f"| {r.paired_ratio:.2f} | {_noise(r)} |"
        for r in results
    ]
    return "\n".join([*header, *rows])


def verdict(results: Sequence[Result]) -> str:
    judged = [r for r in results if r.met is not None]
    missed = [f"{r.workload.name} ({r.loop}, {r.ratio:.2f})" for r in judged if not r.met]
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
