"""aiosync.redis.Lock against a real redis-server (tests/redis/_server.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
import redis.asyncio
from _server import RedisServer
from _util import run

import aiosync.redis as ar


def client(server: RedisServer) -> redis.asyncio.Redis:
    """One client stands for one process: its own connections, pub/sub and watchdog."""
    return redis.asyncio.Redis(port=server.port)


def keys(server: RedisServer) -> list[str]:
    with redis.Redis(port=server.port, decode_responses=True) as r:
        return sorted(r.keys("*"))


def test_one_holder_at_a_time_in_fifo_order_across_clients(server: RedisServer) -> None:
    async def main() -> list[str]:
        clients = [client(server) for _ in range(3)]
        locks = [ar.Lock(c, "job") for c in clients]
        inside, order = [0], []
        await locks[0].acquire()

        async def worker(i: int, lock: ar.Lock) -> None:
            async with lock:
                inside[0] += 1
                assert inside[0] == 1
                order.append(f"w{i}")
                await asyncio.sleep(0.01)
                inside[0] -= 1

        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(worker(i, locks[i % 3])))
            # queue in a known order
            while _queue_length(server) < i + 1:
                await asyncio.sleep(0.005)
        await locks[0].release()
        await asyncio.gather(*tasks)
        for c in clients:
            await c.aclose()
        return order

    assert run(main) == [f"w{i}" for i in range(6)]
    assert "{aiosync:job}:holders" not in keys(server)
    assert _queue_length(server) == 0


def _queue_length(server: RedisServer) -> int:
    with redis.Redis(port=server.port) as r:
        return int(r.llen("{aiosync:job}:queue"))


async def _take_and_release(lock: ar.Lock) -> float:
    """Acquire (a hold belongs to the task that took it), note when, release."""
    await lock.acquire()
    got = time.perf_counter()
    await lock.release()
    return got


def test_wake_up_is_pushed_not_polled(server: RedisServer) -> None:
    """With a 30 s lease the waiter's own re-check comes after 10 s: it is woken by the
    release, long before."""

    async def main() -> float:
        a, b = client(server), client(server)
        la, lb = ar.Lock(a, "job"), ar.Lock(b, "job")
        await la.acquire()
        waiter = asyncio.create_task(_take_and_release(lb))
        while _queue_length(server) < 1:
            await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        await la.release()
        elapsed = await waiter - t0
        await a.aclose()
        await b.aclose()
        return elapsed

    assert run(main) < 5.0


def test_tokens_increase_also_after_redis_lost_its_data(server: RedisServer) -> None:
    async def take() -> int:
        c = client(server)
        lock = ar.Lock(c, "job")
        async with lock:
            token = lock.token
            assert token is not None
        assert lock.token is None
        await c.aclose()
        return token

    first = run(take)
    second = run(take)
    server.restart()  # no persistence: the counter is gone
    third = run(take)
    assert first < second < third


def test_release_by_another_task_is_refused_and_the_hold_stays(server: RedisServer) -> None:
    async def main() -> None:
        c = client(server)
        lock = ar.Lock(c, "job")
        await lock.acquire()

        async def intruder() -> None:
            with pytest.raises(RuntimeError, match="does not hold it"):
                await lock.release()
            assert lock.token is None

        await asyncio.create_task(intruder())
        assert await lock.locked()
        await lock.release()
        assert not await lock.locked()
        await c.aclose()

    run(main)


def test_timeout_returns_false_leaving_no_queue_entry(server: RedisServer) -> None:
    async def main() -> None:
        a, b = client(server), client(server)
        la, lb = ar.Lock(a, "job"), ar.Lock(b, "job")
        await la.acquire()
        assert await lb.acquire(timeout=0) is False
        assert await lb.acquire(timeout=0.2) is False
        assert _queue_length(server) == 0
        await la.release()
        assert await lb.acquire(timeout=0) is True
        await lb.release()
        await a.aclose()
        await b.aclose()

    run(main)


def test_cancelled_acquire_leaves_nothing_behind(server: RedisServer) -> None:
    async def main() -> None:
        a, b = client(server), client(server)
        la, lb = ar.Lock(a, "job"), ar.Lock(b, "job")
        await la.acquire()
        waiter = asyncio.create_task(lb.acquire())
        while _queue_length(server) < 1:
            await asyncio.sleep(0.005)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert _queue_length(server) == 0
        await la.release()
        assert not await la.locked()
        await a.aclose()
        await b.aclose()

    run(main)


def test_watchdog_renews_the_lease(server: RedisServer) -> None:
    async def main() -> None:
        c = client(server)
        lock = ar.Lock(c, "job", lease=0.3)
        async with lock:
            await asyncio.sleep(1.2)  # four leases
            assert await lock.locked()
            assert not lock.lost.is_set()
        assert not await lock.locked()
        await c.aclose()

    run(main)


def test_loss_is_surfaced_to_the_task_inside_async_with(server: RedisServer) -> None:
    async def main() -> None:
        c = client(server)
        lock = ar.Lock(c, "job", lease=0.3)
        with pytest.raises(ar.LockLostError, match="lost while held"):
            async with lock:
                await c.delete("{aiosync:job}:holders")  # as if the lease had run out
                await asyncio.sleep(5)  # cancelled by the watchdog within lease/3
        await c.aclose()

    t0 = time.perf_counter()
    run(main)
    assert time.perf_counter() - t0 < 3


def test_a_dead_waiter_delays_the_queue_by_one_lease_at_most(server: RedisServer) -> None:
    async def main() -> float:
        a, b = client(server), client(server)
        la, lb = ar.Lock(a, "job", lease=0.5), ar.Lock(b, "job", lease=0.5)
        await la.acquire()
        # A waiter of a process that died: queued, never renewing its place.
        with redis.Redis(port=server.port) as r:
            seconds, micros = r.time()
            now_ms = int(seconds) * 1000 + int(micros) // 1000
            r.rpush("{aiosync:job}:queue", "dead:1:1")
            r.hset("{aiosync:job}:alive", "dead:1:1", now_ms + 500)
        waiter = asyncio.create_task(_take_and_release(lb))
        while _queue_length(server) < 2:
            await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        await la.release()
        elapsed = await waiter - t0
        await a.aclose()
        await b.aclose()
        return elapsed

    assert run(main) < 0.5 + 1.0  # the dead entry's lease, plus a re-check and slack


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        (("",), {}, ValueError, "empty"),
        ((3,), {}, TypeError, "name"),
        (("job",), {"lease": 0}, ValueError, "lease"),
        (("job",), {"lease": -1}, ValueError, "lease"),
        (("job",), {"lease": float("nan")}, ValueError, "lease"),
        (("job",), {"lease": "30"}, TypeError, "lease"),
    ],
)
def test_bad_arguments(
    server: RedisServer, args: tuple[Any, ...], kwargs: dict[str, Any], error: type, words: str
) -> None:
    c = redis.asyncio.Redis(port=server.port)
    with pytest.raises(error, match=words):
        ar.Lock(c, *args, **kwargs)


def test_wrong_client_type() -> None:
    with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis"):
        ar.Lock(redis.Redis(), "job")  # the sync client


def test_hold_is_lost_when_redis_stays_unreachable_past_the_lease(
    server: RedisServer,
) -> None:
    async def main() -> None:
        c = client(server)
        lock = ar.Lock(c, "job", lease=0.5)
        with pytest.raises(ar.LockLostError, match="lost while held"):
            async with lock:
                server.stop()  # renewals fail from now on
                await asyncio.sleep(5)  # cancelled once the lease ran out unconfirmed
        assert lock.token is None
        await c.aclose()

    t0 = time.perf_counter()
    try:
        run(main)
    finally:
        server.start()
    assert time.perf_counter() - t0 < 4


def test_scripts_repeated_by_client_retries_give_the_first_answer(server: RedisServer) -> None:
    """redis-py re-sends a call after a timeout (10 times by default), so a script may run
    twice: a repeated acquire returns the same grant without queueing its owner, and a
    repeated release reports success, not a loss."""
    from aiosync.redis._session import _script_text

    async def main() -> None:
        c = client(server)
        tag = "{aiosync:job}"
        keys = [f"{tag}:{part}" for part in ("meta", "holders", "grants", "queue", "alive")]
        keys.append(f"{tag}:gone")
        acquire = c.register_script(_script_text("acquire"))
        release = c.register_script(_script_text("release"))
        args = ["me:1:1", 2000, 30000, 30000, "1", "lock", 1, 60000]
        first = await acquire(keys=keys, args=args)
        again = await acquire(keys=keys, args=args)
        assert first == again and first[0] == 1
        assert await c.llen(f"{tag}:queue") == 0
        assert await release(keys=keys, args=["me:1:1", 2000, 60000]) == 1
        assert await release(keys=keys, args=["me:1:1", 2000, 60000]) == 1
        # ... and a late repeat of the acquire cannot take the lock again
        assert (await acquire(keys=keys, args=args))[0] == -1
        assert not await c.exists(f"{tag}:holders")
        assert await release(keys=keys, args=["me:2:1", 2000, 60000]) == 0
        await c.aclose()

    run(main)


def test_rlock_is_reentrant_per_task_with_one_token(server: RedisServer) -> None:
    async def main() -> None:
        a, b = client(server), client(server)
        mine, theirs = ar.RLock(a, "job"), ar.RLock(b, "job")
        async with mine:
            token = mine.token
            async with mine:
                assert await mine.acquire(timeout=0) is True
                assert mine.token == token
                await mine.release()
            assert await mine.locked()

            async def other_task() -> bool:
                return await mine.acquire(timeout=0)  # the same object, another task

            assert await asyncio.create_task(other_task()) is False
            assert await theirs.acquire(timeout=0) is False
        assert not await mine.locked()
        with pytest.raises(RuntimeError, match="does not hold it"):
            await mine.release()
        await a.aclose()
        await b.aclose()

    run(main)


def test_loss_leaves_nested_rlock_blocks_as_one_lock_lost_error(server: RedisServer) -> None:
    async def main() -> None:
        c = client(server)
        lock = ar.RLock(c, "job", lease=0.3)
        with pytest.raises(ar.LockLostError, match="lost while held"):
            async with lock, lock:
                await c.delete("{aiosync:job}:holders")
                await asyncio.sleep(5)
        assert lock.token is None
        assert await lock.acquire(timeout=0) is True  # a fresh hold, a new token
        await lock.release()
        await c.aclose()

    run(main)


def test_a_grant_heard_with_a_you_are_next_is_not_delayed() -> None:
    """'n' (you are next: re-check when the claim window ends) and 'g' (granted) may reach
    a waiter in the same tick; the grant must win, not wait out the window."""
    from aiosync.redis._session import Session

    async def main() -> tuple[float, float]:
        session = Session(redis.asyncio.Redis())  # never connects
        loop = asyncio.get_running_loop()
        waiter = session.expect("s:a:1")
        session._deliver(b"n2000 s:a:1")
        session._deliver(b"g7,2000 s:a:1")
        t0 = loop.time()
        assert await waiter.wait(t0 + 10, None)
        elapsed = loop.time() - t0
        waiter.clear()
        session._deliver(b"n300 s:a:1")  # alone, it shortens the wait to the window
        t0 = loop.time()
        assert await waiter.wait(t0 + 10, None)
        return elapsed, loop.time() - t0

    granted, told_next = run(main)
    assert granted < 0.2
    assert 0.3 <= told_next < 2


def test_a_hand_off_is_confirmed_at_once_and_a_failed_confirm_is_a_loss(
    server: RedisServer,
) -> None:
    """A waiter handed the lock enters at once, on the message; its session confirms the
    grant in the background, and a grant that is gone by then is lost at once (not at the
    next renewal, lease/3 later)."""
    from aiosync.redis._session import Hold, session_of

    async def main() -> None:
        a, b = client(server), client(server)
        la, lb = ar.Lock(a, "job"), ar.Lock(b, "job")
        await la.acquire()

        async def take() -> float:
            assert await lb.acquire()
            await asyncio.sleep(0.2)
            with redis.Redis(port=server.port) as r:
                deadline_ms = r.zrange("{aiosync:job}:holders", 0, 0, withscores=True)[0][1]
                seconds, micros = r.time()
            await lb.release()
            return float(deadline_ms - (int(seconds) * 1000 + int(micros) // 1000))

        waiter = asyncio.create_task(take())
        while _queue_length(server) < 1:
            await asyncio.sleep(0.005)
        await la.release()
        # confirmed: a full 30 s lease, not the 2 s claim window
        assert await asyncio.wait_for(waiter, 5) > 25_000

        lost: list[Hold] = []
        ghost = Hold("{aiosync:job}:holders", "{aiosync:job}:grants", "x:y:1", 1, 30.0, lost.append)
        session_of(b).keep(ghost, claimed=2.0)
        await asyncio.wait_for(ghost.lost.wait(), 1.0)
        assert lost == [ghost]
        await a.aclose()
        await b.aclose()

    run(main)


def test_a_grant_heard_before_the_reply_of_the_call_that_queued_is_kept() -> None:
    """The reader may hand a waiter news of its grant in the loop turn before the waiter
    sees the reply of the call that queued it: the news must not be dropped (it was, and
    the lock then stood free for a whole claim window)."""
    from aiosync.redis._session import Session
    from aiosync.redis._waiting import wait_on_redis

    async def main() -> tuple[Any, float]:
        session = Session(redis.asyncio.Redis())  # never connects
        session._subscribed = asyncio.get_running_loop().create_future()
        session._subscribed.set_result(None)  # as if listening
        loop = asyncio.get_running_loop()

        async def ask(register: bool) -> tuple[bool, Any, float]:
            session._deliver(b"g42,2000 me:1:1")  # the grant, heard before the reply
            return False, None, 10.0

        async def give_up() -> None:
            raise AssertionError("not given up")

        t0 = loop.time()
        result = await wait_on_redis(session, "me:1:1", None, ask, lambda news: news, give_up)
        return result, loop.time() - t0

    result, elapsed = run(main)
    assert result == (42, 2.0)
    assert elapsed < 1  # not the 10 s re-check
