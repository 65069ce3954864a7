"""aiosync.redis.Barrier, on a standalone server and on a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
from _util import close, key, run

import aiosync.redis as ar
from conftest import Deployment


async def _until_waiting(inspect: Any, name: str, count: int) -> None:
    while inspect.llen(key(name, "queue")) < count:
        await asyncio.sleep(0.005)


def test_parties_across_clients_get_distinct_indices_round_after_round(
    deployment: Deployment,
) -> None:
    inspect = deployment.inspect()

    async def main() -> list[list[int]]:
        clients = [deployment.client() for _ in range(3)]
        barriers = [ar.Barrier(c, "meet", 3) for c in clients]
        rounds = []
        for _ in range(3):
            first = asyncio.create_task(barriers[0].wait())
            await _until_waiting(inspect, "meet", 1)
            second = asyncio.create_task(barriers[1].wait())
            await _until_waiting(inspect, "meet", 2)
            last = await barriers[2].wait()
            rounds.append([await first, await second, last])
        assert await barriers[0].n_waiting() == 0 and not await barriers[0].broken()
        await close(*clients)
        return rounds

    assert run(main) == [[0, 1, 2]] * 3


def test_a_timed_out_party_breaks_the_barrier_until_reset(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        ba, bb = ar.Barrier(a, "meet", 3), ar.Barrier(b, "meet", 3)
        other = asyncio.create_task(ba.wait())
        await _until_waiting(inspect, "meet", 1)
        with pytest.raises(ar.BrokenBarrierError, match="timed out"):
            await bb.wait(timeout=0.2)
        with pytest.raises(ar.BrokenBarrierError):
            await asyncio.wait_for(other, 5)
        assert await ba.broken()
        with pytest.raises(ar.BrokenBarrierError):
            await ba.wait()
        await bb.reset()
        assert not await ba.broken()
        waiting = [asyncio.create_task(ba.wait()) for _ in range(2)]
        await _until_waiting(inspect, "meet", 2)
        assert await bb.wait() == 2
        assert sorted(await asyncio.gather(*waiting)) == [0, 1]
        await close(a, b)

    run(main)


def test_a_party_cancelled_while_filling_just_leaves(deployment: Deployment) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        c = deployment.client()
        barrier = ar.Barrier(c, "meet", 2)
        leaving = asyncio.create_task(barrier.wait())
        await _until_waiting(inspect, "meet", 1)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        assert await barrier.n_waiting() == 0 and not await barrier.broken()
        staying = asyncio.create_task(barrier.wait())
        await _until_waiting(inspect, "meet", 1)
        assert await barrier.wait() == 1
        assert await staying == 0
        await c.aclose()

    run(main)


def test_abort_and_reset_wake_waiting_parties_with_broken_barrier_error(
    deployment: Deployment,
) -> None:
    inspect = deployment.inspect()

    async def main() -> None:
        a, b = deployment.client(), deployment.client()
        ba, bb = ar.Barrier(a, "meet", 3), ar.Barrier(b, "meet", 3)
        for end in (bb.reset, bb.abort):
            waiting = [asyncio.create_task(ba.wait()) for _ in range(2)]
            await _until_waiting(inspect, "meet", 2)
            await end()
            for task in waiting:
                with pytest.raises(ar.BrokenBarrierError):
                    await asyncio.wait_for(task, 5)
        assert await ba.broken()  # aborted, until reset
        await close(a, b)

    run(main)


def test_a_party_that_stops_renewing_breaks_the_barrier_within_its_lease(
    deployment: Deployment,
) -> None:
    """A party of a process that died: arrived, then never asks again."""
    inspect = deployment.inspect()

    async def main() -> float:
        a = deployment.client()
        barrier = ar.Barrier(a, "meet", 3, lease=0.5)
        # the dead party: its arrival as the script records it, with a lease of 0.5 s
        dead = deployment.client()
        from aiosync.redis._session import session_of

        session = session_of(dead)
        await session.ready()
        args = ["dead:x:0", 500, "", "1", "barrier", 3]
        script = session.script("barrier_wait")
        assert (await script(keys=barrier.keys, args=args))[0] == 0
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(ar.BrokenBarrierError):
            await barrier.wait()
        await close(a, dead)
        return loop.time() - t0

    assert run(main) < 0.5 + 1.0
    assert inspect.llen(key("meet", "queue")) == 0


@pytest.mark.parametrize(("parties", "error"), [(0, ValueError), ("3", TypeError)])
def test_bad_parties(parties: Any, error: type) -> None:
    with pytest.raises(error, match="parties"):
        ar.Barrier(redis.asyncio.Redis(), "meet", parties)
