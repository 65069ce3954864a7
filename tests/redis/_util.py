"""Small helpers shared by the Redis tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

GUARD = 30.0  # no test takes nearly this long; a hang fails instead of stalling


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    async def guarded() -> Any:
        return await asyncio.wait_for(main(), GUARD)

    return asyncio.run(guarded())


def key(name: str, part: str) -> str:
    """One of the Redis keys of the primitive ``name`` (docs/redis.md, "Keys")."""
    return "{aiosync:" + name + "}:" + part


async def until_queued(inspect: Any, name: str, count: int) -> None:
    """Wait until ``count`` acquisitions wait in the queue of ``name``."""
    while inspect.llen(key(name, "queue")) < count:
        await asyncio.sleep(0.005)


async def close(*clients: Any) -> None:
    for client in clients:
        await client.aclose()
