"""One process of the Redis coordination benchmark
(``python -m benchmarks.redis_coordination_worker CONFIG``).

Started by benchmarks/redis_coordination.py, with ``CONFIG`` a JSON object (``mode``,
``port`` and the mode's settings). It talks to the parent in lines on stdin / stdout; every
time is ``time.monotonic_ns()`` (CLOCK_MONOTONIC: one clock for every process on Linux).

Modes:

* ``event-waiter`` (``name``): one task; on ``ARM k`` it calls
  ``aiosync.redis.Event(client, name).wait()`` and, once it returned, prints
  ``WOKE k <time>``;
* ``event-setter`` (``name``, ``waiters``, ``settle``): on ``CLEAR`` clears the event
  (``CLEARED``); on ``SET k`` waits until ``waiters`` waiters are registered in Redis,
  then ``settle`` seconds more, then prints ``SET k <just before set()> <set() returned>``;
* ``pubsub-waiter`` (``channel``): the floor: a redis-py pub/sub subscription to one
  channel; prints ``WOKE <payload> <time>`` as each message arrives (``ARM`` is ignored);
* ``pubsub-setter`` (``channel``, ``waiters``, ``settle``): on ``SET k`` waits until the
  channel has ``waiters`` subscribers, ``settle`` seconds more, then one ``PUBLISH``;
* ``barrier`` (``name``, ``parties``, ``rounds``, ``warmup``, ``reps``): ``warmup`` rounds
  of ``aiosync.redis.Barrier(client, name, parties).wait()``, then for each of ``reps``
  phases: ``READY``, ``GO <start> <end>``, ``rounds`` rounds from ``start``, ``DONE
  <json>`` (each round's time just before ``wait()``, just after it returned, the index);
* ``rate`` (``name``, ``rate``, ``period``, ``burst``, ``phases``): warms up on a limiter of
  its own, then for each phase: ``READY``, ``GO <start> <end>``, ``acquire()`` of
  ``aiosync.redis.RateLimiter(client, f"{name}:{i}", rate, period, burst=burst)`` in a loop
  from ``start`` until ``end`` (a fresh limiter each phase: its burst is full), ``DONE
  <json>`` (the time each ``acquire()`` returned, the CPU time).

Every primitive is used through its public API, except that the Event setter reads the
number of registered waiters through ``Event._state()`` (no public call tells it) to know
that every waiter is waiting before it calls ``set()``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from benchmarks.redis_common import read_line, say, sleep_until

mono = time.monotonic_ns


async def _line() -> str:
    # Read in a thread: the loop keeps running (aiosync's pub/sub reader, the watchdog).
    line = await read_line()
    if not line:
        return "QUIT"
    return line.strip()


async def _go() -> tuple[int, int]:
    say("READY")
    word, start, end = (await _line()).split()
    if word != "GO":
        raise SystemExit(f"expected GO, got {word!r}")
    return int(start), int(end)


async def _until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


# --- Event ----------------------------------------------------------------------------


async def event_waiter(cfg: dict[str, Any], client: Any) -> None:
    import aiosync.redis

    event = aiosync.redis.Event(client, cfg["name"])
    say("READY")
    while True:
        line = await _line()
        if line == "QUIT":
            return
        word, k = line.split()
        assert word == "ARM", line
        woke = await event.wait()
        t = mono()
        if not woke:
            raise SystemExit("Event.wait() returned False")
        say(f"WOKE {k} {t}")


async def event_setter(cfg: dict[str, Any], client: Any) -> None:
    import aiosync.redis

    event = aiosync.redis.Event(client, cfg["name"])

    async def all_waiting() -> bool:
        _open, _state, waiters = await event._state()
        return waiters >= cfg["waiters"]

    say("READY")
    while True:
        line = await _line()
        if line == "QUIT":
            return
        if line == "CLEAR":
            await event.clear()
            say("CLEARED")
            continue
        word, k = line.split()
        assert word == "SET", line
        await _until(all_waiting, f"{cfg['waiters']} registered waiters")
        await asyncio.sleep(cfg["settle"])
        t0 = mono()
        await event.set()
        t1 = mono()
        say(f"SET {k} {t0} {t1}")


async def pubsub_waiter(cfg: dict[str, Any], client: Any) -> None:
    pubsub = client.pubsub()
    await pubsub.subscribe(cfg["channel"])
    while True:  # the subscription's confirmation
        msg = await pubsub.get_message(timeout=10)
        if msg is not None and msg["type"] == "subscribe":
            break

    async def listen() -> None:
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if msg is None:
                continue
            t = mono()
            say(f"WOKE {msg['data'].decode()} {t}")

    task = asyncio.create_task(listen())
    say("READY")
    try:
        while (await _line()) != "QUIT":
            pass  # ARM: always armed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pubsub.aclose()


async def pubsub_setter(cfg: dict[str, Any], client: Any) -> None:
    channel = cfg["channel"]

    async def all_waiting() -> bool:
        ((_, count),) = await client.pubsub_numsub(channel)
        return int(count) >= cfg["waiters"]

    say("READY")
    while True:
        line = await _line()
        if line == "QUIT":
            return
        if line == "CLEAR":
            say("CLEARED")
            continue
        word, k = line.split()
        assert word == "SET", line
        await _until(all_waiting, f"{cfg['waiters']} subscribers")
        await asyncio.sleep(cfg["settle"])
        t0 = mono()
        await client.publish(channel, k)
        t1 = mono()
        say(f"SET {k} {t0} {t1}")


# --- Barrier --------------------------------------------------------------------------


async def barrier(cfg: dict[str, Any], client: Any) -> None:
    import aiosync.redis

    b = aiosync.redis.Barrier(client, cfg["name"], cfg["parties"])
    for _ in range(cfg["warmup"]):
        await b.wait()
    for _ in range(cfg["reps"]):
        start, _end = await _go()
        await sleep_until(start)
        rounds = []
        cpu0 = time.process_time()
        for _ in range(cfg["rounds"]):
            t_call = mono()
            index = await b.wait()
            rounds.append((t_call, mono(), index))
        cpu = time.process_time() - cpu0
        say("DONE " + json.dumps({"rounds": rounds, "cpu_s": cpu}))


# --- RateLimiter ----------------------------------------------------------------------


async def rate(cfg: dict[str, Any], client: Any) -> None:
    import aiosync.redis

    # Connected, scripts loaded: a limiter of its own that never makes anyone wait.
    warm = aiosync.redis.RateLimiter(client, f"{cfg['name']}:warm", 1e6, 1.0, burst=1e6)
    for _ in range(20):
        await warm.acquire()
    for i in range(cfg["phases"]):
        limiter = aiosync.redis.RateLimiter(
            client, f"{cfg['name']}:{i}", cfg["rate"], cfg["period"], burst=cfg["burst"]
        )
        start, end = await _go()
        await sleep_until(start)
        stamps = []
        cpu0 = time.process_time()
        while mono() < end:
            await limiter.acquire()
            stamps.append(mono())
        cpu = time.process_time() - cpu0
        say("DONE " + json.dumps({"stamps": stamps, "cpu_s": cpu}))


MODES = {
    "event-waiter": event_waiter,
    "event-setter": event_setter,
    "pubsub-waiter": pubsub_waiter,
    "pubsub-setter": pubsub_setter,
    "barrier": barrier,
    "rate": rate,
}


async def _main(cfg: dict[str, Any]) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis(host="127.0.0.1", port=cfg["port"])
    try:
        await client.ping()
        await MODES[cfg["mode"]](cfg, client)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    asyncio.run(_main(json.loads(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
