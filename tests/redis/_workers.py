"""A worker process for tests/redis/test_faults.py: one OS process with its own Redis client,
using one ``aiosync.redis.Lock``, reporting what happened as JSON lines in a file.

    python _workers.py MODE --port P --fence F --log FILE --id NAME [options]

The log (JSON lines), the fence client and the SIGUSR1 stack dump are
tests/redis/_worker_common.py's. The fence is the test's fencing-checking resource: a line
``OP WHO TOKEN`` (OP one of ENTER, WRITE, EXIT) is answered ``OK``, or ``STALE`` when a
higher token was seen before.

Modes:

``hold``    take the lock (``async with``), ENTER the fence, WRITE every ``--every``
            seconds until ``--hold`` seconds passed or the file ``--until`` exists, EXIT,
            leave the block. Cancelled inside the block (the hold was lost), it makes one
            last WRITE first, as a stale holder flushing on its way out would. Logs
            ``acquired``, each fence ``call``, then ``released`` or ``lost``
            (LockLostError out of the block).
``loop``    until the file ``--until`` exists: rounds of ``async with lock``: ENTER, two
            WRITEs a few ms apart, EXIT; one ``round`` line per round (token, outcome
            ``released``/``lost``/``error``, refused fence calls); an ``error`` line for
            a Redis error outside a hold (Redis restarting).
``cancel``  ``--tasks`` tasks each run ``--rounds`` rounds (acquire with a random timeout,
            ENTER, a short hold, EXIT, release), each round under a random cancellation
            (none, ``asyncio.wait_for``, ``task.cancel()`` after a random delay, or a random
            delay after the grant, or a few loop turns into the release). Logs
            ``done`` with counts: where cancellations landed (acquire, hold, release),
            how rounds ended otherwise, refused fence calls, unexpected errors.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import os
import random
import sys
import time
import traceback

import redis.asyncio
from _worker_common import FenceClient, Log, parser, session
from redis.exceptions import RedisError

import aiosync.redis as ar


class Fence(FenceClient):
    """The test's fence (see the module docstring): was the call accepted?"""

    def __call__(self, op: str, token: int) -> bool:
        answer = self.ask(op, self.who, token)
        if answer not in ("OK", "STALE"):
            raise RuntimeError(f"the fence answered {answer!r}")
        return answer == "OK"


def until(path: str | None) -> bool:
    return path is not None and os.path.exists(path)


async def hold(args: argparse.Namespace, lock: ar.Lock, fence: Fence, log: Log) -> None:
    token = None
    try:
        async with lock:
            token = lock.token
            assert token is not None
            log("acquired", token=token)
            end = time.monotonic() + args.hold
            try:
                log("call", op="ENTER", token=token, ok=fence("ENTER", token))
                while time.monotonic() < end and not until(args.until):
                    await asyncio.sleep(args.every)
                    log("call", op="WRITE", token=token, ok=fence("WRITE", token))
            except asyncio.CancelledError:
                log("call", op="WRITE", token=token, ok=fence("WRITE", token), last=True)
                raise
            finally:
                fence("EXIT", token)
    except ar.LockLostError as e:
        log("lost", token=token, error=type(e).__name__, message=str(e))
    else:
        log("released", token=token)


async def loop(args: argparse.Namespace, lock: ar.Lock, fence: Fence, log: Log) -> None:
    rng = random.Random(args.seed)
    while not until(args.until):
        token = None
        refused = []
        acquired = 0.0
        try:
            async with lock:
                token = lock.token
                assert token is not None
                acquired = time.monotonic()
                try:
                    if not fence("ENTER", token):
                        refused.append("ENTER")
                    for _ in range(2):
                        await asyncio.sleep(rng.uniform(0.003, 0.015))
                        if not fence("WRITE", token):
                            refused.append("WRITE")
                finally:
                    fence("EXIT", token)
        except ar.LockLostError as e:
            log(
                "round",
                token=token,
                acquired=acquired,
                outcome="lost",
                refused=refused,
                message=str(e),
            )
        except (RedisError, OSError) as e:
            if token is None:  # acquire failed: nothing was held
                log("error", error=type(e).__name__, message=str(e))
            else:  # the release failed: the holder does not know whether it was lost
                log(
                    "round",
                    token=token,
                    acquired=acquired,
                    outcome="error",
                    refused=refused,
                    error=type(e).__name__,
                    message=str(e),
                )
            await asyncio.sleep(0.05)
            continue
        except Exception as e:
            log(
                "unexpected",
                token=token,
                error=type(e).__name__,
                message=str(e),
                traceback=traceback.format_exc(),
            )
            await asyncio.sleep(0.05)
            continue
        else:
            log("round", token=token, acquired=acquired, outcome="released", refused=refused)
        await asyncio.sleep(rng.uniform(0, 0.005))


async def cancel(args: argparse.Namespace, lock: ar.Lock, fence: Fence, log: Log) -> None:
    rng = random.Random(args.seed)
    counts: collections.Counter[str] = collections.Counter()
    unexpected: list[str] = []

    async def one_round(phase: list[str], reached: dict[str, asyncio.Event]) -> None:
        timeout = rng.choice([None, 0, rng.uniform(0.001, 0.03)])
        phase[0] = "acquire"
        if not await lock.acquire(timeout=timeout):
            phase[0] = "timed out"
            return
        token = lock.token
        assert token is not None
        phase[0] = "hold"
        reached["hold"].set()
        try:
            if not fence("ENTER", token):
                counts["refused"] += 1
            await asyncio.sleep(rng.uniform(0, 0.003))
        except asyncio.CancelledError:
            fence("EXIT", token)
            await lock.release()  # runs to completion: the phase stays "hold"
            raise
        fence("EXIT", token)
        phase[0] = "release"
        reached["release"].set()
        await lock.release()
        phase[0] = "released"

    async def cancel_once(task: asyncio.Task[None], event: asyncio.Event, delay: float) -> None:
        """Cancel ``task`` ``delay`` seconds after ``event`` (if it is still running); 0
        means after a few turns of the loop."""
        waiting = asyncio.create_task(event.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if delay:
            await asyncio.sleep(delay)
        else:
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
        task.cancel()

    async def runner() -> None:
        for _ in range(args.rounds):
            phase = ["start"]
            reached = {"hold": asyncio.Event(), "release": asyncio.Event()}
            task = asyncio.create_task(one_round(phase, reached))
            how = rng.random()
            try:
                if how < 0.15:  # not cancelled
                    await task
                elif how < 0.45:  # a timeout around the whole round
                    await asyncio.wait_for(task, rng.uniform(0, 0.02))
                elif how < 0.7:  # cancelled at a random moment
                    await asyncio.sleep(rng.uniform(0, 0.02))
                    task.cancel()
                    await task
                elif how < 0.85:  # cancelled a little after the grant
                    await cancel_once(task, reached["hold"], rng.uniform(0, 0.004))
                    await task
                else:  # cancelled while releasing
                    await cancel_once(task, reached["release"], 0)
                    await task
            except (asyncio.CancelledError, asyncio.TimeoutError):
                pass  # the runner itself is never cancelled: this is the round's end
            except Exception:
                pass  # the round's error: recorded below
            if not task.done():  # (wait_for and await leave it done; to be sure)
                await asyncio.wait({task})
            # A round cancelled while finishing (wait_for since 3.12 raises TimeoutError
            # then) ran to its end: it counts where it ended.
            if task.cancelled():
                counts[f"cancelled in {phase[0]}"] += 1
            elif task.exception() is not None:
                e = task.exception()
                unexpected.append(
                    f"{type(e).__name__}: {e}\n{''.join(traceback.format_exception(e))}"
                )
            else:
                counts[phase[0]] += 1

    await asyncio.gather(*(runner() for _ in range(args.tasks)))
    log("done", counts=dict(counts), unexpected=unexpected)


MODES = {"hold": hold, "loop": loop, "cancel": cancel}


async def main(args: argparse.Namespace) -> None:
    make_client = functools.partial(redis.asyncio.Redis, port=args.port)
    async with session(args, Fence, make_client) as (log, fence, client):
        lock = ar.Lock(client, args.name, lease=args.lease)
        await MODES[args.mode](args, lock, fence, log)


def parse(argv: list[str]) -> argparse.Namespace:
    p = parser(list(MODES))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="job")
    p.add_argument("--lease", type=float, default=1.0)
    p.add_argument("--hold", type=float, default=60.0)
    p.add_argument("--every", type=float, default=0.05)
    p.add_argument("--until", default=None)
    p.add_argument("--tasks", type=int, default=4)
    p.add_argument("--rounds", type=int, default=50)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
