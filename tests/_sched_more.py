"""A deterministic driver for tests/test_randomized_more.py.

:class:`FakeLoop` is a selector event loop whose clock only moves when the test says so
(:meth:`FakeLoop.advance_to`), driven one iteration at a time (:meth:`FakeLoop.step`).
A timer can be attributed to an owner when it is scheduled (by default, to the call
running in the task that schedules it: a waiter's timeout), and a hook then runs the
moment it fires, just before its callback.

:class:`Harness` runs a schedule of operations against one primitive. Each call into the
primitive is a :class:`Call`, run either in a task of its own (:meth:`Harness.spawn`) or by
an :class:`Actor`: a long-lived task that runs the calls it is sent one after another, for
the primitives whose holds belong to a task (a task that acquired must also release).
Subclasses keep an exact model of the primitive, updated by the ``on_*`` hooks at the very
moment things happen (a call starts, is cancelled, its timeout fires, it returns), and
compare it with the primitive after every operation and loop iteration (``check_step``)
and whenever the loop is idle (``check_idle``).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _sched import CANCELLED, ok, raised  # the outcome vocabulary both drivers share

__all__ = ["CANCELLED", "Actor", "Call", "FakeLoop", "Harness", "ok", "raised"]

#: Loop iterations before "idle" is declared a livelock.
MAX_IDLE_STEPS = 5_000


class FakeLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a fake clock, driven one iteration at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.steps = 0
        #: Called with the owner of a timer just before the timer's callback runs.
        self.timer_hook: Callable[[Any], None] | None = None
        #: Returns the owner of a timer being scheduled with a callback (None: no hook).
        self.attribute: Callable[[Any], Any] | None = None

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        hook, attribute = self.timer_hook, self.attribute
        owner = attribute(callback) if hook is not None and attribute is not None else None
        if owner is None:
            return super().call_at(when, callback, *args, context=context)

        def fire(*a: Any) -> None:
            assert hook is not None
            hook(owner)
            callback(*a)

        return super().call_at(when, fire, *args, context=context)

    def step(self) -> None:
        """Run exactly one loop iteration (the callbacks ready now, and due timers)."""
        self.steps += 1
        self.stop()
        self.run_forever()

    def _timers(self) -> list[asyncio.TimerHandle]:
        return [h for h in self._scheduled if not h.cancelled()]  # type: ignore[attr-defined]

    def next_timer(self) -> float | None:
        """When the earliest pending timer is due (None if there is none)."""
        whens = [h.when() for h in self._timers()]
        return min(whens) if whens else None

    def due(self, when: float) -> bool:
        """Whether a timer at ``when`` fires in the next iteration (as ``_run_once`` says)."""
        return when < self.now + self._clock_resolution  # type: ignore[attr-defined]

    def runnable(self) -> bool:
        """Whether the next iteration would run anything (a ready callback or a due timer)."""
        if self._ready:  # type: ignore[attr-defined]
            return True
        return any(self.due(h.when()) for h in self._timers())

    def advance_to(self, when: float) -> None:
        assert when >= self.now, (when, self.now)
        self.now = when


@dataclass(eq=False)
class Call:
    """One call into the primitive: what it is, what happened, what the model expects."""

    cid: int
    kind: str
    arg: Any
    fn: Callable[[], Any]
    actor: Actor | None = None
    task: asyncio.Task[Any] | None = None
    start_seq: int | None = None
    start_step: int = -1
    start_time: float = 0.0
    end_seq: int | None = None
    end_step: int = -1
    end_time: float = 0.0
    outcome: Any = None
    cancel_seq: int | None = None
    timer_seq: int | None = None
    #: The model's state of the call ("new", "queued", "woken", "cancelled", "expired",
    #: "woken_cancelled", "done", ... as the harness defines).
    st: str = "new"
    #: The outcome the model expects (None: not decided yet).
    expect: Any = None
    #: Whether the model expects the call to end without suspending (None: no opinion).
    immediate: bool | None = None
    m: dict[str, Any] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "st":  # keep the path through the model's states, for reports
            path = self.__dict__.get("path")
            self.__dict__["path"] = f"{path}>{value}" if path else value
        object.__setattr__(self, name, value)

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

    @property
    def suspended(self) -> bool:
        """Whether the call (once ended) suspended at least once."""
        return self.end_step != self.start_step

    @property
    def path(self) -> str:
        """The model states the call went through."""
        return str(self.__dict__.get("path", ""))

    def __repr__(self) -> str:
        who = f" by A{self.actor.idx}" if self.actor is not None else ""
        return f"C{self.cid}({self.kind} {self.arg!r}{who}, {self.path})"


class Actor:
    """A long-lived task that runs the calls it is sent, one at a time."""

    def __init__(self, harness: Harness, idx: int) -> None:
        self.h = harness
        self.idx = idx
        self.inbox: asyncio.Future[Any] | None = harness.loop.create_future()
        self.task = harness.loop.create_task(self.main(), name=f"A{idx}")

    @property
    def idle(self) -> bool:
        return self.inbox is not None and not self.inbox.done()

    async def main(self) -> None:
        while True:
            assert self.inbox is not None
            call = await self.inbox
            self.inbox = None
            if call is None:
                return
            await self.h.run_call(call)
            self.inbox = self.h.loop.create_future()

    def __repr__(self) -> str:
        return f"A{self.idx}"


class Harness:
    """Runs a schedule against one primitive; see the module docstring."""

    #: How many actors to start.
    n_actors = 0
    #: Whether ("advance", d) lets every timer fire exactly when due (the clock stops at
    #: each timer on its way, and the loop runs until idle there).
    exact_timers = False

    def __init__(self, params: Any) -> None:
        self.params = params
        self.loop = FakeLoop()
        self.loop.timer_hook = self._timer_fired
        self.loop.attribute = self._current_call
        self.calls: list[Call] = []
        self.running: dict[asyncio.Task[Any], Call] = {}
        self.seq = 0
        self.failures: list[str] = []
        self.log: list[str] = []
        self.actors = [Actor(self, i) for i in range(self.n_actors)]
        self.prim = self.make(params)

    # --- to override -----------------------------------------------------------------

    def make(self, params: Any) -> Any:
        raise NotImplementedError

    def apply(self, op: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def on_start(self, call: Call) -> None:
        pass

    def on_end(self, call: Call) -> None:
        pass

    def on_cancel(self, call: Call) -> None:
        pass

    def on_timer(self, call: Call) -> None:
        pass

    def on_time(self) -> None:
        """The clock moved."""

    def check_step(self) -> None:
        pass

    def check_idle(self) -> None:
        pass

    def check_final(self) -> None:
        pass

    def unblock(self) -> bool:
        """At the end of a schedule: make progress for what still waits; False if stuck."""
        return False

    def settled(self) -> bool:
        """At the end of a schedule: whether nothing is held or waited for any more."""
        return not self.pending()

    # --- bookkeeping -----------------------------------------------------------------

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def expect(self, condition: object, message: str) -> None:
        if not condition:
            self.failures.append(
                f"[seq {self.seq}, step {self.loop.steps}, t={self.loop.now:g}] {message}"
            )

    def guard(self, hook: Callable[..., None], *args: Any) -> None:
        try:
            hook(*args)
        except Exception:
            self.failures.append("harness error:\n" + traceback.format_exc())

    def raise_failures(self) -> None:
        if self.failures:
            details = "\n".join(self.failures[:5])
            recent = "\n  ".join(self.log[-25:])
            raise AssertionError(
                f"{type(self).__name__} {self.params!r}:\n{details}\nrecent events:\n  {recent}"
            )

    def note(self, event: str) -> None:
        self.log.append(f"[step {self.loop.steps}, t={self.loop.now:g}] {event}")

    def _current_call(self, callback: Any = None) -> Call | None:
        """The call running in the current task: timers scheduled there are its."""
        try:
            task = asyncio.current_task(self.loop)
        except RuntimeError:
            return None
        return self.running.get(task) if task is not None else None

    def _timer_fired(self, call: Call) -> None:
        if call.ended:
            return
        if call.timer_seq is None:
            call.timer_seq = self.next_seq()
        self.note(f"timer of {call}")
        self.guard(self.on_timer, call)

    def new_call(
        self, kind: str, arg: Any, fn: Callable[[], Any], actor: Actor | None = None
    ) -> Call:
        call = Call(len(self.calls), kind, arg, fn, actor)
        self.calls.append(call)
        return call

    async def run_call(self, call: Call) -> None:
        task = asyncio.current_task()
        assert task is not None
        call.task = task
        self.running[task] = call
        call.start_seq = self.next_seq()
        call.start_step = self.loop.steps
        call.start_time = self.loop.now
        self.guard(self.on_start, call)
        try:
            result = call.fn()
            if inspect.isawaitable(result):
                result = await result
            outcome = ok(result)
        except asyncio.CancelledError:
            outcome = CANCELLED
            uncancel = getattr(task, "uncancel", None)
            if uncancel is not None:
                uncancel()
        except Exception as e:
            outcome = raised(type(e).__name__)
        finally:
            del self.running[task]
        call.end_seq = self.next_seq()
        call.end_step = self.loop.steps
        call.end_time = self.loop.now
        call.outcome = outcome
        self.note(f"end {call} -> {outcome}")
        self.check_outcome(call)
        self.guard(self.on_end, call)

    def check_outcome(self, call: Call) -> None:
        """The outcome, and whether the call suspended, against the model's expectation."""
        self.expect(
            call.expect is not None and call.outcome == call.expect,
            f"{call} -> {call.outcome}, expected {call.expect}",
        )
        if call.immediate is not None:
            self.expect(
                call.suspended != call.immediate,
                f"{call} {'suspended' if call.suspended else 'did not suspend'}",
            )

    def spawn(self, kind: str, arg: Any, fn: Callable[[], Any]) -> Call:
        """Run a call in a task of its own (it starts at the next loop iteration)."""
        call = self.new_call(kind, arg, fn)
        self.note(f"spawn {call}")
        self.loop.create_task(self.run_call(call))
        return call

    def send(self, actor: Actor, kind: str, arg: Any, fn: Callable[[], Any]) -> Call | None:
        """Have an idle actor run a call (at the next loop iteration); None if it is busy."""
        if not actor.idle:
            return None
        call = self.new_call(kind, arg, fn, actor)
        self.note(f"send {call}")
        assert actor.inbox is not None
        actor.inbox.set_result(call)
        return call

    def idle_actors(self) -> list[Actor]:
        return [a for a in self.actors if a.idle]

    def pending(self, kind: str | None = None) -> list[Call]:
        """Calls suspended in the primitive (started, not ended), in the order they
        started."""
        calls = [c for c in self.calls if c.pending and (kind is None or c.kind == kind)]
        return sorted(calls, key=lambda c: c.start_seq)  # type: ignore[arg-type, return-value]

    def cancellable(self) -> list[Call]:
        return self.pending()

    def cancel(self, call: Call) -> None:
        assert call.task is not None and call.pending
        call.task.cancel()
        if call.cancel_seq is None:
            call.cancel_seq = self.next_seq()
        self.note(f"cancel {call}")
        self.guard(self.on_cancel, call)

    @staticmethod
    def pick(items: list[Any], i: int) -> Any:
        return items[i % len(items)] if items else None

    # --- driving ---------------------------------------------------------------------

    def after(self) -> None:
        """Checks run after every operation and every loop iteration."""
        self.guard(self.check_step)
        if not self.loop.runnable():
            self.guard(self.check_idle)
        self.raise_failures()

    def step(self) -> None:
        self.loop.step()
        self.after()

    def idle(self) -> None:
        """Run the loop until nothing is runnable, checking after every iteration."""
        for _ in range(MAX_IDLE_STEPS):
            if not self.loop.runnable():
                return
            self.step()
        raise AssertionError(f"livelock: still runnable after {MAX_IDLE_STEPS} steps")

    def advance(self, seconds: float) -> None:
        """Move the clock. With ``exact_timers``, stop at every timer on the way (just
        past it: the clock resolution is then 0) and run the loop until idle there, so
        that every timer fires when due and nothing else happens in between."""
        target = self.loop.now + seconds
        if not self.exact_timers:
            self.loop.advance_to(target)
            self.note(f"advance to {target!r}")
            self.guard(self.on_time)
            self.after()
            return
        self.idle()
        while (nxt := self.loop.next_timer()) is not None and nxt <= target:
            self._jump(math.nextafter(nxt, math.inf))
        self._jump(max(target, self.loop.now))

    def _jump(self, when: float) -> None:
        self.loop.advance_to(when)
        self.note(f"clock at {when!r}")
        self.guard(self.on_time)
        self.step()  # due timers fire
        self.idle()

    def advance_to_next_timer(self, *, settle: bool = True) -> None:
        """Move the clock to the next timer (none: do nothing); it fires at the next
        iteration. With ``exact_timers``, that iteration runs at once, and so does the loop
        until idle unless not ``settle`` (what the timer woke has then not run yet)."""
        if self.exact_timers:
            self.idle()
        nxt = self.loop.next_timer()
        if nxt is None:
            return
        if self.exact_timers:
            self.loop.advance_to(math.nextafter(nxt, math.inf))
            self.note(f"clock just past the timer at {nxt!r}")
            self.guard(self.on_time)
            self.step()
            if settle:
                self.idle()
        else:
            self.loop.advance_to(max(math.nextafter(nxt, math.inf), self.loop.now))
            self.note(f"advance to timer at {nxt!r}")
            self.guard(self.on_time)
            self.after()

    def do(self, op: tuple[Any, ...]) -> None:
        name = op[0]
        if name == "step":
            self.step()
        elif name == "idle":
            self.idle()
        elif name == "advance":
            self.advance(op[1])
        elif name == "next_timer":
            self.advance_to_next_timer()
        elif name == "timer_step":  # the next timer fires; what it woke has not run yet
            self.advance_to_next_timer(settle=False)
        elif name == "step_cancel":
            # One iteration, then cancel a call that was woken or timed out in it.
            self.step()
            self.do(("cancel_inflight", op[1]))
        elif name == "cancel":
            call = self.pick(self.cancellable(), op[1])
            if call is not None:
                self.cancel(call)
            self.after()
        elif name == "cancel_inflight":
            # Prefer a call that was woken or timed out and has not resumed yet.
            pending = self.cancellable()
            inflight = [c for c in pending if c.st not in ("queued", "cancelled")]
            call = self.pick(inflight or pending, op[1])
            if call is not None:
                self.cancel(call)
            self.after()
        elif name == "pair":  # two operations in the same window between iterations
            self.do(op[1])
            self.do(op[2])
        elif name == "burst":  # the same operation, several times over
            for _ in range(op[1]):
                self.apply(op[2])
            self.after()
        elif name == "cancel_all_but":  # all but every stride-th (leaves dead entries)
            keep = self.cancellable()[:: op[1]]
            for call in self.cancellable():
                if call not in keep:
                    self.cancel(call)
            self.after()
        elif name == "cancel_many":
            for call in self.cancellable()[:: op[1]]:
                self.cancel(call)
            self.after()
        else:
            self.apply(op)
            self.after()

    def run(self, ops: list[tuple[Any, ...]]) -> None:
        """Run the schedule, then unblock everything (liveness) and check the end state.
        The loop is closed afterwards, whatever happens."""
        try:
            for op in ops:
                self.do(op)
            self.idle()
            for _ in range(1000):
                if self.settled():
                    break
                if not self.unblock():
                    if self.loop.next_timer() is None:
                        raise AssertionError(
                            f"stuck at the end: {self.pending()} pending, nothing to do"
                        )
                    self.advance_to_next_timer()
                self.idle()
            else:
                raise AssertionError(f"could not unblock {self.pending()}")
            self.guard(self.check_final)
            self.raise_failures()
        finally:
            self.close()

    def close(self) -> None:
        loop = self.loop
        loop.timer_hook = None
        for actor in self.actors:
            if actor.idle:
                assert actor.inbox is not None
                actor.inbox.set_result(None)
        for _ in range(100):
            live = [t for t in asyncio.all_tasks(loop) if not t.done()]
            if not live and not loop._ready:  # type: ignore[attr-defined]
                break
            for t in live:
                t.cancel()
            for _ in range(5):
                loop.step()
        # Drop pending timers so that nothing refers to the closed loop's callbacks.
        for h in loop._timers():
            h.cancel()
        loop.close()
