"""aiosync.redis.CapacityLimiter and RateLimiter, on a standalone server and a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
from _util import close, key, run, until_queued

import aiosync.redis as ar
from conftest import Deployment


def test_capacity_limiter_borrowers_across_clients(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        la, lb = ar.CapacityLimiter(a, "pool", 2), ar.CapacityLimiter(b, "pool", 2)
        job1, job2 = object(), "job-2"
        assert await la.acquire_on_behalf_of(job1)
        with pytest.raises(RuntimeError, match="already holds a token"):
            await la.acquire_on_behalf_of(job1)
        assert await lb.acquire_on_behalf_of(job2)
        assert await la.borrowed_tokens() == 2 and await lb.available_tokens() == 0
        assert la.token_of(job1) is not None and lb.token_of(job2) > la.token_of(job1)

        waiter = asyncio.create_task(la.acquire())  # a task: the borrower is the task
        await until_queued(inspect, "pool", 1)
        with pytest.raises(RuntimeError, match="holds none"):
            await lb.release_on_behalf_of(job1)  # job1 borrowed through la, not lb
        await la.release_on_behalf_of(job1)
        assert await asyncio.wait_for(waiter, 5)
        assert await la.borrowed_tokens() == 2
        await lb.release_on_behalf_of(job2)
        with pytest.raises(RuntimeError, match="holds none"):
            await lb.release_on_behalf_of(job2)
        await close(a, b)

    run(main)


def test_capacity_limiter_in_async_with_and_a_dead_borrowers_token_returns(
    deployment: Deployment,
) -> None:
    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        limiter = ar.CapacityLimiter(a, "pool", 1, lease=0.3)
        async with limiter:
            assert await limiter.available_tokens() == 0
        assert await limiter.available_tokens() == 1
        # A borrower whose process dies: its session stops renewing (simulated by
        # forgetting the hold without releasing it), the token comes back within the lease.
        dead = ar.CapacityLimiter(b, "pool", 1, lease=0.3)
        assert await dead.acquire_on_behalf_of("worker")
        from aiosync.redis._session import session_of

        for hold in list(session_of(b)._holds):
            session_of(b).drop(hold)
        assert await limiter.acquire(timeout=3)
        await limiter.release()
        await close(a, b)

    run(main)


def test_rate_limiter_shares_one_schedule_across_clients(deployment: Deployment) -> None:
    async def main() -> list[float]:
        clients = [deployment.client() for _ in range(3)]
        limiters = [ar.RateLimiter(c, "api", 20, 1.0, burst=5) for c in clients]
        loop = asyncio.get_running_loop()
        granted: list[float] = []

        async def call(i: int) -> None:
            await limiters[i % 3].acquire()
            granted.append(loop.time())

        t0 = loop.time()
        await asyncio.gather(*(call(i) for i in range(25)))
        await close(*clients)
        return [t - t0 for t in sorted(granted)]

    times = run(main)
    assert len(times) == 25
    # 5 at once (the burst), then 20 more at 20/s: the last is due at ~1.0 s
    assert times[4] - times[0] < 0.15  # the burst comes together (else 0.2 s apart)
    assert 0.9 <= times[-1] < 2.0
    # never early: the k-th unit past the burst is due k intervals (0.05 s) after the start
    # (less a little: the start is read after Redis's clock started the schedule)
    for k, t in enumerate(times[5:], start=1):
        assert t >= k * 0.05 - 0.03


def test_rate_limiter_timeout_reserves_nothing_and_cancel_gives_back(
    deployment: Deployment,
) -> None:
    async def main() -> None:
        c = deployment.client()
        limiter = ar.RateLimiter(c, "api", 2, 1.0, burst=1)
        assert await limiter.acquire()  # the burst
        assert await limiter.acquire(timeout=0.1) is False  # due in 0.5 s
        assert await limiter.available() < 1
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        # given back: the next one is due when the cancelled one would have been
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await limiter.acquire()
        assert loop.time() - t0 < 0.45
        with pytest.raises(ValueError, match="amount must be > 0 and <= burst"):
            await limiter.acquire(2)
        with pytest.raises(ValueError, match=r"rate-limiter \(value 2.0/1.0/1.0\)"):
            await ar.RateLimiter(c, "api", 3).acquire()
        await c.aclose()

    run(main)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        ((0,), {}, ValueError, "rate"),
        ((5, -1), {}, ValueError, "period"),
        ((5,), {"burst": 0}, ValueError, "burst"),
        (("5",), {}, TypeError, "rate"),
    ],
)
def test_rate_limiter_bad_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type, words: str
) -> None:
    with pytest.raises(error, match=words):
        ar.RateLimiter(redis.asyncio.Redis(), "api", *args, **kwargs)


@pytest.mark.parametrize(("total", "error"), [(0, ValueError), (1.5, TypeError), (None, TypeError)])
def test_capacity_limiter_bad_totals(total: Any, error: type) -> None:
    with pytest.raises(error, match="total_tokens"):
        ar.CapacityLimiter(redis.asyncio.Redis(), "pool", total)


def test_rate_limiter_keys(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        c = deployment.client()
        await ar.RateLimiter(c, "api", 5).acquire()
        await c.aclose()

    run(main)
    assert inspect.hget(key("api", "meta"), "kind") == "rate-limiter"
