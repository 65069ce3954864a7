"""aiosync.redis.Event and CountdownLatch, on a standalone server and on a cluster."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio
from _util import close, key, run

import aiosync.redis as ar
from conftest import Deployment


async def _until_registered(inspect: Any, name: str, count: int) -> None:
    while inspect.zcard(key(name, "waiters")) < count:
        await asyncio.sleep(0.005)


def test_set_wakes_every_waiter_in_every_client_pushed(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> float:
        clients = [deployment.client() for _ in range(3)]
        events = [ar.Event(c, "go") for c in clients]
        waiters = [asyncio.create_task(events[i % 3].wait()) for i in range(6)]
        await _until_registered(inspect, "go", 6)
        assert not await events[0].is_set()
        t0 = time.perf_counter()
        await events[1].set()
        assert await asyncio.gather(*waiters) == [True] * 6
        elapsed = time.perf_counter() - t0
        assert await events[2].is_set()
        assert await events[0].wait(timeout=0)  # set: at once, without waiting
        await events[0].clear()
        assert not await events[2].is_set()
        assert not await events[2].wait(timeout=0.1)
        await close(*clients)
        return elapsed

    assert run(main) < 5  # pushed: the re-check would take 10 s
    assert inspect.zcard(key("go", "waiters")) == 0


def test_a_set_and_clear_in_a_row_still_wakes_the_waiters(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        waiter = asyncio.create_task(ar.Event(a, "go").wait())
        await _until_registered(inspect, "go", 1)
        event = ar.Event(b, "go")
        await event.set()
        await event.clear()
        assert await asyncio.wait_for(waiter, 5) is True
        await close(a, b)

    run(main)


def test_timeout_and_cancellation_leave_no_registration(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        c = deployment.client()
        event = ar.Event(c, "go")
        assert await event.wait(timeout=0.2) is False
        cancelled = asyncio.create_task(event.wait())
        await _until_registered(inspect, "go", 1)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert inspect.zcard(key("go", "waiters")) == 0
        await c.aclose()

    run(main)


def test_latch_opens_for_all_processes_at_zero(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        clients = [deployment.client() for _ in range(3)]
        latches = [ar.CountdownLatch(c, "ready", 3) for c in clients]
        waiters = [asyncio.create_task(latch.wait()) for latch in latches]
        await _until_registered(inspect, "ready", 3)
        await latches[0].count_down()
        await latches[1].count_down()
        assert await latches[2].count() == 1
        assert not any(w.done() for w in waiters)
        with pytest.raises(ValueError, match="below zero"):
            await latches[2].count_down(2)
        assert await latches[2].count() == 1
        await latches[2].count_down()
        assert await asyncio.wait_for(asyncio.gather(*waiters), 5) == [True] * 3
        assert await latches[0].count() == 0
        assert await latches[1].wait(timeout=0)
        with pytest.raises(ValueError, match="below zero"):
            await latches[0].count_down()
        with pytest.raises(
            ValueError, match=r"'ready' is a latch \(value 3\) in Redis.*latch \(value 4\)"
        ):
            await ar.CountdownLatch(clients[0], "ready", 4).wait(timeout=0)
        with pytest.raises(
            ValueError, match=r"'ready' is a latch \(value 3\) in Redis, not an event"
        ):
            await ar.Event(clients[0], "ready").set()
        await close(*clients)

    run(main)


def test_a_latch_of_zero_is_open(deployment: Deployment) -> None:
    async def main() -> None:
        c = deployment.client()
        latch = ar.CountdownLatch(c, "none", 0)
        assert await latch.count() == 0
        assert await latch.wait(timeout=0)
        await c.aclose()

    run(main)


@pytest.mark.parametrize(
    ("count", "error"), [(-1, ValueError), ("3", TypeError), (True, TypeError), (1.0, TypeError)]
)
def test_bad_latch_counts(count: Any, error: type) -> None:
    with pytest.raises(error, match="count"):
        ar.CountdownLatch(redis.asyncio.Redis(), "ready", count)


def test_bad_count_down_argument(server: Any) -> None:
    async def main() -> None:
        c = redis.asyncio.Redis(port=server.port)
        latch = ar.CountdownLatch(c, "ready", 2)
        with pytest.raises(ValueError, match="n must be >= 1"):
            await latch.count_down(0)
        with pytest.raises(TypeError, match="n must be an int"):
            await latch.count_down(1.5)  # type: ignore[arg-type]
        await c.aclose()

    run(main)


def test_a_set_and_clear_whose_wake_up_was_lost_still_counts(deployment: Deployment) -> None:
    """A waiter's wake-up can be lost (it was not subscribed yet, a reconnection); if the
    event was cleared again meanwhile, its next check must still see that it was set."""

    async def main() -> None:
        c = deployment.client()
        event = ar.Event(c, "go")
        session = await event.session()
        script = session.script("signal_wait")
        first = await script(keys=event.keys, args=["lost:1:0", 30000, "1", "event", 0, ""])
        assert first[0] == 0
        await event.set()
        await event.clear()
        again = await script(
            keys=event.keys, args=["lost:1:0", 30000, "1", "event", 0, str(first[1])]
        )
        assert again[0] == 1
        await c.aclose()

    run(main)
