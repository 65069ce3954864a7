"""Fault injection for aiosync.redis.Lock with several real OS processes.

Each worker (tests/redis/_workers.py, run with ``sys.executable``) is one process with its
own Redis client and its own ``Lock`` object, and reports what it saw as JSON lines in a
file. Faults are real: SIGSTOP/SIGCONT, SIGKILL, a restart of redis-server that loses all
its data, cancellations at random moments.

The fencing-checking resource is the ``Fence`` below: a TCP server in the test process,
outside Redis, that remembers the highest token it has seen and refuses (``STALE``) any
call with a lower one; it also keeps, in arrival order, every call it got, and which
tokens are inside (between ENTER and EXIT). The tests assert outcomes and their order,
never speed: where docs/redis.md promises a bound (a dead holder delays the queue by at
most a lease, a dead waiter by at most min(2 s, lease), each plus a re-check), the test
checks it with generous slack. Times are ``time.monotonic()``, one clock for all processes
on Linux. A worker that seems stuck is asked (SIGUSR1) for its tasks' await chains, which
the failure message shows with its log.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _processes
import pytest
import redis
import redis.asyncio
from _processes import PATIENCE, FenceServer, Worker, wait_until
from _server import RedisServer

import aiosync.redis as ar

WORKER = Path(__file__).with_name("_workers.py")
TAG = "{aiosync:job}"


# --- the fenced resource ---------------------------------------------------------------


@dataclass
class Call:
    op: str  # ENTER, WRITE, EXIT
    who: str
    token: int
    ok: bool


class Fence(FenceServer):
    """A resource protected by fencing tokens (see the module docstring)."""

    def __init__(self) -> None:
        self.highest = 0
        self.calls: list[Call] = []
        self.inside: dict[int, str] = {}  # token -> who, between ENTER and EXIT
        self.most_inside = 0
        super().__init__()

    def answer(self, op: str, who: str, args: list[str]) -> str:
        (token,) = args
        return "OK" if self.call(op, who, int(token)) else "STALE"

    def call(self, op: str, who: str, token: int) -> bool:
        with self._mutex:
            ok = token >= self.highest
            if op == "EXIT":
                ok = True
                self.inside.pop(token, None)
            elif ok:
                self.highest = token
                if op == "ENTER":
                    self.inside[token] = who
                    self.most_inside = max(self.most_inside, len(self.inside))
            self.calls.append(Call(op, who, token, ok))
            return ok

    def snapshot(self) -> list[Call]:
        with self._mutex:
            return list(self.calls)


@pytest.fixture
def fence() -> Iterator[Fence]:
    with Fence() as f:
        yield f


# --- worker processes -----------------------------------------------------------------


class Workers(_processes.Workers):
    """Starts workers (tests/redis/_workers.py) on ``server``; ``close()`` kills whatever
    is left (also stopped ones)."""

    def __init__(self, tmp: Path, server: RedisServer, fence: Fence) -> None:
        super().__init__(tmp, WORKER, ["--port", str(server.port)], fence)
        self.server = server

    def start(self, name: str, mode: str, *options: str, lease: float = 1.0) -> Worker:
        return super().start(name, mode, "--lease", str(lease), *options)


@pytest.fixture
def workers(tmp_path: Path, server: RedisServer, fence: Fence) -> Iterator[Workers]:
    with Workers(tmp_path, server, fence) as ws:
        yield ws


def queue_length(server: RedisServer) -> int:
    with redis.Redis(port=server.port) as r:
        return int(r.llen(f"{TAG}:queue"))


def redis_state(server: RedisServer) -> str:
    """Every key of the lock with its content, for a failure message."""
    lines = []
    with redis.Redis(port=server.port, decode_responses=True) as r:
        for key in sorted(r.keys(f"{TAG}:*")):
            kind = r.type(key)
            value: Any = {
                "string": r.get,
                "list": lambda k: r.lrange(k, 0, -1),
                "hash": r.hgetall,
                "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
            }.get(kind, lambda k: "?")(key)
            lines.append(f"{key} ({kind}, pttl {r.pttl(key)}): {value}")
        lines.append(f"server TIME: {r.time()}")
    return "\n".join(lines)


def fence_order(fence: Fence, names: set[str]) -> list[str]:
    """The order in which the workers ``names`` were inside the fence (ENTER to EXIT, both
    sent inside ``async with``), asserting that no two of them ever were at once. (Log
    times cannot tell: a waiter handed the lock may log "acquired" before the releasing
    process logs "released".)"""
    calls = fence.snapshot()
    inside, order = None, []
    for i, c in enumerate(calls):
        if c.who not in names:
            continue
        if c.op == "ENTER":
            assert inside is None, f"{c.who} entered while {inside} was inside: {calls[: i + 1]}"
            inside = c.who
            order.append(c.who)
        elif c.op == "EXIT":
            assert inside == c.who, calls[: i + 1]
            inside = None
    return order


def queue_in_order(workers: Workers, names: list[str], *options: str) -> list[Worker]:
    """Start waiters one after the other, each once the previous one is queued."""
    started = []
    for i, name in enumerate(names):
        started.append(workers.start(name, "hold", *options))
        wait_until(f"{name} queued", lambda n=i + 1: queue_length(workers.server) >= n)
    return started


# --- the tests -------------------------------------------------------------------------


def test_sigstopped_holder_is_fenced_off_and_told_on_resuming(
    workers: Workers, fence: Fence
) -> None:
    """A holder frozen (SIGSTOP) past its 1 s lease: another process gets the lock with a
    larger token; the frozen one, thawed, writes with its old token and is refused by the
    fence, and gets LockLostError out of ``async with``."""
    old = workers.start("old", "hold", "--hold", "60")
    t_old = old.wait_for("acquired")["token"]
    new = queue_in_order(workers, ["new"], "--hold", "0.2")[0]
    old.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    got = new.wait_for("released")  # granted once the frozen hold's lease ran out
    new_token = got["token"]
    assert new_token > t_old
    assert new.of("acquired")[0]["t"] > stopped
    old.signal(signal.SIGCONT)
    lost = old.wait_for("lost")
    old.wait_exit()
    new.wait_exit()

    reports = old.report() + new.report()
    assert lost["error"] == "LockLostError", reports
    assert "lost while held" in lost["message"], reports
    assert not old.of("released"), reports
    # The old holder's calls: accepted before the freeze, refused after the thaw, and it
    # did write after the thaw (at least its last write on the way out).
    calls = old.of("call")
    assert all(c["ok"] for c in calls if c["t"] < stopped), reports
    after = [c for c in calls if c["t"] > got["t"]]
    assert any(not c["ok"] for c in after), reports
    # A call in flight when the process froze is answered before and logged after the
    # thaw: it may be accepted (the fence's own record below is the judge), but only it.
    assert all(not c["ok"] for c in after[1:]), reports
    assert all(c["ok"] for c in new.of("call")), reports
    # The fence's own record: once the new token was accepted, never the old one again.
    record = fence.snapshot()
    first_new = next(i for i, c in enumerate(record) if c.token == new_token)
    assert record[first_new].ok, record
    stale = [c for c in record[first_new:] if c.token == t_old and c.op != "EXIT"]
    assert stale, record
    assert not any(c.ok for c in stale), record


def test_killed_holder_hands_over_within_a_lease(workers: Workers, fence: Fence) -> None:
    """kill -9 of the holder: the first waiter (another process) gets the lock once the
    dead hold's lease (1 s) ran out, plus a re-check; then the next; tokens increase."""
    lease = 1.0
    holder = workers.start("holder", "hold", "--hold", "60")
    t0 = holder.wait_for("acquired")["token"]
    first, second = queue_in_order(workers, ["first", "second"], "--hold", "0.1")
    holder.proc.kill()
    killed = time.monotonic()
    holder.proc.wait(PATIENCE)
    a = first.wait_for("acquired")
    first.wait_for("released")
    b = second.wait_for("acquired")
    first.wait_exit()
    second.wait_exit()

    reports = holder.report() + first.report() + second.report()
    assert t0 < a["token"] < b["token"], reports
    assert killed < a["t"] < b["t"], reports
    # docs/redis.md: the hold expires a lease after its last renewal; the waiter re-checks
    # at most a third of a lease later. Generous slack on top.
    assert a["t"] - killed < lease + lease / 3 + 2.0, reports
    assert fence_order(fence, {"first", "second"}) == ["first", "second"], reports
    assert all(call.ok for call in fence.snapshot()), reports


def test_redis_restart_under_load(workers: Workers, fence: Fence, server: RedisServer) -> None:
    """redis-server restarts twice (all data lost each time) while three processes loop on
    the lock (ENTER, WRITE, WRITE, EXIT at the fence in each hold). At the first restart a
    fourth process holds the lock for certain (the loopers are queued behind it); the
    second comes at a random moment of the loopers' rounds.

    * the holder across the first restart learns of the loss (LockLostError);
    * whenever two holds overlap at the fence, the one with the lower token learns that
      its hold was lost; a round that ended normally never had a fence call refused, and
      only holders that lost their hold are ever refused;
    * a hold granted before a restart and still running well after it never ends as a
      normal release;
    * tokens granted after each restart are larger than those granted before it;
    * every process goes on making rounds after each restart; Redis errors are only
      connection errors, only around the restarts; nothing unexpected is raised.
    """
    until = workers.tmp / "stop"
    loopers = [
        workers.start(f"loop{i}", "loop", "--until", str(until), "--seed", str(i)) for i in range(3)
    ]
    restarts: list[tuple[float, float]] = []  # (began, ended)
    #: After a restart ended, a grant logged this late came from the new server.
    settle = 1.0

    def released_rounds(w: Worker, since: float = 0.0) -> list[dict[str, Any]]:
        return [e for e in w.of("round") if e["outcome"] == "released" and e["acquired"] > since]

    def restart_and_go_on() -> None:
        began = time.monotonic()
        server.restart()
        restarts.append((began, time.monotonic()))
        since = restarts[-1][1] + settle
        for w in loopers:
            wait_until(
                f"{w.name} made rounds after restart {len(restarts)}",
                lambda w=w: len(released_rounds(w, since)) >= 5,
            )

    try:
        for w in loopers:
            wait_until(f"{w.name} made rounds", lambda w=w: len(released_rounds(w)) >= 5)
        # A holder of the time for certain: it holds until the file exists.
        held = workers.start("held", "hold", "--until", str(until))
        t_held = held.wait_for("acquired")
        wait_until("the loopers queued behind it", lambda: queue_length(server) >= 3)
        restart_and_go_on()
        lost = held.wait_for("lost")
        restart_and_go_on()  # under the loopers' load only
    finally:
        until.touch()
    everyone = [*loopers, held]
    for w in everyone:
        w.wait_exit()
    reports = "\n".join(w.report() for w in everyone)

    assert lost["error"] == "LockLostError", reports
    assert not held.of("released"), reports
    assert t_held["t"] < restarts[0][0] < lost["t"], reports
    rounds = [e for w in loopers for e in w.of("round")]
    assert not [e for w in loopers for e in w.of("unexpected")], reports
    # Redis errors only around a restart, and of the expected kinds.
    for e in [e for w in loopers for e in w.of("error")]:
        assert e["error"] in ("ConnectionError", "TimeoutError"), reports
        assert any(b <= e["t"] < x + settle + 2.0 for b, x in restarts), reports

    outcome = {e["token"]: e["outcome"] for e in rounds}
    outcome[t_held["token"]] = "lost"
    assert len(outcome) == len(rounds) + 1, reports  # every grant's token is unique
    calls = fence.snapshot()

    def around(token: int) -> str:
        """The fence's record around ``token``'s calls, for a failure message."""
        at = [i for i, c in enumerate(calls) if c.token == token]
        lines = [
            f"{i}: {c.op} {c.who} {c.token} {'OK' if c.ok else 'STALE'} ({outcome.get(c.token)})"
            for i, c in enumerate(calls)
            if at and at[0] - 6 <= i <= at[-1] + 6
        ]
        return "\n".join(lines) + "\n" + reports

    # Rounds that ended normally: every fence call accepted.
    for e in rounds:
        if e["outcome"] == "released":
            assert not e["refused"], around(e["token"])
    # Overlaps at the fence (two tokens between ENTER and EXIT): the lower one learned
    # that its hold was lost.
    inside: set[int] = set()
    overlaps = []
    for c in calls:
        if c.op == "ENTER":
            overlaps.extend((t, c.token) for t in inside)
            inside.add(c.token)
        elif c.op == "EXIT":
            inside.discard(c.token)
    for older, newer in overlaps:
        assert older < newer, around(older)
        assert outcome.get(older) == "lost", around(older)
    # Refused calls: only from holders that lost their hold.
    for c in calls:
        if not c.ok:
            assert outcome.get(c.token) == "lost", around(c.token)
    # Tokens: every grant before a restart is below every grant after it.
    for began, ended in restarts:
        before = [e["token"] for e in rounds if e["acquired"] < began]
        after = [e["token"] for e in rounds if e["acquired"] > ended + settle]
        if began == restarts[0][0]:
            before.append(t_held["token"])
        assert before and after, reports
        assert max(before) < min(after), reports
    # Which server granted each token: a restarted counter starts from the server's clock
    # in microseconds (docs/redis.md), seconds above the last one, while a server's own
    # grants are consecutive; so the tokens fall into one run per server.
    tokens = sorted(outcome)
    era = {tokens[0]: 0}
    for low, high in itertools.pairwise(tokens):
        era[high] = era[low] + (high - low > 100_000)
    assert era[tokens[-1]] == len(restarts), reports
    # A hold of the old server whose round ended well after the restart cannot have ended
    # as a normal release: the new server does not know it.
    for k, (_, ended) in enumerate(restarts):
        for e in rounds:
            if era[e["token"]] == k and e["t"] > ended + 0.5:
                assert e["outcome"] != "released", around(e["token"])


def test_random_cancellations_leave_the_lock_clean(
    workers: Workers, fence: Fence, server: RedisServer
) -> None:
    """Three processes, five tasks each, 60 rounds per task: acquire with a random timeout
    (None, 0, a few ms), hold briefly, release; each round under a random cancellation
    (none, asyncio.wait_for, task.cancel() after a random delay), landing in acquire, in
    the hold or in release. Throughout: never two holders inside the fence, never a call
    refused. Afterwards: nothing held, nothing queued, a fresh acquire succeeds at once."""
    procs = [
        workers.start(
            f"cancel{i}", "cancel", "--tasks", "5", "--rounds", "60", "--seed", str(i),
            lease=5.0,
        )
        for i in range(3)
    ]  # fmt: skip
    try:
        done = [w.wait_for("done", 45.0) for w in procs]
    except AssertionError as e:
        others = "\n".join(w.report() for w in procs)
        state = redis_state(server)
        raise AssertionError(f"{e}\n--- all of them:\n{others}\n--- Redis:\n{state}") from None
    for w in procs:
        w.wait_exit()
    reports = "\n".join(w.report() for w in procs)

    assert all(not d["unexpected"] for d in done), reports
    counts: dict[str, int] = {}
    for d in done:
        for k, v in d["counts"].items():
            counts[k] = counts.get(k, 0) + v
    assert "refused" not in counts, counts
    # The cancellations did land in acquire, in the hold and in release; rounds went
    # through too.
    for phase in ("acquire", "hold", "release"):
        assert counts.get(f"cancelled in {phase}", 0) > 0, counts
    assert counts.get("released", 0) > 0, counts

    calls = fence.snapshot()
    assert fence.most_inside == 1
    assert not fence.inside
    assert all(c.ok for c in calls)
    enters = [c.token for c in calls if c.op == "ENTER"]
    assert enters == sorted(enters) and len(set(enters)) == len(enters)

    # No holder and no queue entry left in Redis (docs/redis.md, Keys): the holder key
    # ("holder", or "holders" since the permits engine) is gone, queue and alive are empty.
    with redis.Redis(port=server.port, decode_responses=True) as r:
        left = {k: r.type(k) for k in r.keys(f"{TAG}:*")}
        assert f"{TAG}:holder" not in left and f"{TAG}:holders" not in left, left
        assert r.llen(f"{TAG}:queue") == 0, r.lrange(f"{TAG}:queue", 0, -1)
        assert r.hlen(f"{TAG}:alive") == 0, r.hgetall(f"{TAG}:alive")

    async def fresh() -> bool:
        client = redis.asyncio.Redis(port=server.port)
        lock = ar.Lock(client, "job", lease=5.0)
        try:
            assert not await lock.locked()
            if not await lock.acquire(timeout=1.0):
                return False
            await lock.release()
            return True
        finally:
            await client.aclose()

    t0 = time.monotonic()
    assert asyncio.run(fresh())
    assert time.monotonic() - t0 < 2.0


def test_killed_waiter_delays_the_queue_by_a_bounded_time(workers: Workers, fence: Fence) -> None:
    """kill -9 of the first waiter while queued: when the holder releases, the queue waits
    for the dead waiter (docs/redis.md, Dead processes: at most min(2 s, lease), then a
    re-check), then serves the remaining waiters in FIFO order."""
    lease = 1.0
    until = workers.tmp / "release"
    holder = workers.start("holder", "hold", "--until", str(until))
    holder.wait_for("acquired")
    dead, b, c = queue_in_order(workers, ["dead", "b", "c"], "--hold", "0.1")
    dead.proc.kill()
    dead.proc.wait(PATIENCE)
    until.touch()
    released = holder.wait_for("released")
    got_b, got_c = b.wait_for("acquired"), c.wait_for("acquired")
    for w in (holder, b, c):
        w.wait_exit()

    reports = "\n".join(w.report() for w in (holder, dead, b, c))
    assert not dead.of("acquired"), reports
    # FIFO: b was queued before c, so b is served first, and c only after b released.
    assert released["t"] < got_b["t"] < got_c["t"], (
        f"not FIFO: released at {released['t']:.3f}, b (queued before c) acquired at "
        f"{got_b['t']:.3f} token {got_b['token']}, c at {got_c['t']:.3f} token "
        f"{got_c['token']}\n{reports}"
    )
    assert released["token"] < got_b["token"] < got_c["token"], reports
    assert fence_order(fence, {"holder", "b", "c"}) == ["holder", "b", "c"], reports
    # docs/redis.md, Dead processes: at most min(2 s, lease); plus a re-check, and slack.
    assert got_b["t"] - released["t"] < min(2.0, lease) + lease / 3 + 2.0, reports
    assert all(call.ok for call in fence.snapshot())
