"""``aiosync demo --redis URL``: the tour again, with each party a separate OS process
sharing a primitive through Redis.

The parent starts the worker processes of a scene (``python -m aiosync.redis._demo
worker ...``), each with its own client; they start together at an agreed moment, print
what they do as JSON lines stamped with CLOCK_MONOTONIC (one clock for every process of
the host), and the parent prints the scene's lines in time order once they are done. The
names used live under a fresh prefix, deleted at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from ._cli import EXIT_UNREACHABLE, Unreachable, _client, _connect

__all__ = ["run_redis_demo"]

#: Workers start this long after they are launched: enough for Python to import them.
_HEAD_START = 1.5


@dataclass(frozen=True)
class _Scene:
    name: str
    title: str
    note: str
    roles: tuple[str, ...]  # one worker process per role


_SCENES = (
    _Scene(
        "lock",
        "Lock: three processes take turns",
        "Each holds the lock 0.3s; the fencing token grows with every grant.",
        ("lock",) * 3,
    ),
    _Scene(
        "semaphore",
        "Semaphore(2): four processes, at most two inside",
        "Each holds a permit 0.3s.",
        ("semaphore",) * 4,
    ),
    _Scene(
        "event",
        "Event: three processes wait, a fourth sets it",
        "set() is pushed to every waiter through Redis pub/sub: no polling.",
        ("event-wait",) * 3 + ("event-set",),
    ),
    _Scene(
        "barrier",
        "Barrier(3): processes arrive 0.2s apart and leave together",
        "Each gets its arrival index.",
        ("barrier",) * 3,
    ),
    _Scene(
        "rate",
        "RateLimiter(5 per second, burst 1): two processes share one schedule",
        "Each takes 3 units; together they get one every 0.2s.",
        ("rate",) * 2,
    ),
)


def run_redis_demo(url: str, *, cluster: bool = False, out: TextIO | None = None) -> int:
    """Run the scenes against the Redis at ``url``; the exit code."""
    out = sys.stdout if out is None else out
    try:
        asyncio.run(_tour(url, cluster, out))
    except Unreachable as error:
        print(f"aiosync: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return 130
    return 0


async def _tour(url: str, cluster: bool, out: TextIO) -> None:
    client = await _connect(url, cluster)
    prefix = f"aiosync-demo-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    print(f"aiosync demo on Redis at {url}: each party is a separate process.", file=out)
    print("Each line: time since the scene started, the process, what it does.", file=out)
    try:
        for number, scene in enumerate(_SCENES, 1):
            print(f"\n[{number}/{len(_SCENES)}] {scene.title}\n  {scene.note}", file=out)
            for line in await _play(url, cluster, f"{prefix}:{scene.name}", scene):
                print(line, file=out, flush=True)
        print(f"\nDemo finished in {time.perf_counter() - start:.2f}s.", file=out)
    finally:
        keys = [key async for key in client.scan_iter(match="{aiosync:" + prefix + "*")]
        if keys:
            for key in keys:  # one by one: on a cluster they live in different slots
                await client.delete(key)
        await client.aclose()


async def _play(url: str, cluster: bool, name: str, scene: _Scene) -> list[str]:
    t0 = time.monotonic() + _HEAD_START
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiosync.redis._demo",
            "worker",
            role,
            f"process-{i}",
            url,
            "cluster" if cluster else "standalone",
            name,
            repr(t0),
            str(i),
            stdout=asyncio.subprocess.PIPE,
        )
        for i, role in enumerate(scene.roles, 1)
    ]
    outputs = await asyncio.gather(*(worker.communicate() for worker in workers))
    events: list[dict[str, Any]] = []
    for worker, (stdout, _) in zip(workers, outputs, strict=True):
        if worker.returncode:
            raise RuntimeError(f"a demo worker failed (exit {worker.returncode})")
        events.extend(json.loads(line) for line in stdout.decode().splitlines())
    events.sort(key=lambda event: (event["t"], event["who"]))
    return [f"  +{max(e['t'] - t0, 0):.3f}s  {e['who']:<11}  {e['what']}" for e in events]


# -- the workers -------------------------------------------------------------------------------


async def _worker(
    role: str, who: str, url: str, deployment: str, name: str, t0: float, i: int
) -> None:
    import aiosync.redis as ar

    def say(what: str) -> None:
        print(json.dumps({"t": time.monotonic(), "who": who, "what": what}), flush=True)

    client = _client(url, deployment == "cluster")
    try:
        await client.ping()
        await asyncio.sleep(max(t0 - time.monotonic(), 0))
        scenes: dict[str, Callable[[], Awaitable[None]]] = {}

        async def lock() -> None:
            await asyncio.sleep(0.01 * i)  # arrive in order
            guard = ar.Lock(client, name)
            say("waits for the lock")
            async with guard:
                say(f"gets the lock, token {guard.token}")
                await asyncio.sleep(0.3)
                say("releases it")

        async def semaphore() -> None:
            await asyncio.sleep(0.01 * i)
            sem = ar.Semaphore(client, name, 2)
            say("waits for a permit")
            async with sem:
                say(f"takes a permit, token {sem.token}")
                await asyncio.sleep(0.3)
                say("gives it back")

        async def event_wait() -> None:
            say("waits for the event")
            await ar.Event(client, name).wait()
            say("wakes: the event is set")

        async def event_set() -> None:
            await asyncio.sleep(0.5)
            say("sets the event")
            await ar.Event(client, name).set()

        async def barrier() -> None:
            await asyncio.sleep(0.2 * (i - 1))
            say("arrives at the barrier")
            index = await ar.Barrier(client, name, 3).wait()
            say(f"passes, arrival index {index}")

        async def rate() -> None:
            await asyncio.sleep(0.01 * i)
            limiter = ar.RateLimiter(client, name, 5, 1.0, burst=1)
            for _ in range(3):
                await limiter.acquire()
                say("gets a unit")

        scenes.update(
            lock=lock,
            semaphore=semaphore,
            barrier=barrier,
            rate=rate,
            **{"event-wait": event_wait, "event-set": event_set},
        )
        await scenes[role]()
    finally:
        await client.aclose()


def _main(argv: list[str]) -> int:
    if len(argv) != 8 or argv[0] != "worker":
        print("usage: python -m aiosync.redis._demo worker ROLE WHO URL DEPLOYMENT NAME T0 I")
        return 2
    _, role, who, url, deployment, name, t0, i = argv
    asyncio.run(_worker(role, who, url, deployment, name, float(t0), int(i)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
