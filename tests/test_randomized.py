"""Randomized schedules: many tasks, random interleavings, invariants checked at every step.

Hypothesis generates a schedule of operations on one primitive: start a task that acquires
/ waits (plain, ``async with``, ``wait_for()``, with or without ``timeout=``, including
``timeout=0``), release (``release()`` or ``__aexit__``), notify, notify_all, set, clear,
reset, abort, cancel one or many of the tasks blocked in the primitive, start a burst of
tasks (enough for the waiter queue to compact its dead entries), run the event loop one
iteration, run it until idle, advance the (fake) clock. The harness (tests/_sched.py) runs
the schedule on a loop it steps itself, so a run is deterministic, and keeps a model of
what the primitive must do. After every operation and every loop iteration it checks:

* safety: never more holders than permits (Lock: one; Semaphore: its value plus extra
  releases; BoundedSemaphore: never above its bound; Condition: one task holds the lock,
  and a task inside ``wait()`` does not); ``locked()`` / ``value`` / ``is_set()`` /
  ``broken`` / ``n_waiting`` agree with the model;
* FIFO: a task that had to wait acquires only once every live task that started waiting
  before it has (cancelled and timed-out ones excepted); a task that did not wait (including
  ``timeout=0``) never overtakes a live waiter; Event waiters woken by one ``set()`` resume
  in the order they started waiting;
* outcomes: each call returns or raises what the model predicts (True / False on timeout /
  CancelledError iff cancelled / Barrier index or BrokenBarrierError);

and whenever the loop is idle (nothing runnable):

* no lost wake-up: a free permit (Lock unlocked, Semaphore value > 0, Event set, Condition
  lock free) never coexists with a task still blocked on it, and no cancelled or timed-out
  task is still blocked;
* no stale waiter: ``statistics().tasks_waiting`` (Condition: also its lock's; Barrier:
  ``n_waiting``) equals the number of tasks actually blocked;
* Condition: every ``notify()`` reaches a live waiter if one exists: the model marks the
  first n live waiters notified, and a waiter leaving ``wait()`` with an exception passes
  its notification on (as asyncio 3.13 does), so each notified waiter must return True;
* Barrier: each round is tripped by exactly ``parties`` parties, with distinct indices in
  ``range(parties)`` (FIFO order, the tripping party last); a timeout breaks the barrier.

At the end every timer is let expire and every blocked task is released (liveness).

Differential tests run the same schedule, without timeouts, against asyncio's class and
aiosync's and compare the traces: the outcome of every call, errors from release() and
notify(), and the observable state (locked / value / is_set / n_waiting / broken /
tasks waiting) at every idle point. Event and Semaphore traces must be equal event for
event, loop iteration by loop iteration; Lock, Condition and Barrier ones per idle point
(see ``canonical``), because of timing differences documented in docs/guarantees.md and
tests/test_parity.py. Where asyncio has bugs that aiosync fixes (Semaphore and Condition
before 3.13, Barrier indices, BoundedSemaphore over-release), the comparison avoids them.

Bugs found are reproduced deterministically at the end of the file (fixed since), and
``test_the_checker_catches_broken_primitives`` makes sure the checks can fail.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiosync
from _sched import CANCELLED, Harness, Rec, ok, raised

pytestmark = pytest.mark.core

BROKEN = raised("BrokenBarrierError")

SETTINGS = settings(
    # AIOSYNC_RANDOMIZED_EXAMPLES=20000 for a long soak.
    max_examples=int(os.environ.get("AIOSYNC_RANDOMIZED_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def tasks_waiting(prim: Any) -> int:
    """statistics().tasks_waiting, or for asyncio's classes (when idle) the waiter count."""
    if hasattr(prim, "statistics"):
        return int(prim.statistics().tasks_waiting)
    return len(prim._waiters or ())


def sem_value(prim: Any) -> int:
    """A Semaphore's free permits (``_value`` in both implementations; aiosync's
    statistics() reports it too, which check_idle verifies: it costs O(waiters))."""
    return int(prim._value)


def acquire_fn(prim: Any, mode: Any) -> Callable[[], Awaitable[Any]]:
    """acquire(), ``async with`` (as __aenter__) or acquire(timeout=mode)."""
    if mode == "plain":
        return prim.acquire  # type: ignore[no-any-return]
    if mode == "cm":

        async def enter() -> bool:
            assert await prim.__aenter__() is None
            return True

        return enter
    return functools.partial(prim.acquire, timeout=mode)


def is_timeout(mode: Any) -> bool:
    return mode not in ("plain", "cm", None)


# ---------------------------------------------------------------------------------------
# Lock, Semaphore, BoundedSemaphore
# ---------------------------------------------------------------------------------------


class SemHarness(Harness):
    """params: (class name, initial value). A release either comes from a holder or is an
    extra release (Semaphore: adds a permit; Lock with no holder: RuntimeError)."""

    def make(self, params: Any) -> Any:
        self.kind, k, *flags = params
        #: Let the loop go idle before a release: see test_semaphore_matches_asyncio.
        self.settle = "settle" in flags
        self.lock = self.kind == "Lock"
        self.k = 1 if self.lock else k
        #: Permits in circulation: the initial value plus successful extra releases.
        self.cap = self.k
        self.holders: list[Rec] = []
        cls = getattr(self.impl, self.kind)
        return cls() if self.lock else cls(k)

    def apply(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        if name == "acquire":
            self.spawn("acquire", op[1], acquire_fn(self.prim, op[1]))
        elif name == "release":
            _, i, extra, via = op
            self.release(None if extra and not self.lock else self.pick(self.holders, i), via)
        else:
            raise AssertionError(op)

    def release(self, holder: Rec | None, via: str = "release") -> None:
        """release(), or ``__aexit__`` (the end of ``async with``), by ``holder`` or extra."""
        if self.settle:
            self.idle()
        before = None if self.lock else sem_value(self.prim)
        if via == "exit":
            err = self.drive(self.prim.__aexit__(None, None, None))
        else:
            err = None
            try:
                self.prim.release()
            except (RuntimeError, ValueError) as e:
                err = type(e).__name__
        self.log("release", holder.tid if holder else None, err)
        if self.lock:
            self.expect(
                err == (None if holder else "RuntimeError"),
                lambda: f"release() by {holder} raised {err}",
            )
        elif self.kind == "Semaphore":
            self.expect(err is None, lambda: f"Semaphore.release() raised {err}")
        else:
            assert before is not None
            if self.impl is aiosync:
                # aiosync also counts the permits handed to woken waiters that have not
                # resumed yet: every permit not held (cap - holders) is value or in flight.
                over = self.cap - len(self.holders) >= self.k
            else:
                over = before >= self.k
            self.expect(
                err == ("ValueError" if over else None),
                lambda: (
                    f"BoundedSemaphore({self.k}).release() at value {before}, "
                    f"{len(self.holders)} holders, {self.cap} permits raised {err}"
                ),
            )
        if err is None:
            if holder is not None:
                self.holders.remove(holder)
            else:
                self.cap += 1

    def on_end(self, rec: Rec) -> None:
        others = self.pending("acquire")
        live = [w for w in others if w.cancel_seq is None and w.timer_seq is None]
        out = rec.outcome
        if out == ok(True):
            self.expect(rec.cancel_seq is None, lambda: f"{rec} acquired although cancelled")
            self.expect(
                len(self.holders) < self.cap,
                lambda: f"{rec} acquired beyond capacity {self.cap}: holders {self.holders}",
            )
            if rec.immediate:
                self.expect(not live, lambda: f"{rec} acquired at once, overtaking waiters {live}")
            else:
                earlier = [w for w in live if w.start_seq < rec.start_seq]  # type: ignore[operator]
                self.expect(
                    not earlier, lambda: f"FIFO: {rec} acquired before earlier waiters {earlier}"
                )
            self.holders.append(rec)
        elif out == ok(False):
            self.expect(is_timeout(rec.arg), lambda: f"{rec} returned False without a timeout")
            self.expect(rec.cancel_seq is None, lambda: f"{rec} returned False although cancelled")
            if rec.immediate:
                self.expect(rec.arg == 0, lambda: f"{rec} gave up without waiting")
                self.expect(
                    len(self.holders) >= self.cap or others,
                    lambda: f"{rec}: timeout=0 failed with a permit free and no waiter",
                )
            else:
                self.expect(
                    rec.timer_seq is not None, lambda: f"{rec} returned False before its timeout"
                )
        elif out == CANCELLED:
            self.expect(
                rec.cancel_seq is not None, lambda: f"{rec} raised CancelledError uncancelled"
            )
        else:
            self.expect(False, lambda: f"{rec} ended with {out}")

    def check_step(self) -> None:
        prim = self.prim
        n = len(self.holders)
        if self.lock:
            self.expect(n <= 1, lambda: f"Lock held by {self.holders}")
            self.expect(prim.locked() == (n == 1), lambda: f"locked()={prim.locked()}, holders {n}")
        else:
            v = sem_value(prim)
            self.expect(v >= 0, lambda: f"value {v}")
            self.expect(v + n <= self.cap, lambda: f"value {v} + {n} holders > {self.cap} permits")
            if self.kind == "BoundedSemaphore" and (self.impl is aiosync or self.cap == self.k):
                # (asyncio's BoundedSemaphore lets an extra release through while a permit
                # is in flight to a woken waiter, and can then exceed its bound.)
                self.expect(v <= self.k, lambda: f"BoundedSemaphore({self.k}) value {v}")
                if self.impl is aiosync:
                    self.expect(
                        self.cap - n <= self.k,
                        lambda: f"BoundedSemaphore({self.k}): {self.cap - n} permits not held",
                    )

    def check_idle(self) -> None:
        waiting = self.pending("acquire")
        stuck = [w for w in waiting if w.cancel_seq is not None or w.timer_seq is not None]
        self.expect(
            not stuck, lambda: f"cancelled / timed-out tasks still blocked when idle: {stuck}"
        )
        if self.lock:
            self.expect(
                not waiting or self.prim.locked(),
                lambda: f"lost wake-up: unlocked, {waiting} blocked",
            )
        else:
            v = sem_value(self.prim)
            self.expect(
                not waiting or v == 0, lambda: f"lost wake-up: value {v}, {waiting} blocked"
            )
            self.expect(
                v == self.cap - len(self.holders),
                lambda: f"permit leak: value {v}, {len(self.holders)} holders, {self.cap} permits",
            )
        n = tasks_waiting(self.prim)
        self.expect(n == len(waiting), lambda: f"tasks_waiting {n}, but blocked: {waiting}")
        prim = self.prim
        if hasattr(prim, "statistics"):
            s = prim.statistics()
            if self.lock:
                self.expect(s.locked == prim.locked(), lambda: f"{s}, locked()={prim.locked()}")
                if hasattr(s, "owner"):
                    owner = self.holders[0].task if self.holders else None
                    self.expect(s.owner is owner, lambda: f"{s}: owner should be {owner}")
            else:
                self.expect(s.value == prim._value, lambda: f"{s}, value {prim._value}")

    def snapshot(self) -> Any:
        state = self.prim.locked() if self.lock else sem_value(self.prim)
        return (state, tasks_waiting(self.prim))

    def unblock(self) -> bool:
        if self.holders:
            self.release(self.holders[0])
            return True
        if not self.lock:
            self.release(None)
            return True
        return False


# ---------------------------------------------------------------------------------------
# Event
# ---------------------------------------------------------------------------------------


class EventHarness(Harness):
    def make(self, params: Any) -> Any:
        self.flag = False
        #: seq of every set() that changed the flag (and so woke the waiters).
        self.set_seqs: list[int] = []
        #: per waking set(): start_seq of the last waiter it woke that has resumed.
        self.resumed: dict[int, int] = {}
        return self.impl.Event()

    def apply(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        if name == "wait":
            t = op[1]
            fn = self.prim.wait if t is None else functools.partial(self.prim.wait, timeout=t)
            self.spawn("wait", t, fn)
        elif name == "set":
            self.expect(self.prim.is_set() == self.flag, "is_set() before set()")
            self.prim.set()
            if not self.flag:
                self.set_seqs.append(self.next_seq())
                self.flag = True
            self.log("set")
        elif name == "clear":
            self.prim.clear()
            self.flag = False
            self.log("clear")
        else:
            raise AssertionError(op)

    def on_end(self, rec: Rec) -> None:
        out = rec.outcome
        if rec.immediate:
            if self.flag:
                self.expect(out == ok(True), lambda: f"{rec} -> {out} with the flag set")
            else:
                self.expect(
                    rec.arg == 0 and out == ok(False), lambda: f"{rec} -> {out} without blocking"
                )
            return
        if rec.cancel_seq is not None:
            self.expect(out == CANCELLED, lambda: f"{rec} -> {out} although cancelled")
            return
        assert rec.start_seq is not None
        woken_by = next((s for s in self.set_seqs if s > rec.start_seq), None)
        if woken_by is not None and (rec.timer_seq is None or woken_by < rec.timer_seq):
            self.expect(out == ok(True), lambda: f"{rec} -> {out} although set() woke it")
            last = self.resumed.get(woken_by, -1)
            self.expect(rec.start_seq > last, lambda: f"{rec} resumed out of FIFO order")
            self.resumed[woken_by] = rec.start_seq
        elif rec.timer_seq is not None:
            self.expect(out == ok(False), lambda: f"{rec} -> {out} although it timed out first")
        else:
            self.expect(False, lambda: f"{rec} -> {out} with neither set() nor timeout")

    def check_step(self) -> None:
        self.expect(self.prim.is_set() == self.flag, lambda: f"is_set() is {self.prim.is_set()}")

    def check_idle(self) -> None:
        waiting = self.pending()
        stuck = [w for w in waiting if w.cancel_seq is not None or w.timer_seq is not None]
        self.expect(
            not stuck, lambda: f"cancelled / timed-out tasks still blocked when idle: {stuck}"
        )
        self.expect(not (self.flag and waiting), lambda: f"lost wake-up: set, {waiting} blocked")
        n = tasks_waiting(self.prim)
        self.expect(n == len(waiting), lambda: f"tasks_waiting {n}, but blocked: {waiting}")
        if hasattr(self.prim, "statistics"):
            self.expect(self.prim.statistics().is_set == self.flag, "statistics().is_set")

    def snapshot(self) -> Any:
        return (self.prim.is_set(), tasks_waiting(self.prim))

    def unblock(self) -> bool:
        if self.flag:
            return False
        self.apply(("set",))
        return True


# ---------------------------------------------------------------------------------------
# Condition
# ---------------------------------------------------------------------------------------


def lock_waiting(cond: Any) -> int:
    """Tasks blocked on a Condition's lock (acquire() or re-acquiring in wait())."""
    lock = cond._lock
    if hasattr(lock, "statistics"):
        return int(lock.statistics().tasks_waiting)
    return len(lock._waiters or ())


class CondHarness(Harness):
    """Tasks: "acquire" (the lock; the task then holds it until a release operation),
    "wait" (started on behalf of the holder, which hands the lock over to it), "waiter"
    (``async with cond: await cond.wait()``), "waiter_for" (the same with wait_for()) and
    "notifier" (``async with cond: cond.notify(n)``). The model follows each task through
    its phases: "lock" (acquiring), "held", "cond" (inside wait(), with a status: "live"
    while parked in the condition, "notified", "cancelled", or "expired" if its timeout
    fired first) and "done"."""

    def make(self, params: Any) -> Any:
        self.holder: Rec | None = None
        self.condq: list[Rec] = []  # tasks parked in the condition, FIFO
        self.pred_value = False  # what wait_for()'s predicate returns
        #: The Condition's own lock (None), or one passed in: "aiosync" or "asyncio".
        self.lock_kind = params
        if params is None:
            return self.impl.Condition()
        lock = aiosync.Lock() if params == "aiosync" else asyncio.Lock()
        return self.impl.Condition(lock)

    def holder_pending(self) -> bool:
        """The holder is a wait task that has not run yet: leave the lock alone."""
        return self.holder is not None and not self.holder.started

    # --- the model -------------------------------------------------------------------

    def notify_model(self, n: int | None) -> None:
        for w in self.condq:
            if n is not None and n <= 0:
                break
            if w.model["st"] == "live":
                w.model["st"] = "notified"
                if n is not None:
                    n -= 1

    def acquired(self, rec: Rec) -> None:
        """``rec`` got the lock from acquire() (its first call)."""
        self.expect(rec.cancel_seq is None, lambda: f"{rec} acquired although cancelled")
        self.expect(
            self.holder is None, lambda: f"{rec} acquired while {self.holder} holds the lock"
        )
        live = [
            w
            for w in self.pending()
            if w is not rec
            and w.model.get("phase") == "lock"
            and w.cancel_seq is None
            and w.timer_seq is None
        ]
        if rec.start_step == self.loop.steps:
            self.expect(not live, lambda: f"{rec} acquired at once, overtaking {live}")
        else:
            earlier = [w for w in live if w.start_seq < rec.start_seq]  # type: ignore[operator]
            self.expect(not earlier, lambda: f"FIFO: {rec} acquired before {earlier}")
        self.holder = rec
        rec.model["phase"] = "held"

    def enter_wait(self, rec: Rec, timeout: Any = None) -> None:
        self.expect(self.holder is rec, lambda: f"{rec} waits while {self.holder} holds the lock")
        self.holder = None  # wait() releases the lock before it parks
        rec.model["phase"] = "cond"
        if timeout == 0:
            rec.model["st"] = "expired"  # timeout=0: never parks in the condition
        else:
            rec.model["st"] = "live"
            self.condq.append(rec)

    def left_wait(self, rec: Rec, out: Any) -> None:
        """wait() returned or raised ``out`` (None: returned, inside wait_for(), with a
        value we do not see): ``rec`` holds the lock again."""
        self.expect(
            self.holder is None, lambda: f"{rec} left wait() while {self.holder} holds the lock"
        )
        self.expect(out in (ok(True), ok(False), CANCELLED, None), lambda: f"{rec} wait() -> {out}")
        self.holder = rec
        rec.model["phase"] = "held"
        st_ = rec.model["st"]
        if rec in self.condq:
            self.condq.remove(rec)
        if rec.cancel_seq is not None:
            self.expect(out == CANCELLED, lambda: f"{rec} wait() -> {out} although cancelled")
            self.notify_model(1)  # leaving with an exception passes a notification on
        elif st_ == "notified":
            self.expect(out in (ok(True), None), lambda: f"{rec} wait() -> {out} although notified")
        elif st_ == "expired":
            self.expect(
                out in (ok(False), None), lambda: f"{rec} wait() -> {out} although timed out"
            )
        else:
            self.expect(False, lambda: f"{rec} wait() -> {out} without being notified")

    def released(self, rec: Rec) -> None:
        self.expect(self.holder is rec, lambda: f"{rec} releases the lock held by {self.holder}")
        self.holder = None
        rec.model["phase"] = "done"

    # --- tasks -----------------------------------------------------------------------

    def wait_call(self, t: Any) -> Awaitable[Any]:
        return self.prim.wait() if t is None else self.prim.wait(timeout=t)

    async def waiter(self, rec: Rec) -> Any:
        async with self.prim:
            self.guard(self.acquired, rec)
            self.guard(self.enter_wait, rec, rec.arg)
            try:
                result = await self.wait_call(rec.arg)
            except BaseException as e:
                self.guard(self.left_wait, rec, raised(type(e).__name__))
                self.guard(self.released, rec)
                raise
            self.guard(self.left_wait, rec, ok(result))
            self.guard(self.released, rec)
        return result

    async def waiter_for(self, rec: Rec) -> Any:
        """``async with cond: await cond.wait_for(predicate[, timeout])``; the predicate
        reads ``pred_value`` (set by "pred" operations) and tells the model that wait()
        returned and, if false, whether wait_for() waits again (threading's algorithm:
        the deadline is taken at the first wait, and a wait that ends past it is the last)."""

        def predicate() -> bool:
            self.guard(self.predicate_called, rec)
            return self.pred_value

        rec.model["deadline"] = None
        async with self.prim:
            self.guard(self.acquired, rec)
            try:
                if rec.arg is None:
                    result = await self.prim.wait_for(predicate)
                else:
                    result = await self.prim.wait_for(predicate, timeout=rec.arg)
            except BaseException as e:
                if rec.model["phase"] == "cond":
                    self.guard(self.left_wait, rec, raised(type(e).__name__))
                self.guard(self.released, rec)
                raise
            self.expect(result is self.pred_value, lambda: f"{rec} -> {result}, predicate false")
            self.guard(self.released, rec)
        return result

    def predicate_called(self, rec: Rec) -> None:
        if rec.model["phase"] == "cond":
            self.left_wait(rec, None)
        if self.pred_value:
            return
        timeout = rec.arg
        if timeout is not None:
            deadline = rec.model["deadline"]
            if deadline is None:
                rec.model["deadline"] = self.loop.now + timeout
            else:
                timeout = deadline - self.loop.now
                if timeout <= 0:
                    return  # out of time: wait_for() returns False
        self.enter_wait(rec, timeout)

    async def notifier(self, rec: Rec) -> bool:
        async with self.prim:
            self.guard(self.acquired, rec)
            self.guard(self.notify_model, rec.arg)
            if rec.arg is None:
                self.prim.notify_all()
            else:
                self.prim.notify(rec.arg)
            self.guard(self.released, rec)
        return True

    def apply(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        prim = self.prim
        if name == "acquire":
            mode = op[1]
            if self.lock_kind == "asyncio" and is_timeout(mode):
                mode = "plain"  # asyncio.Lock.acquire() takes no timeout
            self.spawn("acquire", mode, acquire_fn(prim, mode))
        elif name == "waiter":
            self.spawn("waiter", op[1], self.waiter, with_rec=True)
        elif name == "notifier":
            self.spawn("notifier", op[1], self.notifier, with_rec=True)
        elif name == "waiter_for":
            self.spawn("waiter_for", op[1], self.waiter_for, with_rec=True)
        elif name == "pred":
            self.pred_value = op[1]
            self.log("pred", op[1])
        elif self.holder_pending():
            return
        elif name == "release":
            if op[1] == "exit":
                err = self.drive(prim.__aexit__(None, None, None))
            else:
                err = self.call(prim.release)
            self.log("release", err)
            self.expect(err == (None if self.holder else "RuntimeError"), lambda: f"release: {err}")
            if self.holder is not None:
                self.released(self.holder)
        elif name == "wait":
            t = op[1]
            if self.holder is not None:
                self.holder = self.spawn("wait", t, functools.partial(self.wait_call, t))
            else:
                coro = self.wait_call(t)
                try:
                    coro.send(None)  # type: ignore[attr-defined]
                except RuntimeError:
                    self.log("wait", "RuntimeError")
                else:
                    coro.close()  # type: ignore[attr-defined]
                    self.expect(False, "wait() without the lock did not raise RuntimeError")
        elif name in ("notify", "notify_all"):
            if name == "notify":
                n = op[1]
                err = self.call(functools.partial(prim.notify, n))
            else:
                n = None
                err = self.call(prim.notify_all)
            self.log(name, n, err)
            self.expect(err == (None if self.holder else "RuntimeError"), lambda: f"{name}: {err}")
            if err is None:
                self.notify_model(n)
        else:
            raise AssertionError(op)

    @staticmethod
    def call(fn: Callable[[], Any]) -> str | None:
        try:
            fn()
        except RuntimeError as e:
            return type(e).__name__
        return None

    def on_start(self, rec: Rec) -> None:
        if rec.kind == "wait":
            self.enter_wait(rec, rec.arg)
        else:
            rec.model["phase"] = "lock"

    def on_cancel(self, rec: Rec) -> None:
        if rec.model.get("st") == "live":
            rec.model["st"] = "cancelled"

    def on_timer(self, rec: Rec) -> None:
        if rec.model.get("st") == "live":
            rec.model["st"] = "expired"

    def on_end(self, rec: Rec) -> None:
        out = rec.outcome
        phase = rec.model.get("phase")
        if rec.kind == "wait":
            self.left_wait(rec, out)
        elif rec.kind == "acquire" and out == ok(True):
            self.acquired(rec)
        elif phase == "lock":  # never got the lock
            if out == ok(False):
                self.expect(is_timeout(rec.arg), lambda: f"{rec} returned False without a timeout")
                self.expect(
                    rec.cancel_seq is None, lambda: f"{rec} returned False although cancelled"
                )
                self.expect(
                    rec.arg == 0 if rec.immediate else rec.timer_seq is not None,
                    lambda: f"{rec} returned False before its timeout",
                )
            else:
                self.expect(
                    out == CANCELLED and rec.cancel_seq is not None,
                    lambda: f"{rec} ended with {out}",
                )
        else:  # waiter, notifier: the model followed them
            self.expect(phase == "done", lambda: f"{rec} -> {out} in phase {phase}")

    def check_step(self) -> None:
        locked = self.prim.locked()
        self.expect(
            locked == (self.holder is not None), lambda: f"locked()={locked}, {self.holder=}"
        )

    def check_idle(self) -> None:
        if hasattr(self.prim, "statistics"):
            s = self.prim.statistics()
            self.expect(s.locked == self.prim.locked(), lambda: f"{s}: locked()")
        pending = self.pending()
        acquirers = [w for w in pending if w.model.get("phase") == "lock"]
        stuck = [w for w in acquirers if w.cancel_seq is not None or w.timer_seq is not None]
        self.expect(not stuck, lambda: f"cancelled / timed-out acquirers still blocked: {stuck}")
        waits = [w for w in pending if w.model.get("phase") == "cond"]
        parked = [w for w in waits if w.model["st"] == "live"]
        relocking = [w for w in waits if w.model["st"] != "live"]
        self.expect(
            len(acquirers) + len(waits) == len(pending), lambda: f"pending in odd phases: {pending}"
        )
        self.expect(
            not (acquirers or relocking) or self.prim.locked(),
            lambda: f"lost wake-up: lock free, blocked on it: {acquirers + relocking}",
        )
        n = tasks_waiting(self.prim)
        self.expect(n == len(parked), lambda: f"tasks_waiting {n}, but parked in wait(): {parked}")
        n = lock_waiting(self.prim)
        self.expect(
            n == len(acquirers) + len(relocking),
            lambda: f"{n} waiting for the lock, but blocked: {acquirers + relocking}",
        )

    def snapshot(self) -> Any:
        return (self.prim.locked(), tasks_waiting(self.prim), lock_waiting(self.prim))

    def unblock(self) -> bool:
        self.pred_value = True
        if self.holder is None:
            self.apply(("notifier", None))
        else:
            if any(w.model["st"] == "live" for w in self.condq):
                self.apply(("notify_all",))
            self.apply(("release", "release"))
        return True

    def _release_everything(self) -> None:
        if self.prim.locked():
            self.prim.release()


# ---------------------------------------------------------------------------------------
# Barrier
# ---------------------------------------------------------------------------------------


class BarrierHarness(Harness):
    """Wait tasks have a model status while parked: "live", "cancelled" or "expired"; when
    the round ends, the model sets the outcome they must get ("expect")."""

    def make(self, params: Any) -> Any:
        self.parties = params
        self.broken = False
        self.round: list[Rec] = []
        self.round_no = 0  # bumped whenever a round ends (trip, reset, abort, break)
        self.trips: list[list[Rec]] = []
        return self.impl.Barrier(params)

    def apply(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        prim = self.prim
        if name == "wait":
            t = op[1]
            if t == "cm":
                fn = prim.__aenter__
            else:
                fn = prim.wait if t is None else functools.partial(prim.wait, timeout=t)
            self.spawn("wait", t, fn)
        elif name in ("reset", "abort"):
            self.spawn(name, None, getattr(prim, name))
        else:
            raise AssertionError(op)

    def cancellable(self) -> list[Rec]:
        return self.pending("wait")

    def live(self) -> list[Rec]:
        return [r for r in self.round if r.model["st"] == "live"]

    def end_round(self, outcome: Any) -> list[Rec]:
        live = self.live()
        for r in live:
            r.model["expect"] = outcome
        self.round = []
        self.round_no += 1
        return live

    def on_start(self, rec: Rec) -> None:
        if not self.model:
            return
        if rec.kind != "wait":
            self.end_round(BROKEN)
            self.broken = rec.kind == "abort"
            rec.model["expect"] = ok(None)
            rec.model["immediate"] = True
            return
        rec.model["immediate"] = True
        if self.broken:
            rec.model["expect"] = BROKEN
        elif len(self.live()) + 1 >= self.parties:
            live = self.live()
            self.expect(len(live) == self.parties - 1, lambda: f"{len(live)} parked in one round")
            for i, r in enumerate(live):
                r.model["expect"] = ok(i)
            self.round = []
            self.round_no += 1
            rec.model["expect"] = ok(self.parties - 1)
            self.trips.append([*live, rec])
        elif rec.arg == 0:
            self.end_round(BROKEN)
            self.broken = True
            rec.model["expect"] = BROKEN
        else:
            rec.model["immediate"] = False
            rec.model["st"] = "live"
            rec.model["round"] = self.round_no
            self.round.append(rec)

    def on_cancel(self, rec: Rec) -> None:
        if rec.model.get("st") == "live":
            rec.model["st"] = "cancelled"

    def on_timer(self, rec: Rec) -> None:
        if rec.model.get("st") == "live" and "expect" not in rec.model:
            rec.model["st"] = "expired"

    def on_end(self, rec: Rec) -> None:
        if rec in self.round:
            self.round.remove(rec)
        if not self.model:
            return
        out = rec.outcome
        m = rec.model
        self.expect(
            rec.immediate == m["immediate"],
            lambda: f"{rec} -> {out} {'without' if rec.immediate else 'after'} blocking",
        )
        if rec.kind == "wait" and rec.cancel_seq is not None:
            self.expect(out == CANCELLED, lambda: f"{rec} -> {out} although cancelled")
        elif "expect" in m:
            self.expect(out == m["expect"], lambda: f"{rec} -> {out}, expected {m['expect']}")
        elif m.get("st") == "expired":
            self.expect(out == BROKEN, lambda: f"{rec} -> {out} although it timed out")
            if m["round"] == self.round_no:
                # Its timeout breaks the barrier. (Not if its round ended meanwhile, by a
                # reset, abort or trip: see test_barrier_stale_timeout_...)
                self.end_round(BROKEN)
                self.broken = True
        else:
            self.expect(False, lambda: f"{rec} -> {out} while the round was still filling")

    def check_step(self) -> None:
        prim = self.prim
        if self.model:
            self.expect(prim.broken == self.broken, lambda: f"broken is {prim.broken}")
            n = 0 if self.broken else len(self.live())
            self.expect(prim.n_waiting == n, lambda: f"n_waiting {prim.n_waiting}, model {n}")
        if hasattr(prim, "statistics"):
            s = prim.statistics()
            expected = (self.parties, prim.n_waiting, prim.broken)
            self.expect((s.parties, s.n_waiting, s.broken) == expected, lambda: f"{s}")

    def check_idle(self) -> None:
        waiting = self.pending("wait")
        n = self.prim.n_waiting
        self.expect(n == len(waiting), lambda: f"n_waiting {n}, but blocked: {waiting}")
        self.expect(n < self.parties, lambda: f"n_waiting {n} with {self.parties} parties")
        self.expect(not (waiting and self.prim.broken), lambda: f"broken, but {waiting} blocked")
        if self.model:
            stuck = [w for w in waiting if w.model.get("st") != "live"]
            self.expect(
                not stuck, lambda: f"released / cancelled / timed-out still blocked: {stuck}"
            )

    def check_final(self) -> None:
        if not self.model:
            return
        for group in self.trips:
            indices = [r.outcome[1] for r in group if r.outcome[0] == "ok"]
            self.expect(
                len(group) == self.parties
                and len(set(indices)) == len(indices)
                and all(i in range(self.parties) for i in indices),
                f"round {group}: indices {[r.outcome for r in group]}",
            )

    def snapshot(self) -> Any:
        return (self.prim.n_waiting, self.prim.broken)

    def unblock(self) -> bool:
        if self.prim.broken:
            return False
        self.apply(("wait", None))  # one more party, until the round trips
        return True


# ---------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------

IDLE = st.just(("idle",))
STEP = st.just(("step",))
ADVANCE = st.tuples(st.just("advance"), st.sampled_from([1, 2]))
CANCEL = st.tuples(st.just("cancel"), st.integers(0, 7))
CANCEL_MANY = st.tuples(st.just("cancel_many"), st.sampled_from([2, 3, 1]))
TIMEOUTS = [0, 1, 2, 3]


def schedules(
    spawns: list[Any],
    others: list[Any],
    *,
    timeouts: bool,
    steps: bool,
    min_size: int = 16,
    max_size: int = 64,
) -> Any:
    """Lists of operations: the primitive's own (``spawns`` start a task, ``others`` do
    not; weighted by repetition), bursts of one spawning operation repeated (enough to make
    the waiter queue compact its dead entries), cancel one / many, run until idle, and
    one-iteration steps and clock advances if asked."""
    burst = st.tuples(st.just("burst"), st.sampled_from([3, 34]), st.one_of(*spawns))
    common = [IDLE, CANCEL, CANCEL_MANY, burst]
    if steps:
        common += [STEP, STEP]
    if timeouts:
        common.append(ADVANCE)
    ops = st.one_of(*common, *spawns, *others)
    return st.lists(ops, min_size=min_size, max_size=max_size)


def call_modes(timeouts: bool, plain: list[Any]) -> Any:
    return st.sampled_from(plain + (TIMEOUTS if timeouts else []))


def sem_schedules(*, timeouts: bool, steps: bool) -> Any:
    acquire = st.tuples(st.just("acquire"), call_modes(timeouts, ["plain", "cm"]))
    release = st.tuples(
        st.just("release"), st.integers(0, 3), st.booleans(), st.sampled_from(["release", "exit"])
    )
    return schedules([acquire, acquire], [release, release], timeouts=timeouts, steps=steps)


def event_schedules(*, timeouts: bool, steps: bool) -> Any:
    wait = st.tuples(st.just("wait"), call_modes(timeouts, [None]))
    other = st.sampled_from([("set",), ("clear",)])
    return schedules([wait, wait], [other], timeouts=timeouts, steps=steps)


def cond_schedules(*, timeouts: bool, steps: bool) -> Any:
    acquire = st.tuples(st.just("acquire"), call_modes(timeouts, ["plain", "cm"]))
    release = st.tuples(st.just("release"), st.sampled_from(["release", "exit"]))
    wait = st.tuples(st.just("wait"), call_modes(timeouts, [None]))
    waiter = st.tuples(st.just("waiter"), call_modes(timeouts, [None]))
    notify = st.tuples(st.just("notify"), st.integers(0, 3))
    notifier = st.tuples(st.just("notifier"), st.sampled_from([1, None, 0, 2]))
    notify_all = st.just(("notify_all",))
    waiter_for = st.tuples(st.just("waiter_for"), call_modes(timeouts, [None]))
    pred = st.tuples(st.just("pred"), st.booleans())
    return schedules(
        [acquire, waiter, waiter, notifier, waiter_for],
        [release, wait, notify, notify_all, pred],
        timeouts=timeouts,
        steps=steps,
    )


def barrier_schedules(*, timeouts: bool, steps: bool) -> Any:
    wait = st.tuples(st.just("wait"), call_modes(timeouts, [None, "cm"]))
    other = st.sampled_from([("reset",), ("abort",)])
    return schedules([wait, wait, wait], [other], timeouts=timeouts, steps=steps)


# ---------------------------------------------------------------------------------------
# Invariants (aiosync, with timeouts)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Lock", "Semaphore", "BoundedSemaphore"])
@SETTINGS
@given(k=st.integers(0, 3), ops=sem_schedules(timeouts=True, steps=True))
def test_lock_semaphore_invariants(kind: str, k: int, ops: list[Any]) -> None:
    if kind == "BoundedSemaphore":
        k = max(k, 1)
    SemHarness(aiosync, (kind, k)).run(ops)


@SETTINGS
@given(ops=event_schedules(timeouts=True, steps=True))
def test_event_invariants(ops: list[Any]) -> None:
    EventHarness(aiosync, None).run(ops)


@SETTINGS
@given(
    lock=st.sampled_from([None, "aiosync", "asyncio"]),
    ops=cond_schedules(timeouts=True, steps=True),
)
def test_condition_invariants(lock: str | None, ops: list[Any]) -> None:
    """``lock``: the Condition's own Lock, or one passed in (aiosync's or asyncio's)."""
    CondHarness(aiosync, lock).run(ops)


@SETTINGS
@given(parties=st.integers(1, 4), ops=barrier_schedules(timeouts=True, steps=True))
def test_barrier_invariants(parties: int, ops: list[Any]) -> None:
    BarrierHarness(aiosync, parties).run(ops)


# ---------------------------------------------------------------------------------------
# Differential: the same schedule (no timeouts) against asyncio's class
# ---------------------------------------------------------------------------------------


def canonical(trace: list[Any], *, ordered: bool = True) -> list[Any]:
    """Per idle point: the driver's events in order, then the calls that returned in the
    order they returned (sorted if not ``ordered``), and the calls that raised (sorted):
    what is left when the exact loop iteration in which a task resumes is ignored."""
    out: list[Any] = []
    driver: list[Any] = []
    returned: list[Any] = []
    failed: list[Any] = []
    for event in trace:
        if event[0] == "idle":
            if not ordered:
                returned.sort()
            out.append((tuple(driver), tuple(returned), tuple(sorted(failed)), event[1]))
            driver, returned, failed = [], [], []
        elif event[0] == "end":
            (returned if event[2][0] == "ok" else failed).append(event)
        else:
            driver.append(event)
    out.append((tuple(driver), tuple(returned), tuple(sorted(failed))))
    return out


def barrier_indices_anonymous(trace: list[Any], parties: int) -> list[Any]:
    """asyncio's Barrier hands out duplicate indices after a cancellation while filling
    (gh-155233, fixed in aiosync): keep only whether a party tripped the barrier."""

    def fix(event: Any) -> Any:
        if event[0] == "end" and event[2][0] == "ok" and isinstance(event[2][1], int):
            return (*event[:2], ok("last" if event[2][1] == parties - 1 else "early"))
        return event

    return [fix(e) for e in trace]


def isolate(ops: list[Any], names: set[str]) -> list[Any]:
    """Run the named operations only when the loop is idle, and let it go idle after."""
    out: list[Any] = []
    for op in ops:
        if op[0] in names:
            out += [("idle",), op, ("idle",)]
        else:
            out.append(op)
    return out


def differential(
    harness: type[Harness], params: Any, ops: list[Any], *, strict: bool, model: bool = True
) -> None:
    expected = harness(asyncio, params, model=model).run(ops)
    actual = harness(aiosync, params).run(ops)
    if strict:
        assert actual == expected
    else:
        assert canonical(actual, ordered=False) == canonical(expected, ordered=False)


PY313 = pytest.mark.skipif(
    sys.version_info < (3, 13), reason="asyncio < 3.13 has Semaphore/Condition bugs since fixed"
)
PY311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="no asyncio.Barrier")


@SETTINGS
@given(ops=sem_schedules(timeouts=False, steps=False))
def test_lock_matches_asyncio(ops: list[Any]) -> None:
    # Per idle point only: when the head waiter is cancelled and release() runs before its
    # cancellation is processed, aiosync hands the lock to the next waiter one loop
    # iteration earlier than asyncio (a documented difference, tests/test_parity.py).
    differential(SemHarness, ("Lock", 1), ops, strict=False)


@PY313
@pytest.mark.parametrize("kind", ["Semaphore", "BoundedSemaphore"])
@SETTINGS
@given(k=st.integers(0, 3), ops=sem_schedules(timeouts=False, steps=True))
def test_semaphore_matches_asyncio(kind: str, k: int, ops: list[Any]) -> None:
    # Per loop iteration. aiosync's BoundedSemaphore deliberately raises ValueError where
    # asyncio lets an over-release through while a permit is in flight to a woken waiter
    # (tests/test_semaphore.py): release only when the loop is idle (no permit in flight).
    params = (kind, max(k, 1), "settle") if kind == "BoundedSemaphore" else (kind, k)
    differential(SemHarness, params, ops, strict=True)


@SETTINGS
@given(ops=event_schedules(timeouts=False, steps=True))
def test_event_matches_asyncio(ops: list[Any]) -> None:
    differential(EventHarness, None, ops, strict=True)


@PY313
@SETTINGS
@given(ops=cond_schedules(timeouts=False, steps=False))
def test_condition_matches_asyncio(ops: list[Any]) -> None:
    differential(CondHarness, None, ops, strict=False)


@PY311
@SETTINGS
@given(parties=st.integers(1, 4), ops=barrier_schedules(timeouts=False, steps=False))
def test_barrier_matches_asyncio(parties: int, ops: list[Any]) -> None:
    ops = isolate(ops, {"cancel", "cancel_many", "reset", "abort"})
    cancels = any(op[0] in ("cancel", "cancel_many") for op in ops)
    expected = BarrierHarness(asyncio, parties, model=False).run(ops)
    actual = BarrierHarness(aiosync, parties).run(ops)
    if cancels:
        expected = barrier_indices_anonymous(expected, parties)
        actual = barrier_indices_anonymous(actual, parties)
    assert canonical(actual, ordered=False) == canonical(expected, ordered=False)


# ---------------------------------------------------------------------------------------
# Bugs found by the randomized tests, reduced to deterministic reproductions
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_ends_by", ["reset", "trip"])
def test_barrier_stale_timeout_does_not_break_a_later_round(round_ends_by: str) -> None:
    from _sched import StepLoop

    loop = StepLoop()
    barrier = aiosync.Barrier(2)
    outcomes: dict[str, Any] = {}

    async def party(name: str, timeout: float | None, pause: bool) -> None:
        if pause:
            # Queued ahead of the timer's callback in the iteration where A's timeout
            # fires, so this task runs after the timer fired but before A resumes.
            await asyncio.sleep(0)
        try:
            outcomes[name] = await barrier.wait(timeout=timeout)
        except aiosync.BrokenBarrierError:
            outcomes[name] = "broken"

    async def resetter() -> None:
        await asyncio.sleep(0)
        await barrier.reset()
        outcomes["after reset"] = barrier.broken

    try:
        loop.create_task(party("A", 1, False))
        loop.step()  # A waits, with a 1 s timeout
        loop.advance(1)
        if round_ends_by == "reset":
            loop.create_task(resetter())
        else:
            loop.create_task(party("B", None, True))
            loop.create_task(party("C", None, True))
        loop.step()  # they yield once; then A's timer fires: A is no longer waiting
        loop.step()  # they end the round (reset, or B and C trip it); then A resumes
        loop.step()
        assert outcomes["A"] == "broken"
        if round_ends_by == "reset":
            assert outcomes["after reset"] is False
        else:
            assert (outcomes["B"], outcomes["C"]) == (0, 1)
        # A's round is over: A's timeout must not break the round that started after it.
        assert not barrier.broken
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.step()
        loop.close()


# ---------------------------------------------------------------------------------------
# The checker checks: deliberately broken primitives must be caught
# ---------------------------------------------------------------------------------------


class _LockWithoutWakeUp(asyncio.Lock):
    """release() forgets to wake the next waiter."""

    def release(self) -> None:
        if not self._locked:  # type: ignore[has-type]
            raise RuntimeError("Lock is not acquired.")
        self._locked = False


class _LifoSemaphore(asyncio.Semaphore):
    """release() hands the permit to the newest waiter."""

    def _wake_up_next(self) -> bool:
        for fut in reversed(self._waiters or ()):  # type: ignore[attr-defined]
            if not fut.done():
                self._value -= 1  # type: ignore[has-type]
                fut.set_result(True)
                return True
        return False


@pytest.mark.parametrize(
    ("cls", "params", "ops", "error"),
    [
        (
            _LockWithoutWakeUp,
            ("Lock", 1),
            [
                ("acquire", "plain"),
                ("acquire", "plain"),
                ("idle",),
                ("release", 0, False, "release"),
            ],
            "lost wake-up",
        ),
        (
            _LifoSemaphore,
            ("Semaphore", 1),
            [("acquire", "plain")] * 3 + [("idle",), ("release", 0, False, "release")],
            "FIFO",
        ),
    ],
)
def test_the_checker_catches_broken_primitives(
    cls: type, params: Any, ops: list[Any], error: str
) -> None:
    impl = type(sys)("broken")
    setattr(impl, params[0], cls)
    with pytest.raises(AssertionError, match=error):
        SemHarness(impl, params).run(ops)


def test_condition_wait_that_cannot_release_leaves_no_waiter() -> None:
    async def main() -> None:
        lock = aiosync.RLock()  # owned: only the task holding it may release it
        cond = aiosync.Condition(lock)
        await lock.acquire()

        async def intruder() -> None:  # does not hold the lock
            with pytest.raises(RuntimeError):
                await cond.wait()

        await asyncio.create_task(intruder())
        lock.release()

        async def waiter() -> None:
            async with cond:
                await cond.wait()

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        assert cond.statistics().tasks_waiting == 1  # the real waiter only
        async with cond:
            cond.notify()
        await asyncio.wait_for(task, 1)  # it must have been notified

    asyncio.run(main())
