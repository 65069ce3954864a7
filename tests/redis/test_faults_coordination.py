"""Faults and random schedules for aiosync.redis's coordination primitives (Barrier, Event,
CountdownLatch, Condition), with several real OS processes.

Each worker (tests/redis/_coordination_workers.py, run with ``sys.executable``) is one
process with its own Redis client and its own primitive objects, and reports what it saw
as JSON lines in a file. Faults are real: SIGKILL, a restart of redis-server that loses all
its data, cancellations and timeouts at random (seeded) moments.

The ``Fence`` below is a resource outside Redis, a TCP server in this process: it checks
mutual exclusion by fencing token (never two sections inside at once, tokens only grow),
keeps the shared item count of the Condition test (never below zero, every item consumed
once), and coordinates the reset of a broken Barrier round. The tests assert outcomes and
their order, never speed: where the code promises a bound (a dead barrier party breaks the
barrier within its lease; a waiter re-checks at once after a pub/sub reconnection, where
it would otherwise wait 10 s), the test checks it with generous slack. Times are
``time.monotonic()``, one clock for all processes on Linux. A worker that seems stuck is
asked (SIGUSR1) for its tasks' await chains, which the failure message shows with its log.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _processes
import pytest
import redis.asyncio
from _coordination_workers import BREAK_TIMEOUT, barrier_schedule
from _processes import PATIENCE, FenceServer, redis_options, wait_until
from _server import RedisServer
from _util import key

import aiosync.redis as ar
from conftest import Deployment

WORKER = Path(__file__).with_name("_coordination_workers.py")


# --- the fence -------------------------------------------------------------------------


class Fence(FenceServer):
    """The resource outside Redis (see the module docstring). ``violations`` lists every
    broken rule, with the call that broke it; ``total`` is how many items the Condition
    test's producers put in all."""

    def __init__(self, total: int = 0) -> None:
        self.total = total
        self.violations: list[str] = []
        self.calls = 0
        self.record: list[tuple[float, str]] = []  # (time.monotonic(), the call)
        # mutual exclusion
        self.highest = 0
        self.inside: dict[int, str] = {}  # token -> who, between ENTER and EXIT
        self.most_inside = 0
        # the shared items
        self.items: collections.deque[str] = collections.deque()
        self.produced: list[str] = []
        self.consumed: list[tuple[str, str]] = []  # (item, who)
        # barrier rounds
        self.broke: collections.Counter[int] = collections.Counter()
        self.was_reset: set[int] = set()
        super().__init__()

    def _violation(self, what: str, op: str, who: str, args: list[str]) -> None:
        self.violations.append(f"call {self.calls}: {op} {who} {' '.join(args)}: {what}")

    def answer(self, op: str, who: str, args: list[str]) -> str:
        with self._mutex:
            self.calls += 1
            self.record.append((time.monotonic(), f"{op} {who} {' '.join(args)}"))
            if op in ("ENTER", "EXIT", "GET", "PRODUCE", "CONSUME"):
                token = int(args[0])
                if op == "ENTER":
                    if token < self.highest:
                        self._violation(f"stale token (highest {self.highest})", op, who, args)
                    if self.inside:
                        self._violation(f"while {self.inside} inside", op, who, args)
                    self.highest = max(self.highest, token)
                    self.inside[token] = who
                    self.most_inside = max(self.most_inside, len(self.inside))
                    return "OK"
                if self.inside.get(token) != who:
                    self._violation(f"not inside (inside: {self.inside})", op, who, args)
                if op == "EXIT":
                    self.inside.pop(token, None)
                    return "OK"
                if op == "GET":
                    return str(len(self.items))
                if op == "PRODUCE":
                    self.items.append(args[1])
                    self.produced.append(args[1])
                    return "OK"
                # CONSUME
                if not self.items:
                    if len(self.consumed) < self.total:
                        self._violation("no item to consume", op, who, args)
                    return "-"
                item = self.items.popleft()
                self.consumed.append((item, who))
                return item
            if op == "DONE":
                return "1" if len(self.consumed) >= self.total else "0"
            if op == "PRODUCED":
                return "1" if args[1] in self.produced else "0"
            if op == "BROKE":
                self.broke[int(args[0])] += 1
                return "OK"
            if op == "BROKEN":
                return str(self.broke[int(args[0])])
            if op == "RESET":
                self.was_reset.add(int(args[0]))
                return "OK"
            if op == "WAS_RESET":
                return "1" if int(args[0]) in self.was_reset else "0"
            raise ValueError(f"unknown op {op!r}")


# --- worker processes ------------------------------------------------------------------


class Workers(_processes.Workers):
    """Starts workers (tests/redis/_coordination_workers.py) on one deployment; ``close()``
    kills whatever is left."""

    def __init__(self, tmp: Path, target: RedisServer | Any, fence: Fence) -> None:
        super().__init__(tmp, WORKER, redis_options(target), fence)
        self.fence: Fence = fence


@pytest.fixture
def coordination_fence() -> Iterator[Fence]:
    with Fence() as f:
        yield f


@pytest.fixture
def standalone_workers(
    tmp_path: Path, server: RedisServer, coordination_fence: Fence
) -> Iterator[Workers]:
    with Workers(tmp_path, server, coordination_fence) as ws:
        yield ws


@pytest.fixture
def deployment_workers(
    tmp_path: Path, deployment: Deployment, coordination_fence: Fence
) -> Iterator[Workers]:
    with Workers(tmp_path, deployment.target, coordination_fence) as ws:
        yield ws


def redis_state(inspect: Any, *names: str) -> str:
    """Every key of the primitives ``names`` with its content, for a failure message."""
    lines = []
    for name in names:
        for part in ("meta", "queue", "alive", "indices", "notified", "waiters", "holders"):
            k = key(name, part)
            kind = inspect.type(k)
            value: Any = {
                "list": lambda k: inspect.lrange(k, 0, -1),
                "hash": inspect.hgetall,
                "zset": lambda k: inspect.zrange(k, 0, -1, withscores=True),
            }.get(kind, lambda k: None)(k)
            if value is not None:
                lines.append(f"{k} ({kind}, pttl {inspect.pttl(k)}): {value}")
    return "\n".join(lines)


def in_new_loop(make: Callable[[], Any]) -> Any:
    return asyncio.run(asyncio.wait_for(make(), PATIENCE))


# --- 1. a Barrier party killed while waiting --------------------------------------------


def test_killed_barrier_party_breaks_the_barrier_within_its_lease(
    deployment: Deployment, deployment_workers: Workers
) -> None:
    """Parties of one Barrier of 4 in separate processes: the victim, then a and b arrive
    and wait; kill -9 of the victim: a and b get BrokenBarrierError once the victim's
    lease (1 s) ran out, plus at most a re-check (lease/3), not before (its last renewal
    was at most lease/3 before the kill). Then ``reset()`` from another client: a, b and
    two new processes meet for three rounds, each with the indices 0..3."""
    workers, inspect = deployment_workers, deployment.inspect()
    lease, parties = 1.0, 4
    resume = workers.tmp / "resume"
    options = ["--parties", str(parties), "--lease", str(lease)]

    def waiting() -> int:
        return int(inspect.llen(key("meet", "queue")))

    def reports() -> str:
        return workers.reports() + "\n--- Redis:\n" + redis_state(inspect, "meet")

    victim = workers.start("victim", "party", *options, "--first")
    wait_until("the victim waits", lambda: waiting() == 1)
    a = workers.start("a", "party", *options, "--first", "--resume", str(resume), "--rounds", "3")
    wait_until("a waits", lambda: waiting() == 2)
    b = workers.start("b", "party", *options, "--first", "--resume", str(resume), "--rounds", "3")
    wait_until("b waits", lambda: waiting() == 3)
    time.sleep(lease / 2)  # the victim renews its lease meanwhile: alive, it breaks nothing
    assert waiting() == 3 and not a.of("broken") and not b.of("broken"), reports()
    victim.proc.kill()
    killed = time.monotonic()
    victim.proc.wait(PATIENCE)
    broken = [w.wait_for("broken") for w in (a, b)]
    assert not victim.of("passed") and not victim.of("broken"), reports()
    for e in broken:
        assert e["round"] == "first", reports()
        # The victim renewed at most lease/3 before the kill, so its lease ended at least
        # 2/3 of a lease after it; then a party's re-check (at most lease/3 later) breaks
        # the barrier and tells everyone at once. Slack for 4 processes on few CPUs.
        assert lease / 2 < e["t"] - killed < lease + lease / 3 + 1.5, (e["t"] - killed, reports())
    assert waiting() == 0, reports()

    async def reset() -> None:
        client = deployment.client()
        try:
            barrier = ar.Barrier(client, "meet", parties, lease=lease)
            assert await barrier.broken()
            with pytest.raises(ar.BrokenBarrierError):
                await barrier.wait()  # broken until reset
            await barrier.reset()
            assert not await barrier.broken()
            assert await barrier.n_waiting() == 0
        finally:
            await client.aclose()

    in_new_loop(reset)
    resume.touch()
    c = workers.start("c", "party", *options, "--rounds", "3")
    d = workers.start("d", "party", *options, "--rounds", "3")
    everyone = (a, b, c, d)
    for w in everyone:
        w.wait_exit()
    assert not [e for w in everyone for e in w.of("broken") if e["round"] != "first"], reports()
    for r in range(3):
        indices = [e["index"] for w in everyone for e in w.of("passed") if e["round"] == r]
        assert sorted(indices) == list(range(parties)), (r, reports())
    assert waiting() == 0 and inspect.hlen(key("meet", "alive")) == 0, reports()


# --- 2. Redis restarted under waiting Event / CountdownLatch waiters ---------------------


@pytest.mark.parametrize("kind", ["event", "latch"])
def test_signal_waiters_survive_a_redis_restart(
    kind: str, server: RedisServer, standalone_workers: Workers
) -> None:
    """Three processes, two waiting tasks each, wait on an Event (or a CountdownLatch of
    2); redis-server restarts, losing everything (the waiters' registrations too). The
    waiters notice the pub/sub connection drop and ask again at once (docs: a re-check
    after a pub/sub reconnection): the same 6 waits are registered on the new server and
    the same 3 sessions subscribed again, well before the periodic re-check (10 s). None
    is woken by the restart. Then ``set()`` (or two ``count_down()`` calls) from other
    processes wakes every waiter, pushed, each exactly once, none before the last call."""
    workers = standalone_workers
    options = ["--name", "go", "--kind", kind, "--count", "2"]
    inspect = redis.Redis(port=server.port, decode_responses=True)
    waiters_key = key("go", "waiters")

    def registered() -> set[str]:
        try:
            return set(inspect.zrange(waiters_key, 0, -1))
        except redis.ConnectionError:
            return set()

    def subscribed() -> set[str]:
        try:
            return set(inspect.pubsub_channels("aiosync:wake:*"))
        except redis.ConnectionError:
            return set()

    def woken() -> list[dict[str, Any]]:
        return [e for w in procs for e in w.of("woken")]

    try:
        procs = [workers.start(f"w{i}", "signal-wait", *options, "--tasks", "2") for i in range(3)]
        wait_until("6 waiters registered", lambda: len(registered()) == 6)
        wait_until("3 sessions subscribed", lambda: len(subscribed()) == 3)
        waits, sessions = registered(), subscribed()
        server.restart()
        restarted = time.monotonic()
        back = wait_until("the same 6 waits registered again", lambda: registered() == waits)
        again = wait_until("the 3 sessions subscribed again", lambda: subscribed() == sessions)
        # At once, not at the 10 s periodic re-check (docs/redis.md: after a pub/sub
        # reconnection every waiter re-checks at once); 5 s of slack.
        assert back - restarted < 5.0 and again - restarted < 5.0, workers.reports()
        assert not woken(), workers.reports()

        fires = 1 if kind == "event" else 2
        firing = []
        for i in range(fires):
            f = workers.start(f"fire{i}", "signal-fire", *options)
            f.wait_exit()
            firing.append(f.of("firing")[0]["t"])
            if i < fires - 1:
                time.sleep(0.2)  # a waiter woken too early would have logged it by now
                assert not woken(), workers.reports()
        for w in procs:
            w.wait_exit()
        events = woken()
        assert len(events) == 6 and all(e["result"] is True for e in events), workers.reports()
        for w in procs:  # each task of each process, exactly once
            assert sorted(e["task"] for e in w.of("woken")) == [0, 1], workers.reports()
        for e in events:
            # Woken by the last call, pushed: not before it, and not by the 10 s re-check.
            assert firing[-1] < e["t"] < firing[-1] + 5.0, workers.reports()
        assert inspect.zcard(waiters_key) == 0, workers.reports()
    finally:
        inspect.close()

    async def check() -> None:
        client = redis.asyncio.Redis(port=server.port)
        try:
            if kind == "event":
                assert await ar.Event(client, "go").is_set()
            else:
                assert await ar.CountdownLatch(client, "go", 2).count() == 0
        finally:
            await client.aclose()

    in_new_loop(check)


# --- 3. Condition: producers and consumers in several processes -------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_condition_producers_consumers_across_processes_random_schedules(
    seed: int, deployment: Deployment, tmp_path: Path
) -> None:
    """Three processes, each with 2 producer and 3 consumer tasks on one Condition: a
    producer puts an item (at the fence) under the lock and notifies one waiter, or all;
    a consumer waits with ``wait_for(items > 0 or all consumed)`` under a random timeout
    (None, 0, a few ms, a few hundred ms), takes one item and passes the baton if more are
    left. Every round of every task runs under a random cancellation (none, wait_for
    around the round, cancel() after a random delay, cancel() a random delay after it
    began to wait). Throughout (the fence): never two tasks inside the lock at once,
    fencing tokens only grow, never an item taken when there is none. At the end: every
    item produced was consumed exactly once; no waiter left in the condition's
    ``queue``/``alive``/``notified``, nothing held or queued on its lock; consumers did
    wait, cancellations did land in ``wait`` and timeouts did expire."""
    procs, producers, consumers, items = 3, 2, 3, 10
    total = procs * producers * items
    inspect = deployment.inspect()
    fence = Fence(total)
    workers = Workers(tmp_path, deployment.target, fence)

    def reports() -> str:
        return (
            f"{workers.reports()}\n--- fence: violations {fence.violations}, items "
            f"{list(fence.items)}, consumed {len(fence.consumed)} of {total}, inside "
            f"{fence.inside}\n--- the fence's last calls:\n"
            + "\n".join(f"{t:.4f} {call}" for t, call in fence.record[-40:])
            + f"\n--- Redis:\n{redis_state(inspect, 'cv', 'cv:lock')}"
        )

    try:
        started = [
            workers.start(
                f"cv{i}", "condition", "--name", "cv", "--seed", str(seed * 100 + i),
                "--producers", str(producers), "--consumers", str(consumers),
                "--items", str(items),
            )
            for i in range(procs)
        ]  # fmt: skip
        try:
            done = [w.wait_for("done", 25.0) for w in started]
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- all:\n{reports()}") from None
        for w in started:
            w.wait_exit()

        assert not [u for d in done for u in d["unexpected"]], reports()
        assert not fence.violations, "\n".join(fence.violations) + "\n" + reports()
        assert fence.most_inside == 1 and not fence.inside, reports()
        produced = fence.produced
        consumed = [item for item, _ in fence.consumed]
        assert len(produced) == len(set(produced)) == total, reports()
        assert sorted(consumed) == sorted(produced), reports()  # each exactly once
        assert not fence.items, reports()
        counts: collections.Counter[str] = collections.Counter()
        for d in done:
            counts.update(d["counts"])
        assert counts["predicate False"] > 0, counts  # consumers did wait
        assert counts["cancelled in wait"] > 0 and counts["timed out"] > 0, counts
        assert inspect.llen(key("cv", "queue")) == 0, reports()
        assert inspect.hlen(key("cv", "alive")) == 0, reports()
        assert inspect.zcard(key("cv", "notified")) == 0, reports()
        assert inspect.zcard(key("cv:lock", "holders")) == 0, reports()
        assert inspect.llen(key("cv:lock", "queue")) == 0, reports()
    finally:
        workers.close()
        fence.close()


# --- 4. Barrier: rounds across processes, seeded breaks -------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_barrier_rounds_across_processes_random_schedules(
    seed: int, deployment: Deployment, deployment_workers: Workers
) -> None:
    """Three processes x two tasks are the 6 parties of one Barrier, for 10 rounds, each
    party arriving after a random delay. In two rounds (seeded) one party waits with a
    0.3 s timeout while another arrives only once the round broke: every party of that
    round gets BrokenBarrierError (the timed-out one "timed out", after its timeout); once
    all of them have, the timed-out party resets the barrier and the rounds go on. Every
    other round: the 6 parties get the indices 0..5 and every party arrived before any
    passed. Every party of a round passed (or broke) before any party of the next round
    passed (or broke). At the end nobody waits and the barrier is not broken."""
    workers, inspect = deployment_workers, deployment.inspect()
    procs, tasks, rounds = 3, 2, 10
    parties = procs * tasks
    schedule = barrier_schedule(seed, parties, rounds)

    def reports() -> str:
        return workers.reports() + "\n--- Redis:\n" + redis_state(inspect, "meet")

    started = [
        workers.start(
            f"b{i}", "rounds", "--procs", str(procs), "--tasks", str(tasks), "--proc", str(i),
            "--rounds", str(rounds), "--seed", str(seed), "--lease", "2",
        )
        for i in range(procs)
    ]  # fmt: skip
    try:
        for w in started:
            w.wait_for("done", 25.0)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- all:\n{reports()}") from None
    for w in started:
        w.wait_exit()
    events = [e for w in started for e in w.events() if "round" in e]

    def of(ev: str, r: int) -> list[dict[str, Any]]:
        return [e for e in events if e["ev"] == ev and e["round"] == r]

    ends: list[tuple[float, float]] = []  # (first, last) time a party left the round
    for r in range(rounds):
        arrived, passed, broken = of("arriving", r), of("passed", r), of("broken", r)
        assert sorted(e["party"] for e in arrived) == list(range(parties)), (r, reports())
        if r in schedule:
            timer, _ = schedule[r]
            assert not passed, (r, reports())
            assert sorted(e["party"] for e in broken) == list(range(parties)), (r, reports())
            (timed_out,) = [e for e in broken if e["party"] == timer]
            assert "timed out" in timed_out["message"], (r, reports())
            (timer_arrived,) = [e for e in arrived if e["party"] == timer]
            assert timed_out["t"] - timer_arrived["t"] >= BREAK_TIMEOUT * 0.9, (r, reports())
            left = [e["t"] for e in broken]
        else:
            assert not broken, (r, reports())
            assert sorted(e["index"] for e in passed) == list(range(parties)), (r, reports())
            assert max(e["t"] for e in arrived) < min(e["t"] for e in passed), (r, reports())
            left = [e["t"] for e in passed]
        ends.append((min(left), max(left)))
    for r in range(1, rounds):
        assert ends[r - 1][1] < ends[r][0], (r, ends, reports())
    fence = workers.fence
    assert sorted(fence.was_reset) == sorted(schedule), reports()
    assert all(fence.broke[r] == parties for r in schedule), reports()
    assert inspect.llen(key("meet", "queue")) == 0, reports()
    assert inspect.hlen(key("meet", "alive")) == 0, reports()
    assert inspect.hget(key("meet", "meta"), "broken") in (None, "0"), reports()
