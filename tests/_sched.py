"""A deterministic scheduler for the randomized tests (tests/test_randomized.py).

:class:`StepLoop` is an ordinary selector event loop with two changes: its clock is fake
(``time()`` only moves when the test calls :meth:`StepLoop.advance`), and the test drives it
one iteration at a time (:meth:`StepLoop.step`). Timers scheduled by a task are reported
to a hook the moment they fire, naming the task that scheduled them, so a test knows
exactly when a waiter's timeout expired.

:class:`Harness` runs a schedule of operations against one primitive: each blocking call
runs in a task of its own (:meth:`Harness.spawn`), and the harness records when each task
started, ended, was cancelled and saw its timer fire, in one global sequence. Subclasses
(one per primitive) keep a model of what must happen and check the primitive against it
after every loop iteration (:meth:`Harness.check_step`) and whenever the loop is idle
(:meth:`Harness.check_idle`), and record a trace for the differential comparison with
asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CANCELLED", "Harness", "Rec", "StepLoop", "ok", "raised"]

#: Upper bound on loop iterations before "idle": more means a livelock.
MAX_IDLE_STEPS = 10_000


def ok(value: Any) -> tuple[str, Any]:
    """The outcome of a call that returned ``value``."""
    return ("ok", value)


def raised(name: str) -> tuple[str, str]:
    """The outcome of a call that raised an exception of class ``name``."""
    return ("raise", name)


CANCELLED = raised("CancelledError")


class StepLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a fake clock, driven one iteration at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.steps = 0
        #: Called with the task that scheduled a timer, just before the timer's callback.
        self.timer_hook: Callable[[asyncio.Task[Any] | None], None] | None = None

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        hook = self.timer_hook
        if hook is None:
            return super().call_at(when, callback, *args, context=context)
        task = asyncio.current_task(self) if self.is_running() else None

        def fire(*a: Any) -> None:
            hook(task)
            callback(*a)

        return super().call_at(when, fire, *args, context=context)

    def step(self) -> None:
        """Run exactly one loop iteration (the callbacks ready now, and due timers)."""
        self.steps += 1
        self.stop()
        self.run_forever()

    def advance(self, seconds: float) -> None:
        """Move the fake clock; due timers fire on the next :meth:`step`."""
        self.now += seconds

    def runnable(self) -> bool:
        """Whether the next iteration would run anything (a ready callback or a due timer)."""
        if self._ready:  # type: ignore[attr-defined]
            return True
        return any(
            not h.cancelled() and h.when() <= self.now
            for h in self._scheduled  # type: ignore[attr-defined]
        )


@dataclass(eq=False)
class Rec:
    """One task of a schedule: what it does and what happened to it."""

    tid: int
    kind: str
    arg: Any
    task: asyncio.Task[Any] | None = None
    start_seq: int | None = None
    start_step: int = -1
    end_seq: int | None = None
    outcome: Any = None
    #: Ended in the iteration it started in, i.e. without ever suspending.
    immediate: bool = False
    cancel_seq: int | None = None
    timer_seq: int | None = None
    #: Free for the harness's model.
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def started(self) -> bool:
        return self.start_seq is not None

    @property
    def ended(self) -> bool:
        return self.end_seq is not None

    @property
    def pending(self) -> bool:
        """Started and not ended: suspended in the primitive."""
        return self.start_seq is not None and self.end_seq is None

    def __repr__(self) -> str:
        return f"T{self.tid}({self.kind} {self.arg!r})"


class Harness:
    """Runs a schedule against one primitive; see the module docstring.

    Subclasses implement :meth:`make`, :meth:`apply` and the ``on_*`` / ``check_*``
    hooks, calling :meth:`expect` for every property they check.
    """

    def __init__(self, impl: Any, params: Any, *, model: bool = True) -> None:
        self.impl = impl
        self.params = params
        #: Whether to check the model (False: only record the trace).
        self.model = model
        self.loop = StepLoop()
        self.loop.timer_hook = self._timer_fired
        self.recs: list[Rec] = []
        self._pending: dict[Rec, None] = {}  # started, not ended; in start (= tid) order
        self._by_task: dict[asyncio.Task[Any], Rec] = {}
        self.seq = 0
        self.failures: list[str] = []
        self.trace: list[Any] = []
        self.prim = self.make(params)

    # --- to override -----------------------------------------------------------------

    def make(self, params: Any) -> Any:
        raise NotImplementedError

    def apply(self, op: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def on_start(self, rec: Rec) -> None:
        pass

    def on_end(self, rec: Rec) -> None:
        pass

    def on_cancel(self, rec: Rec) -> None:
        pass

    def on_timer(self, rec: Rec) -> None:
        pass

    def check_step(self) -> None:
        pass

    def check_idle(self) -> None:
        pass

    def snapshot(self) -> Any:
        """The observable state recorded in the trace at idle points."""
        return None

    def check_final(self) -> None:
        """After the schedule, once every task has ended."""

    def unblock(self) -> bool:
        """At the end of a schedule: make progress for pending tasks; False if stuck."""
        return False

    # --- bookkeeping -----------------------------------------------------------------

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def expect(self, condition: object, message: str | Callable[[], str]) -> None:
        """Record a failure unless ``condition`` (the message may be a callable, called
        only then: checks run at every step and must be cheap when they pass)."""
        if not condition:
            if callable(message):
                message = message()
            self.failures.append(
                f"[seq {self.seq}, step {self.loop.steps}, t={self.loop.now:g}] {message}"
            )

    def _guard(self, hook: Callable[..., None], *args: Any) -> None:
        try:
            hook(*args)
        except Exception:
            self.failures.append("harness error:\n" + traceback.format_exc())

    def raise_failures(self) -> None:
        if self.failures:
            details = "\n".join(self.failures[:5])
            recent = "\n".join(f"  {e}" for e in self.trace[-25:])
            raise AssertionError(
                f"{type(self).__name__} {self.params!r} ({self.impl.__name__}):\n{details}\n"
                f"last events:\n{recent}"
            )

    def log(self, *event: Any) -> None:
        self.trace.append(event)

    def spawn(
        self, kind: str, arg: Any, fn: Callable[..., Awaitable[Any]], *, with_rec: bool = False
    ) -> Rec:
        """Start a task that calls ``fn()`` (``fn(rec)`` if ``with_rec``) and records its
        outcome."""
        rec = Rec(len(self.recs), kind, arg)
        self.recs.append(rec)

        async def body() -> None:
            rec.start_seq = self.next_seq()
            rec.start_step = self.loop.steps
            self._pending[rec] = None
            self._guard(self.on_start, rec)
            try:
                result = ok(await (fn(rec) if with_rec else fn()))
            except asyncio.CancelledError:
                result = CANCELLED
            except Exception as e:
                result = raised(type(e).__name__)
            rec.end_seq = self.next_seq()
            del self._pending[rec]
            rec.outcome = result
            rec.immediate = rec.start_step == self.loop.steps
            self.log("end", rec.tid, result)
            self._guard(self.on_end, rec)

        rec.task = self.loop.create_task(body())
        self._by_task[rec.task] = rec
        return rec

    def cancel(self, rec: Rec) -> None:
        assert rec.task is not None
        rec.task.cancel()
        if rec.cancel_seq is None:
            rec.cancel_seq = self.next_seq()
        self.log("cancel", rec.tid)
        self._guard(self.on_cancel, rec)

    def _timer_fired(self, task: asyncio.Task[Any] | None) -> None:
        rec = self._by_task.get(task) if task is not None else None
        if rec is None or rec.ended:
            return
        if rec.timer_seq is None:
            rec.timer_seq = self.next_seq()
        self._guard(self.on_timer, rec)

    def guard(self, hook: Callable[..., None], *args: Any) -> None:
        """Run a model hook from inside a task; its errors become failures."""
        self._guard(hook, *args)

    def drive(self, coro: Any) -> str | None:
        """Run a coroutine that must not suspend (``__aexit__``) to completion; return the
        name of the exception it raised, if any."""
        try:
            coro.send(None)
        except StopIteration:
            return None
        except Exception as e:
            return type(e).__name__
        coro.close()
        self.expect(False, f"{coro!r} suspended")
        return None

    def pending(self, kind: str | None = None) -> list[Rec]:
        """Tasks suspended in the primitive (started, not ended), oldest first."""
        return [r for r in self._pending if kind is None or r.kind == kind]

    def pick(self, recs: list[Rec], i: int) -> Rec | None:
        return recs[i % len(recs)] if recs else None

    # --- driving ---------------------------------------------------------------------

    def after(self) -> None:
        """Checks run after every operation and every loop iteration."""
        self._guard(self.check_step)
        if not self.loop.runnable():
            self._guard(self.check_idle)
        self.raise_failures()

    def step(self) -> None:
        self.loop.step()
        self.after()

    def idle(self) -> None:
        """Run the loop until nothing is runnable, checking after every iteration."""
        for _ in range(MAX_IDLE_STEPS):
            if not self.loop.runnable():
                break
            self.step()
        else:
            raise AssertionError(f"livelock: still runnable after {MAX_IDLE_STEPS} steps")
        self.log("idle", self.snapshot())

    def do(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        if name == "step":
            self.step()
            return
        if name == "idle":
            self.idle()
            return
        if name == "advance":
            self.loop.advance(op[1])
        elif name == "cancel":  # one task blocked in the primitive
            rec = self.pick(self.cancellable(), op[1])
            if rec is not None:
                self.cancel(rec)
        elif name == "cancel_many":  # every stride-th task blocked in the primitive
            for rec in self.cancellable()[:: op[1]]:
                self.cancel(rec)
        elif name == "burst":  # the same operation, many times over
            for _ in range(op[1]):
                self.apply(op[2])
        else:
            self.apply(op)
        self.after()

    def cancellable(self) -> list[Rec]:
        """The tasks a "cancel" operation may pick from."""
        return self.pending()

    def run(self, ops: list[tuple[Any, ...]]) -> list[Any]:
        """Run the schedule, then let every timer expire and unblock every task; return
        the trace. The loop is closed afterwards, whatever happens."""
        try:
            for op in ops:
                self.do(op)
            self.idle()
            self.loop.advance(1000)
            self.after()
            self.idle()
            for _ in range(1000):
                if not self.pending():
                    break
                if not self.unblock():
                    raise AssertionError(
                        f"stuck at the end: {self.pending()} pending and nothing to do"
                    )
                self.after()
                self.idle()
            else:
                raise AssertionError("could not unblock every task")
            self.expect(
                all(r.ended for r in self.recs),
                f"tasks never ran: {[r for r in self.recs if not r.ended]}",
            )
            self._guard(self.check_final)
            self.raise_failures()
            return self.trace
        finally:
            self.close()

    def close(self) -> None:
        loop = self.loop
        loop.timer_hook = None
        for _ in range(100):
            live = [r.task for r in self.recs if r.task is not None and not r.task.done()]
            if not live and not loop.runnable():
                break
            for t in live:
                t.cancel()
            # Only ever needed after a failure, which is what gets reported.
            with contextlib.suppress(Exception):
                self._release_everything()
            for _ in range(20):
                loop.step()
        loop.close()

    def _release_everything(self) -> None:
        """Last resort when closing after a failure: free whatever blocks the tasks."""
