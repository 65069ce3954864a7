"""What ``aiosync run`` and ``aiosync inspect`` do (their arguments are parsed in
``aiosync.__main__``, which imports this module only when one of them runs)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import redis.asyncio
from redis.exceptions import RedisError

from ._lock import Lock
from ._semaphore import Semaphore

__all__ = [
    "EXIT_LOST",
    "EXIT_TIMEOUT",
    "EXIT_UNREACHABLE",
    "TOKEN_VARIABLE",
    "inspect",
    "run_command",
]

#: Exit codes of ``aiosync run`` besides COMMAND's own.
EXIT_TIMEOUT = 75  # the lock (or a permit) was not had within --timeout (EX_TEMPFAIL)
EXIT_LOST = 76  # the lock was lost while COMMAND ran; COMMAND was terminated
EXIT_UNREACHABLE = 69  # Redis could not be reached (EX_UNAVAILABLE)
EXIT_NOT_FOUND = 127  # COMMAND not found, as a shell says
EXIT_NOT_EXECUTABLE = 126
#: The environment variable that gives COMMAND its fencing token.
TOKEN_VARIABLE = "AIOSYNC_FENCING_TOKEN"


class Unreachable(Exception):
    """Redis could not be reached: the command says so in one line."""


def _client(url: str, cluster: bool, **options: Any) -> Any:
    if cluster:
        return redis.asyncio.RedisCluster.from_url(url, **options)
    return redis.asyncio.from_url(url, **options)


async def _connect(url: str, cluster: bool, **options: Any) -> Any:
    client = _client(url, cluster, **options)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        raise Unreachable(f"cannot reach Redis at {url}: {error}") from None
    return client


def _say(message: str) -> None:
    print(f"aiosync: {message}", file=sys.stderr, flush=True)


def run_command(
    url: str,
    command: Sequence[str],
    *,
    lock: str | None = None,
    semaphore: str | None = None,
    limit: int = 1,
    timeout: float | None = None,
    lease: float = 30.0,
    grace: float = 10.0,
    cluster: bool = False,
) -> int:
    """``aiosync run``: run ``command`` while holding the lock (or a permit of the
    semaphore); its exit code, or one of the EXIT_* codes."""
    try:
        return asyncio.run(
            _run(url, command, lock, semaphore, limit, timeout, lease, grace, cluster)
        )
    except Unreachable as error:
        _say(str(error))
        return EXIT_UNREACHABLE


async def _run(
    url: str,
    command: Sequence[str],
    lock: str | None,
    semaphore: str | None,
    limit: int,
    timeout: float | None,
    lease: float,
    grace: float,
    cluster: bool,
) -> int:
    client = await _connect(url, cluster)
    try:
        guard: Lock | Semaphore
        if semaphore is not None:
            guard, what = (
                Semaphore(client, semaphore, limit, lease=lease),
                f"semaphore {semaphore!r}",
            )
        else:
            assert lock is not None
            guard, what = Lock(client, lock, lease=lease), f"lock {lock!r}"
        try:
            acquired = await guard.acquire(timeout)
        except (RedisError, OSError) as error:
            raise Unreachable(f"lost Redis at {url} while acquiring the {what}: {error}") from None
        if not acquired:
            _say(f"could not acquire the {what} within {timeout:g} s")
            return EXIT_TIMEOUT
        try:
            return await _supervise(command, guard, what, grace)
        finally:
            if not guard.lost.is_set():
                try:
                    await guard.release()
                except Exception as error:
                    _say(f"could not release the {what} ({error}); its lease will end it")
    finally:
        await client.aclose()


async def _supervise(
    command: Sequence[str], guard: Lock | Semaphore, what: str, grace: float
) -> int:
    """Run ``command`` with the token in its environment; terminate it if the hold is lost."""
    if guard.lost.is_set():  # lost before COMMAND could start: do not start it
        _say(f"the {what} was lost (token {guard.token}) before the command started")
        return EXIT_LOST
    env = dict(os.environ, **{TOKEN_VARIABLE: str(guard.token)})
    try:
        process = await asyncio.create_subprocess_exec(*command, env=env)
    except FileNotFoundError:
        _say(f"command not found: {command[0]}")
        return EXIT_NOT_FOUND
    except PermissionError:
        _say(f"command not executable: {command[0]}")
        return EXIT_NOT_EXECUTABLE
    loop = asyncio.get_running_loop()
    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in forwarded:  # ours to COMMAND: it decides when to end
        loop.add_signal_handler(signum, process.send_signal, signum)
    try:
        ended = asyncio.ensure_future(process.wait())
        lost = asyncio.ensure_future(guard.lost.wait())
        await asyncio.wait({ended, lost}, return_when=asyncio.FIRST_COMPLETED)
        if not ended.done():
            _say(f"the {what} was lost (token {guard.token}): terminating the command")
            process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(ended), grace)
            except asyncio.TimeoutError:
                _say(f"the command did not end within {grace:g} s: killing it")
                process.kill()
                await ended
            return EXIT_LOST
        lost.cancel()
        code = ended.result()
        return 128 - code if code < 0 else code  # killed by a signal: as a shell says
    finally:
        for signum in forwarded:
            loop.remove_signal_handler(signum)


def inspect(
    url: str,
    pattern: str = "*",
    *,
    as_json: bool = False,
    cluster: bool = False,
    out: TextIO | None = None,
) -> int:
    """``aiosync inspect``: list the aiosync primitives in Redis whose names match
    ``pattern`` (a glob)."""
    out = sys.stdout if out is None else out
    try:
        found = asyncio.run(_inspect(url, pattern, cluster))
    except Unreachable as error:
        _say(str(error))
        return EXIT_UNREACHABLE
    if as_json:
        json.dump(found, out, indent=2)
        out.write("\n")
        return 0
    if not found:
        print(f"no aiosync primitives matching {pattern!r}", file=out)
    for item in found:
        print(_describe(item), file=out)
    return 0


async def _inspect(url: str, pattern: str, cluster: bool) -> list[dict[str, Any]]:
    client = await _connect(url, cluster, decode_responses=True)
    try:
        seconds, micros = await client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        names = sorted(
            [
                key[len("{aiosync:") : -len("}:meta")]
                async for key in client.scan_iter(
                    match="{aiosync:" + pattern + "}:meta", count=1000
                )
            ]
        )
        return [await _read(client, name, now_ms) for name in names]
    except (RedisError, OSError) as error:
        raise Unreachable(f"lost Redis at {url}: {error}") from None
    finally:
        await client.aclose()


async def _read(client: Any, name: str, now_ms: int) -> dict[str, Any]:
    def key(part: str) -> str:
        return "{aiosync:" + name + "}:" + part

    meta = await client.hgetall(key("meta"))
    kind = meta.get("kind", "?")
    item: dict[str, Any] = {"name": name, "kind": kind, "value": meta.get("value")}
    if kind in ("lock", "semaphore", "rwlock", "capacity"):
        holders = await client.zrange(key("holders"), 0, -1, withscores=True)
        tokens = await client.hgetall(key("grants"))
        item["holders"] = [
            {
                "owner": owner,
                "mode": _mode(kind, owner),
                "token": int(tokens[owner]) if owner in tokens else None,
                "lease_left": round((deadline - now_ms) / 1000, 3),
            }
            for owner, deadline in holders
            if deadline > now_ms
        ]
        item["last_token"] = int(meta["token"]) if "token" in meta else None
        item["waiting"] = await client.llen(key("queue"))
    elif kind in ("event", "latch"):
        state = meta.get("state")
        if kind == "event":
            item["set"] = state == "1"
        else:
            item["count"] = int(state if state is not None else meta.get("value", 0))
        item["waiting"] = await client.zcount(key("waiters"), f"({now_ms}", "+inf")
    elif kind == "barrier":
        item["waiting"] = await client.llen(key("queue"))
        item["broken"] = meta.get("broken") == "1"
        item["rounds"] = int(meta.get("round", 0))
    elif kind == "condition":
        item["waiting"] = await client.llen(key("queue"))
        item["notified"] = await client.zcard(key("notified"))
    return item


def _mode(kind: str, owner: str) -> str:
    if kind == "rwlock":
        return "read" if owner.endswith(":1") else "write"
    return "hold"


def _describe(item: dict[str, Any]) -> str:
    head = f"{item['kind']:<12} {item['name']}"
    kind = item["kind"]
    if "holders" in item:
        held = ", ".join(
            f"{h['mode'] + ' ' if kind == 'rwlock' else ''}token {h['token']} "
            f"({h['lease_left']:.1f} s left)"
            for h in item["holders"]
        )
        limit = f" of {item['value']}" if kind in ("semaphore", "capacity") else ""
        return (
            f"{head}: {len(item['holders'])} holder(s){limit}"
            f"{': ' + held if held else ''}; {item['waiting']} waiting; "
            f"last token {item['last_token']}"
        )
    if kind == "event":
        return f"{head}: {'set' if item['set'] else 'clear'}; {item['waiting']} waiting"
    if kind == "latch":
        return f"{head}: count {item['count']}; {item['waiting']} waiting"
    if kind == "barrier":
        state = "broken" if item["broken"] else f"{item['waiting']} of {item['value']} waiting"
        return f"{head}: {state}; {item['rounds']} round(s) ended"
    if kind == "condition":
        return f"{head}: {item['waiting']} waiting, {item['notified']} notified"
    return f"{head}: value {item['value']}"
