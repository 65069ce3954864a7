"""A worker process for tests/redis/test_faults_coordination.py: one OS process with its own
Redis client, using aiosync.redis's Barrier, Event, CountdownLatch or Condition, reporting
what happened as JSON lines in a file.

    python _coordination_workers.py MODE (--port P | --cluster H:P,H:P,...) --fence F
        --log FILE --id NAME [options]

The log (JSON lines), the fence client and the SIGUSR1 stack dump (``tasks``) are
tests/redis/_worker_common.py's.

The fence is the test's resource outside Redis. Its operations: ``ENTER``/``EXIT`` a
section with a lock's fencing token (the fence checks that no two are ever inside at once
and that tokens only grow); ``GET`` the shared item count, ``PRODUCE`` an item,
``CONSUME`` one, each with the token of the section it is made in; ``DONE`` (were all the
items the test expects consumed?) and ``PRODUCED`` (was this item put?), anywhere;
``BROKE``/``BROKEN``/``RESET``/``WAS_RESET`` a barrier round (to coordinate a ``reset()``
after every party of a round saw it broken).

Modes:

``party``        one Barrier party: with ``--first``, arrive once (``arriving``, then
                 ``passed`` with its index or ``broken``); then, once the file
                 ``--resume`` exists (if given), ``--rounds`` rounds, each logged the same
                 way with its ``round``.
``rounds``       ``--tasks`` parties of one Barrier of ``--procs`` x ``--tasks`` parties in
                 this process (party ids ``--proc`` x ``--tasks`` + task), ``--rounds``
                 rounds under the seeded schedule of ``barrier_schedule``: random delays
                 before arriving, and in the schedule's broken rounds one party waits with
                 a short timeout while the round's late party arrives only once the round
                 broke; every party then reports the break to the fence, the timed-out
                 party resets the barrier once all of them did, and the rounds go on.
``signal-wait``  ``--tasks`` tasks each ``await wait()`` on an Event (``--kind event``) or
                 a CountdownLatch of ``--count`` (``--kind latch``); each logs ``woken``.
``signal-fire``  ``set()`` the Event, or ``count_down()`` the latch once; logs ``firing``
                 before and ``fired`` after.
``condition``    ``--producers`` tasks each put ``--items`` items, one per hold of the
                 Condition's lock, notifying (one waiter, or all) after each; ``--consumers``
                 tasks take items one at a time with ``wait_for(items > 0 or all done)``
                 under random timeouts, until the fence says every item of the test was
                 consumed; each round of every task runs under a random cancellation. Logs
                 ``done`` with counts (how rounds ended, where cancellations landed) and
                 unexpected errors.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import os
import random
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import redis.asyncio
from _worker_common import FenceClient, Log, parser, session
from redis.asyncio.cluster import ClusterNode

import aiosync.redis as ar


class Fence(FenceClient):
    """The test's fence (see the module docstring): its answer, as a worker (or, with
    ``who``, one of its tasks)."""

    def __call__(self, op: str, *args: object, who: str | None = None) -> str:
        return self.ask(op, who or self.who, *args)


# --- Barrier -------------------------------------------------------------------------


async def _arrive(
    barrier: ar.Barrier, log: Log, timeout: float | None = None, **fields: Any
) -> bool:
    log("arriving", **fields)
    try:
        index = await barrier.wait(timeout)
    except ar.BrokenBarrierError as e:
        log("broken", message=str(e), **fields)
        return False
    log("passed", index=index, **fields)
    return True


async def party(args: argparse.Namespace, client: Any, fence: Fence, log: Log) -> None:
    barrier = ar.Barrier(client, args.name, args.parties, lease=args.lease)
    if args.first:
        await _arrive(barrier, log, round="first")
    if args.resume is not None:
        while not os.path.exists(args.resume):
            await asyncio.sleep(0.01)
    for r in range(args.rounds):
        await _arrive(barrier, log, round=r)


def barrier_schedule(seed: int, parties: int, rounds: int) -> dict[int, tuple[int, int]]:
    """The rounds that break: round -> (the party that times out, the party that arrives
    only once the round broke). Two of them, never the first round, from ``seed``."""
    rng = random.Random(seed)
    broken = sorted(rng.sample(range(1, rounds), 2))
    schedule = {}
    for r in broken:
        timer, late = rng.sample(range(parties), 2)
        schedule[r] = (timer, late)
    return schedule


#: How long the party chosen to break a round waits before its wait times out (seconds).
BREAK_TIMEOUT = 0.3


async def rounds(args: argparse.Namespace, client: Any, fence: Fence, log: Log) -> None:
    parties = args.procs * args.tasks
    schedule = barrier_schedule(args.seed, parties, args.rounds)

    async def one_party(p: int) -> None:
        barrier = ar.Barrier(client, args.name, parties, lease=args.lease)
        rng = random.Random(f"{args.seed}-{p}")
        for r in range(args.rounds):
            timer, late = schedule.get(r, (-1, -1))
            timeout: float | None = rng.choice([None, 20.0])
            if p == late:
                # Arrives once the round broke: the timed-out party told the fence.
                while int(fence("BROKEN", r, who=str(p))) == 0:
                    await asyncio.sleep(0.01)
            elif p == timer:
                timeout = BREAK_TIMEOUT
            else:
                await asyncio.sleep(rng.choice([0.0, rng.uniform(0, 0.05)]))
            if await _arrive(barrier, log, timeout, party=p, round=r):
                continue
            fence("BROKE", r, who=str(p))
            if p == timer:
                while int(fence("BROKEN", r, who=str(p))) < parties:
                    await asyncio.sleep(0.01)
                await barrier.reset()
                log("reset", party=p, round=r)
                fence("RESET", r, who=str(p))
            else:
                while fence("WAS_RESET", r, who=str(p)) != "1":
                    await asyncio.sleep(0.01)

    first = args.proc * args.tasks
    await asyncio.gather(*(one_party(first + j) for j in range(args.tasks)))
    log("done")


# --- Event, CountdownLatch -----------------------------------------------------------


def _signal(args: argparse.Namespace, client: Any) -> ar.Event | ar.CountdownLatch:
    if args.kind == "event":
        return ar.Event(client, args.name)
    return ar.CountdownLatch(client, args.name, args.count)


async def signal_wait(args: argparse.Namespace, client: Any, fence: Fence, log: Log) -> None:
    sig = _signal(args, client)

    async def one(j: int) -> None:
        log("waiting", task=j)
        result = await sig.wait()
        log("woken", task=j, result=result)

    await asyncio.gather(*(one(j) for j in range(args.tasks)))


async def signal_fire(args: argparse.Namespace, client: Any, fence: Fence, log: Log) -> None:
    sig = _signal(args, client)
    log("firing")
    if isinstance(sig, ar.Event):
        await sig.set()
    else:
        await sig.count_down()
    log("fired")


# --- Condition -----------------------------------------------------------------------


async def condition(args: argparse.Namespace, client: Any, fence: Fence, log: Log) -> None:
    cond = ar.Condition(client, args.name)
    counts: collections.Counter[str] = collections.Counter()
    unexpected: list[str] = []

    def token() -> int:
        t = cond.lock.token
        assert t is not None, "the lock is not held by this task"
        return t

    @contextlib.contextmanager
    def section(tok: int) -> Iterator[None]:
        """ENTER and EXIT at the fence around a stretch of code run with the lock held."""
        fence("ENTER", tok)
        try:
            yield
        finally:
            fence("EXIT", tok)

    def ready() -> bool:
        """The consumers' predicate, called by wait_for with the lock held."""
        tok = token()
        with section(tok):
            result = int(fence("GET", tok)) > 0 or fence("DONE", tok) == "1"
        counts[f"predicate {result}"] += 1
        return result

    async def produce(
        rng: random.Random, phase: list[str], waiting: asyncio.Event, item: str
    ) -> bool:
        phase[0] = "acquire"
        async with cond:
            tok = token()
            phase[0] = "hold"
            with section(tok):
                await asyncio.sleep(rng.choice([0.0, rng.uniform(0, 0.003)]))
                fence("PRODUCE", tok, item)
                phase[0] = "notify"
                if rng.random() < 0.3:
                    await cond.notify_all()
                else:
                    await cond.notify()
                phase[0] = "produced"
        return True

    async def consume(rng: random.Random, phase: list[str], waiting: asyncio.Event) -> bool:
        """One round; True once every item of the test is consumed."""
        timeout = rng.choice([None, 0, rng.uniform(0.005, 0.05), rng.uniform(0.1, 0.4)])
        phase[0] = "acquire"
        async with cond:
            tok = token()
            phase[0] = "hold"
            with section(tok):
                await asyncio.sleep(rng.choice([0.0, rng.uniform(0, 0.003)]))
            phase[0] = "wait"
            waiting.set()
            ok = await cond.wait_for(ready, timeout)
            tok = token()
            phase[0] = "hold again"
            with section(tok):
                if not ok:
                    phase[0] = "timed out"
                    return False
                item = fence("CONSUME", tok)
                if item == "-":  # nothing left, and nothing will come: all consumed
                    phase[0] = "finished"
                    return True
                phase[0] = "notify"
                if int(fence("GET", tok)) > 0:
                    await cond.notify()  # pass the baton: there is more
                elif fence("DONE", tok) == "1":
                    await cond.notify_all()  # the last one: everybody can go
                phase[0] = "consumed"
                await asyncio.sleep(rng.choice([0.0, rng.uniform(0, 0.003)]))
        return False

    async def under_cancellation(
        rng: random.Random,
        make: Callable[[random.Random, list[str], asyncio.Event], Awaitable[bool]],
    ) -> bool | None:
        """Run one round as a task under a random cancellation; its result, or None if it
        was cancelled (counted by the phase it was cancelled in)."""
        phase, waiting = ["start"], asyncio.Event()
        task = asyncio.ensure_future(make(rng, phase, waiting))
        how = rng.random()
        try:
            if how < 0.4:  # not cancelled
                await task
            elif how < 0.6:  # a timeout around the whole round
                await asyncio.wait_for(task, rng.uniform(0, 0.05))
            elif how < 0.8:  # cancelled at a random moment
                await asyncio.sleep(rng.uniform(0, 0.05))
                task.cancel()
                await task
            else:  # cancelled a random moment after it began to wait (if it does)
                reached = asyncio.ensure_future(waiting.wait())
                await asyncio.wait({task, reached}, return_when=asyncio.FIRST_COMPLETED)
                reached.cancel()
                await asyncio.sleep(rng.choice([0.0, rng.uniform(0, 0.03)]))
                task.cancel()
                await task
        except (asyncio.CancelledError, asyncio.TimeoutError):
            pass  # this round's end, not the runner's: the runner is never cancelled
        except Exception:
            pass  # recorded below
        if not task.done():
            await asyncio.wait({task})
        if task.cancelled():
            counts[f"cancelled in {phase[0]}"] += 1
            return None
        error = task.exception()
        if error is not None:
            unexpected.append("".join(traceback.format_exception(error)))
            return None
        counts[phase[0]] += 1
        return task.result()

    async def producer(j: int) -> None:
        rng = random.Random(f"{args.seed}-p{j}")  # one per task: the same choices every run
        for k in range(args.items):
            item = f"{args.id}/p{j}/{k}"
            while not await under_cancellation(
                rng, lambda rng, phase, waiting, item=item: produce(rng, phase, waiting, item)
            ):
                # Cancelled: produced or not? The fence knows (PRODUCE is one blocking call,
                # so it happened or it did not).
                if fence("PRODUCED", 0, item) == "1":
                    break

    async def consumer(j: int) -> None:
        rng = random.Random(f"{args.seed}-c{j}")
        while fence("DONE", 0) != "1":
            await under_cancellation(rng, consume)

    await asyncio.gather(
        *(producer(j) for j in range(args.producers)),
        *(consumer(j) for j in range(args.consumers)),
    )
    log("done", counts=dict(counts), unexpected=unexpected)


# --- main ----------------------------------------------------------------------------


MODES = {
    "party": party,
    "rounds": rounds,
    "signal-wait": signal_wait,
    "signal-fire": signal_fire,
    "condition": condition,
}


def make_client(args: argparse.Namespace) -> Any:
    if args.cluster:
        nodes = []
        for node in args.cluster.split(","):
            host, _, port = node.rpartition(":")
            nodes.append(ClusterNode(host, int(port)))
        return redis.asyncio.RedisCluster(startup_nodes=nodes)
    return redis.asyncio.Redis(port=args.port)


async def main(args: argparse.Namespace) -> None:
    async with session(args, Fence, functools.partial(make_client, args)) as (log, fence, client):
        await MODES[args.mode](args, client, fence, log)


def parse(argv: list[str]) -> argparse.Namespace:
    p = parser(sorted(MODES))
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cluster", default="")
    p.add_argument("--name", default="meet")
    p.add_argument("--lease", type=float, default=30.0)
    # party, rounds
    p.add_argument("--parties", type=int, default=2)
    p.add_argument("--first", action="store_true")
    p.add_argument("--resume", default=None)
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--proc", type=int, default=0)
    p.add_argument("--tasks", type=int, default=1)
    # signal-wait, signal-fire
    p.add_argument("--kind", choices=["event", "latch"], default="event")
    p.add_argument("--count", type=int, default=1)
    # condition
    p.add_argument("--producers", type=int, default=1)
    p.add_argument("--consumers", type=int, default=1)
    p.add_argument("--items", type=int, default=1)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
