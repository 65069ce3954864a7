"""aiosync.redis.RWLock, on a standalone server and on a cluster."""

from __future__ import annotations

import asyncio

import pytest
from _util import close, key, run, until_queued

import aiosync.redis as ar
from conftest import Deployment


def test_readers_share_across_processes_and_a_writer_excludes(deployment: Deployment) -> None:
    async def main() -> None:
        clients = [deployment.client() for _ in range(3)]
        locks = [ar.RWLock(c, "doc") for c in clients]
        for rw in locks:
            assert await rw.read.acquire(timeout=0)
        assert await locks[0].read.locked() and not await locks[0].write.locked()
        # (from another task: this one holds read, and may not upgrade)
        assert not await asyncio.create_task(locks[1].write.acquire(timeout=0.2))
        for rw in locks:
            await rw.read.release()
        assert await locks[1].write.acquire(timeout=0)
        assert await locks[0].write.locked() and not await locks[0].read.locked()
        assert not await asyncio.create_task(locks[2].read.acquire(timeout=0.2))
        await locks[1].write.release()
        await close(*clients)

    run(main)


def test_one_fifo_queue_readers_before_a_writer_enter_together(deployment: Deployment) -> None:
    """Held for writing; queued: r1 r2 w3 r4 (from 3 clients). The release lets r1 and r2
    in together, w3 after both, r4 after w3: a waiting writer is not overtaken."""
    inspect = deployment.inspect()

    async def main() -> list[str]:
        clients = [deployment.client() for _ in range(3)]
        locks = [ar.RWLock(c, "doc") for c in clients]
        log: list[str] = []

        async def reader(name: str, rw: ar.RWLock) -> None:
            async with rw.read:
                log.append(f"+{name}")
                await asyncio.sleep(0.2)
                log.append(f"-{name}")

        async def writer(name: str, rw: ar.RWLock) -> None:
            async with rw.write:
                log.append(f"+{name}")
                await asyncio.sleep(0.05)
                log.append(f"-{name}")

        await locks[0].write.acquire()
        tasks = []
        for i, (make, name) in enumerate(
            [(reader, "r1"), (reader, "r2"), (writer, "w3"), (reader, "r4")]
        ):
            tasks.append(asyncio.create_task(make(name, locks[(i + 1) % 3])))
            await until_queued(inspect, "doc", i + 1)
        await locks[0].write.release()
        await asyncio.gather(*tasks)
        await close(*clients)
        return log

    log = run(main)
    assert sorted(log[:2]) == ["+r1", "+r2"]
    assert sorted(log[2:4]) == ["-r1", "-r2"]
    assert log[4:] == ["+w3", "-w3", "+r4", "-r4"]


def test_reentries_share_the_hold_they_reenter(deployment: Deployment) -> None:
    async def main() -> None:
        c = deployment.client()
        rw = ar.RWLock(c, "doc")
        other = ar.RWLock(deployment.client(), "doc")
        async with rw.write:
            token = rw.write.token
            async with rw.read:  # read inside write: at once, the write hold's token
                assert rw.read.token == token
                async with rw.write:
                    assert rw.write.token == token
        assert not await rw.write.locked()

        async with rw.read:
            with pytest.raises(RuntimeError, match="cannot take write"):
                await rw.write.acquire()
            async with rw.read:
                pass
        assert not await rw.read.locked()

        # write released before the read taken inside it: Redis keeps the exclusive hold
        # until that read is released too.
        await rw.write.acquire()
        await rw.read.acquire()
        await rw.write.release()
        assert not await other.read.acquire(timeout=0.1)
        await rw.read.release()
        assert await other.read.acquire(timeout=0)
        await other.read.release()

        with pytest.raises(RuntimeError, match="does not hold it"):
            await rw.read.release()
        await c.aclose()

    run(main)


def test_a_lost_write_hold_is_surfaced(deployment: Deployment) -> None:
    async def main() -> None:
        c = deployment.client()
        rw = ar.RWLock(c, "doc", lease=0.3)
        with pytest.raises(ar.LockLostError):
            async with rw.write:
                await c.delete(key("doc", "holders"))
                await asyncio.sleep(5)
        assert rw.write.token is None
        assert await rw.read.acquire(timeout=0)
        await rw.read.release()
        await c.aclose()

    run(main)
