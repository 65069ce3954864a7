"""One process of the Redis lock benchmark (``python -m benchmarks.redis_worker CONFIG``).

Started by benchmarks/redis_bench.py, one per contending process, with ``CONFIG`` a JSON
object (``impl``, ``mode``, ``port``, ``name`` and the mode's settings). It talks to the
parent in lines: it prints ``READY`` once connected and warmed up, waits for ``GO <start>
<end>`` (``time.monotonic_ns()`` values: CLOCK_MONOTONIC, the same clock in every process on
Linux), runs, and prints ``DONE <json>``; a mode with several phases repeats that.

Modes:

* ``cycles``: ``cycles`` uncontended acquire+release cycles right after GO (round trips);
* ``contend``: acquire, hold ``hold`` seconds, release, then (with ``work`` > 0) sleep
  ``work`` seconds outside the lock, in a loop until ``end``; twice: a warm-up window
  (every process has contended, connected, subscribed), then the measured one, where
  with ``record`` it notes each hold's order (``INCR`` of a shared key inside the
  critical section), the monotonic time just after ``acquire()`` returned and just
  before ``release()``; with ``stamps`` (and no ``record``) only those two times, no
  command added to the critical section (the parent orders the holds by time); with
  either, ``waits``: each hold's time in ``acquire()`` (ns), in the order of ``holds``;
* ``watchdog`` (aiosync only): hold ``locks`` locks of lease ``lease`` in one task over
  two windows, then hold nothing over two more; the process's CPU time in each.

Each lock is used through its own public API only, as its documentation shows:

* ``aiosync``: ``aiosync.redis.Lock(client, name, lease=30)``;
* ``redis-py`` / ``redis-py-0.01``: ``redis.asyncio.lock.Lock(client, name, timeout=30,
  sleep=0.1 | 0.01, thread_local=False)``, blocking;
* ``python-redis-lock``: ``redis_lock.Lock(redis.Redis(...), name, expire=30)`` (sync: it
  has no asyncio API), blocking;
* ``pottery``: ``pottery.AIORedlock(key=name, masters={client}, auto_release_time=30)``,
  one master, blocking (or its sync ``Redlock`` if this pottery has no AIORedlock).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.redis_common import read_line, say, sleep_until

LEASE = 30.0  # seconds: every lock's lease / expiry / auto-release time


class _Sync:
    """A sync lock: acquire() and release() are plain calls."""

    is_async = False

    def __init__(self, acquire: Callable[[], Any], release: Callable[[], Any]) -> None:
        self.acquire, self.release = acquire, release
        self.token: Callable[[], int | None] = lambda: None


class _Async:
    is_async = True

    def __init__(
        self, acquire: Callable[[], Awaitable[Any]], release: Callable[[], Awaitable[Any]]
    ) -> None:
        self.acquire, self.release = acquire, release
        self.token: Callable[[], int | None] = lambda: None


def make_lock(impl: str, port: int, name: str) -> tuple[Any, Any, Any]:
    """(lock adapter, a client of the same kind for the benchmark's own commands, the
    client to close)."""
    if impl == "python-redis-lock" or (impl == "pottery" and not _has_aio_redlock()):
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        if impl == "python-redis-lock":
            import redis_lock

            lk = redis_lock.Lock(client, name, expire=int(LEASE))
            return _Sync(lk.acquire, lk.release), client, client
        from pottery import Redlock

        rl = Redlock(key=name, masters={client}, auto_release_time=LEASE)
        return _Sync(rl.acquire, rl.release), client, client

    import redis.asyncio

    aclient = redis.asyncio.Redis(host="127.0.0.1", port=port)
    if impl == "aiosync":
        import aiosync.redis

        lock = aiosync.redis.Lock(aclient, name, lease=LEASE)
        adapter = _Async(lock.acquire, lock.release)
        adapter.token = lambda: lock.token
        return adapter, aclient, aclient
    if impl in ("redis-py", "redis-py-0.01"):
        from redis.asyncio.lock import Lock

        sleep = 0.1 if impl == "redis-py" else 0.01
        rlock = Lock(aclient, name, timeout=LEASE, sleep=sleep, thread_local=False)
        return _Async(rlock.acquire, rlock.release), aclient, aclient
    if impl == "pottery":
        from pottery import AIORedlock

        alock = AIORedlock(key=name, masters={aclient}, auto_release_time=LEASE)
        return _Async(alock.acquire, alock.release), aclient, aclient
    raise SystemExit(f"unknown implementation {impl!r}")


def _has_aio_redlock() -> bool:
    import pottery

    return hasattr(pottery, "AIORedlock")


def _parse_go(line: str) -> tuple[int, int]:
    word, start, end = line.split()
    if word != "GO":
        raise SystemExit(f"expected GO, got {line!r}")
    return int(start), int(end)


def _cpu() -> float:
    return time.process_time()


# --- async ----------------------------------------------------------------------------


async def _go_async() -> tuple[int, int]:
    say("READY")
    # Read in a thread: the loop keeps running (a watchdog must renew meanwhile).
    return _parse_go(await read_line())


async def _run_async(cfg: dict[str, Any]) -> None:
    lock, client, closing = make_lock(cfg["impl"], cfg["port"], cfg["name"])
    try:
        if cfg["mode"] == "cycles":
            for _ in range(cfg["warmup"]):
                await lock.acquire()
                await lock.release()
            start, _end = await _go_async()
            await sleep_until(start)
            for _ in range(cfg["cycles"]):
                await lock.acquire()
                await lock.release()
            say("DONE " + json.dumps({"cycles": cfg["cycles"]}))
        elif cfg["mode"] == "contend":
            await _contend_async(cfg, lock, client)
        elif cfg["mode"] == "watchdog":
            await _watchdog(cfg, client)
        else:
            raise SystemExit(f"unknown mode {cfg['mode']!r}")
    finally:
        await closing.aclose()


async def _contend_async(cfg: dict[str, Any], lock: Any, client: Any) -> None:
    for _ in range(cfg["warmup"]):
        await lock.acquire()
        await lock.release()
    if cfg["record"]:
        await client.exists(cfg["seq_key"])  # the benchmark's own connection is warm too
    for measured in (False, True):  # a contended warm-up window, then the measured one
        start, end = await _go_async()
        await sleep_until(start)
        record = cfg["record"] and measured
        stamps = cfg.get("stamps", False) and measured
        result = await _loop_async(
            lock, client, cfg["hold"], cfg.get("work", 0.0), record, stamps, cfg["seq_key"], end
        )
        say("DONE " + json.dumps(result))


async def _loop_async(
    lock: Any,
    client: Any,
    hold: float,
    work: float,
    record: bool,
    stamps: bool,
    seq_key: str,
    end: int,
) -> dict[str, Any]:
    holds: list[list[int | None]] = []
    waits: list[int] = []
    count = 0
    cpu0 = _cpu()
    mono = time.monotonic_ns
    while mono() < end:
        t_call = mono()
        await lock.acquire()
        t_acq = mono()
        if t_acq < end:
            count += 1
        seq = await client.incr(seq_key) if record else 0
        if hold:
            await asyncio.sleep(hold)
        t_rel = mono()
        await lock.release()
        if record:
            holds.append([seq, t_acq, t_rel, lock.token()])
            waits.append(t_acq - t_call)
        elif stamps:
            holds.append([None, t_acq, t_rel, None])
            waits.append(t_acq - t_call)
        if work:  # work outside the lock: a sleep (the process does not use the CPU)
            await asyncio.sleep(work)
    return {"count": count, "holds": holds, "waits": waits, "cpu_s": _cpu() - cpu0}


async def _watchdog(cfg: dict[str, Any], client: Any) -> None:
    import aiosync.redis

    locks = [
        aiosync.redis.Lock(client, f"{cfg['name']}:{i}", lease=cfg["lease"])
        for i in range(cfg["locks"])
    ]
    for lk in locks:
        await lk.acquire()
    # Steady state: the watchdog has run a few times before the window.
    await asyncio.sleep(cfg["settle"])
    # Two windows of each: the parent measures CPU time in the first, and attaches MONITOR
    # to count commands in the second (MONITOR costs the server CPU time).
    for i, phase in enumerate(("held", "held", "idle", "idle")):
        start, end = await _go_async()
        await sleep_until(start)
        cpu0 = _cpu()
        await sleep_until(end)
        cpu = _cpu() - cpu0
        lost = sum(lk.lost.is_set() for lk in locks) if phase == "held" else 0
        say("DONE " + json.dumps({"cpu_s": cpu, "window_s": (end - start) / 1e9, "lost": lost}))
        if i == 1:  # after DONE: the releases are no part of any window
            for lk in locks:
                await lk.release()
            await asyncio.sleep(cfg["settle"])


# --- sync (python-redis-lock) ---------------------------------------------------------


def _go_sync() -> tuple[int, int]:
    say("READY")
    return _parse_go(sys.stdin.readline())


def _sleep_until_sync(t_ns: int) -> None:
    delay = (t_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


def _run_sync(cfg: dict[str, Any]) -> None:
    lock, client, closing = make_lock(cfg["impl"], cfg["port"], cfg["name"])
    try:
        for _ in range(cfg["warmup"]):
            lock.acquire()
            lock.release()
        if cfg["mode"] == "cycles":
            start, _end = _go_sync()
            _sleep_until_sync(start)
            for _ in range(cfg["cycles"]):
                lock.acquire()
                lock.release()
            say("DONE " + json.dumps({"cycles": cfg["cycles"]}))
            return
        if cfg["mode"] != "contend":
            raise SystemExit(f"mode {cfg['mode']!r} is not for {cfg['impl']}")
        if cfg["record"]:
            client.exists(cfg["seq_key"])
        for measured in (False, True):  # a contended warm-up window, then the measured one
            start, end = _go_sync()
            _sleep_until_sync(start)
            record = cfg["record"] and measured
            stamps = cfg.get("stamps", False) and measured
            result = _loop_sync(
                lock, client, cfg["hold"], cfg.get("work", 0.0), record, stamps, cfg["seq_key"], end
            )
            say("DONE " + json.dumps(result))
    finally:
        closing.close()


def _loop_sync(
    lock: Any,
    client: Any,
    hold: float,
    work: float,
    record: bool,
    stamps: bool,
    seq_key: str,
    end: int,
) -> dict[str, Any]:
    holds: list[list[int | None]] = []
    waits: list[int] = []
    count = 0
    cpu0 = _cpu()
    mono = time.monotonic_ns
    while mono() < end:
        t_call = mono()
        lock.acquire()
        t_acq = mono()
        if t_acq < end:
            count += 1
        seq = client.incr(seq_key) if record else 0
        if hold:
            time.sleep(hold)
        t_rel = mono()
        lock.release()
        if record:
            holds.append([seq, t_acq, t_rel, None])
            waits.append(t_acq - t_call)
        elif stamps:
            holds.append([None, t_acq, t_rel, None])
            waits.append(t_acq - t_call)
        if work:  # work outside the lock: a sleep, as in the async loop
            time.sleep(work)
    return {"count": count, "holds": holds, "waits": waits, "cpu_s": _cpu() - cpu0}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cfg = json.loads(args[0])
    if cfg["impl"] == "python-redis-lock" or (cfg["impl"] == "pottery" and not _has_aio_redlock()):
        _run_sync(cfg)
    else:
        asyncio.run(_run_async(cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
