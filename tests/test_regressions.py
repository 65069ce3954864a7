"""Regression tests: one per known asyncio trap, each reproducing the original failing
scenario and asserting the correct behaviour.

Each ``_check_*`` coroutine takes the set of classes under test (an ``Impl``), so the same
check runs against aiosync and, where this Python's asyncio has the fix, against asyncio
too (which confirms that the check asserts the fixed behaviour). Each check fails on the
asyncio versions that had the bug (by deadlocking into the guard timeout, or by a failed
assertion).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _scenarios import AIOSYNC, ASYNCIO, Impl, asyncio_matches, outcome, run, settle, step

pytestmark = pytest.mark.core

create_task = asyncio.create_task

# asyncio's Semaphore was rewritten by gh-90155 and gh-97545 (backported to 3.10 and 3.11);
# 3.10.13 is the oldest 3.10 verified to have both fixes.
SEM_FIXED = (3, 10, 13)


def impls(fixed_in: tuple[int, ...] | None, *, barrier: bool = False) -> list[Any]:
    """aiosync, plus asyncio if this Python's asyncio has the fix (``fixed_in``; None if
    no asyncio release has it)."""
    params = [pytest.param(AIOSYNC, id="aiosync")]
    if fixed_in is not None and asyncio_matches(fixed_in, barrier=barrier):
        params.append(pytest.param(ASYNCIO, id="asyncio"))
    return params


# ---------------------------------------------------------------------------------------
# bpo-27585: Lock, a woken waiter cancelled before it runs
# ---------------------------------------------------------------------------------------


async def _check_bpo_27585(m: Impl) -> None:
    for cancel_first in (False, True):
        lock = m.Lock()
        await lock.acquire()
        got: list[str] = []

        async def waiter(name: str, lock: Any = lock, got: list[str] = got) -> None:
            await lock.acquire()
            got.append(name)
            lock.release()

        a, b = create_task(waiter("A")), create_task(waiter("B"))
        await step()
        if cancel_first:  # A's future is cancelled, then release() runs
            a.cancel()
            lock.release()
        else:  # release() wakes A (about to take the lock), then A is cancelled
            lock.release()
            a.cancel()
        await settle()
        assert a.cancelled()
        assert b.done(), "B was never woken: the lock is stuck (bpo-27585)"
        assert got == ["B"]
        assert not lock.locked()


@pytest.mark.parametrize("m", impls((3, 10)))
def test_bpo_27585_lock_cancelled_woken_waiter_passes_the_lock_on(m: Impl) -> None:
    """bpo-27585 ("asyncio.Lock deadlock after cancellation"; fixed by python/asyncio
    PR #393, "Avoid deadlock when a cancelled future is in self._waiters", and by cpython
    PR #1031 with 3.6/3.5 backports #2037/#2038, "Avoid a deadlock when the waiter who is
    about to take the lock is cancelled").

    Waiters A and B queue on a held lock; A is cancelled and the lock released, in either
    order. Release first: A was handed the lock and is cancelled before it runs; buggy
    asyncio did not pass the lock on, so B (and every later waiter) hung although the lock
    was free. Cancel first: release() picked A's cancelled future and woke nobody. Either
    way A must raise CancelledError and B must get the lock.
    """
    run(_check_bpo_27585, m)


# ---------------------------------------------------------------------------------------
# bpo-32734: Lock, cancel + release in one step lets two waiters in
# ---------------------------------------------------------------------------------------


async def _check_bpo_32734(m: Impl) -> None:
    lock = m.Lock()
    holders: list[str] = []

    async def lockit(name: str) -> None:
        await lock.acquire()
        holders.append(name)

    await lock.acquire()
    t1, _, t3 = (create_task(lockit(n)) for n in ("t1", "t2", "t3"))
    await step()

    def trigger() -> None:
        t1.cancel()
        lock.release()

    asyncio.get_running_loop().call_soon(trigger)
    await settle()
    assert t1.cancelled()
    assert holders == ["t2"], f"{holders} hold the lock at once (bpo-32734)"
    assert lock.locked()
    assert not t3.done()
    lock.release()  # t2 is done with it: now, and only now, t3
    await settle()
    assert holders == ["t2", "t3"]
    lock.release()


@pytest.mark.parametrize("m", impls((3, 10)))
def test_bpo_32734_lock_cancel_and_release_admit_one_waiter(m: Impl) -> None:
    """bpo-32734 ("Fix asyncio.Lock multiple acquire safety issue", PR #5466, 2018,
    backported to 3.6).

    The lock is held and t1, t2, t3 wait. In one callback t1 is cancelled and the lock is
    released. Buggy asyncio woke t2 from release() and then t3 from t1's cancellation
    handler (the lock still looked free), so two tasks held the lock at once. Exactly one
    (t2, by FIFO) may get it; t3 must wait for t2's release.
    """
    run(_check_bpo_32734, m)


# ---------------------------------------------------------------------------------------
# gh-90155 (bpo-45997): Semaphore hangs after a cancellation / lets a re-acquirer barge in
# ---------------------------------------------------------------------------------------


async def _check_gh_90155(m: Impl) -> None:
    # 1. The hang (CPython's test_acquire_no_hang): c1 holds the semaphore, c2 waits; c1
    #    releases (waking c2) and cancels c2 before it runs. The permit must come back.
    sem = m.Semaphore(1)

    async def c1() -> None:
        async with sem:
            await step()
        t2.cancel()

    async def c2() -> None:
        async with sem:
            raise AssertionError("c2 was cancelled before it could run")

    t1, t2 = create_task(c1()), create_task(c2())
    r1, r2 = await asyncio.gather(t1, t2, return_exceptions=True)
    assert r1 is None
    assert isinstance(r2, asyncio.CancelledError)
    assert not sem.locked(), "the permit of the cancelled waiter was lost (gh-90155)"
    probe = create_task(sem.acquire())
    await step()
    assert probe.done(), "Semaphore.acquire() hangs with a free permit (gh-90155)"
    sem.release()

    # 2. The re-acquiring order (bpo-45997's report): a task that releases and at once
    #    acquires again must queue behind the task already waiting.
    sem = m.Semaphore(1)
    order: list[str] = []

    async def worker(name: str) -> None:
        for _ in range(3):
            async with sem:
                order.append(name)
                await step()

    await asyncio.gather(worker("A"), worker("B"))
    assert order == ["A", "B", "A", "B", "A", "B"], f"{order}: a re-acquirer barged in"


@pytest.mark.parametrize("m", impls(SEM_FIXED))
def test_gh_90155_semaphore_cancelled_waiter_and_reacquire_order(m: Impl) -> None:
    """gh-90155 / bpo-45997 ("asyncio.Semaphore waiters deque doesn't work"; fixed by
    PR #93222, "Fix broken asyncio.Semaphore and strengthen FIFO guarantee").

    First report: a task releasing a Semaphore and acquiring it again at once got it back
    ahead of the task already waiting (waiters starved). The first fix (PR #31910, a
    ``_wakeup_scheduled`` flag) made things worse: if the woken waiter was cancelled before
    it ran, the flag stayed set and every later acquire() hung although a permit was free.
    Checks both: the permit comes back after the woken waiter is cancelled, and releasing
    then re-acquiring alternates strictly between two tasks.
    """
    run(_check_gh_90155, m)


# ---------------------------------------------------------------------------------------
# gh-97545: Semaphore as a rate limiter wakes one waiter per loop iteration
# ---------------------------------------------------------------------------------------


async def _check_gh_97545(m: Impl) -> None:
    # 1. K holders release in one loop iteration: K waiters, the first K in FIFO order,
    #    must all run in the next one (the buggy version woke only the first, which then
    #    woke the next one iteration later, and so on).
    k = 5
    sem = m.Semaphore(k)
    go = m.Event()
    acquired: list[int] = []

    async def holder() -> None:
        async with sem:
            await go.wait()

    async def waiter(i: int) -> None:
        async with sem:
            acquired.append(i)
            await go.wait()

    holders = [create_task(holder()) for _ in range(k)]
    await step()
    waiters = [create_task(waiter(i)) for i in range(3 * k)]
    await step()
    assert acquired == []
    for h in holders:  # release all K permits in the same loop iteration
        h.cancel()
    await step()  # the holders run and release
    newcomer = create_task(waiter(-1))  # arrives after the releases: must not barge in
    await step()  # the woken waiters run
    assert acquired == list(range(k)), (
        f"{len(acquired)} of {k} freed permits used in one loop iteration (gh-97545)"
    )
    go.set()
    await settle()
    assert acquired == [*range(3 * k), -1]
    await asyncio.gather(*waiters, newcomer)

    # 2. The benchmark shape: many short tasks rate-limited by Semaphore(K) finish
    #    in about 2 * n / K loop iterations, not n (one wake-up per iteration).
    n, k = 200, 20
    sem = m.Semaphore(k)
    done = 0

    async def job() -> None:
        nonlocal done
        async with sem:
            await asyncio.sleep(0)
        done += 1

    tasks = [create_task(job()) for _ in range(n)]
    iterations = 0
    while done < n:
        await step()
        iterations += 1
    await asyncio.gather(*tasks)
    assert iterations <= 3 * n // k, f"{iterations} loop iterations for {n} jobs (gh-97545)"


@pytest.mark.parametrize("m", impls(SEM_FIXED))
def test_gh_97545_semaphore_rate_limiter_does_not_collapse(m: Impl) -> None:
    """gh-97545 ("Semaphore slowdown", fixed by PR #97549, 2022, backported to 3.11 and 3.10).

    After gh-90155's first FIFO fix, a Semaphore(50) used to rate-limit many short tasks
    collapsed to one wake-up per event-loop iteration: the 50 holders released in one
    iteration, but release() only ever woke the first waiter (already woken, so the other
    49 calls did nothing), and each woken waiter woke the next one iteration later: 27x
    slower. K releases in one iteration must let K waiters (the first K, in FIFO order, no
    newcomer barging in) run in the next, and n rate-limited jobs must take O(n / K) loop
    iterations.
    """
    run(_check_gh_97545, m)


# ---------------------------------------------------------------------------------------
# gh-112202: Condition, a notification lost when the notified task is cancelled
# ---------------------------------------------------------------------------------------


async def _check_gh_112202(m: Impl) -> None:
    for relock in (False, True):
        condition = m.Condition()
        state = {"items": 0}

        def have_item_or_stop(state: dict[str, int] = state) -> bool:
            return state["items"] != 0

        async def consumer(condition: Any = condition, state: dict[str, int] = state) -> None:
            async with condition:
                while True:
                    await condition.wait_for(have_item_or_stop)
                    if state["items"] < 0:
                        return
                    state["items"] -= 1

        c = [create_task(consumer()) for _ in range(2)]
        await step()
        async with condition:
            state["items"] += 1  # produce one item and wake one consumer
            condition.notify(1)
            if relock:
                await step()  # c[0] is now blocked re-acquiring the lock
            c[0].cancel()  # ... and is cancelled before it gets it
        await settle()
        assert c[0].cancelled()
        assert state["items"] == 0, f"notification lost (gh-112202), relock={relock}"
        async with condition:
            state["items"] = -1
            condition.notify_all()
        await c[1]


@pytest.mark.parametrize("m", impls((3, 13)))
def test_gh_112202_condition_notify_survives_cancelled_waiter(m: Impl) -> None:
    """gh-112202 ("Race between asyncio Condition.notify() and Task.cancel() may result in
    lost wakeups", fixed by PR #112201 in 3.13; 3.12.1's asyncio still fails this check).

    A producer adds one item and calls notify(1); the notified consumer is cancelled before
    it returns from wait() (before it resumes, or while it re-acquires the lock). Buggy
    asyncio let the cancelled consumer swallow the notification: the second consumer never
    woke and the item was never consumed. The cancelled waiter must pass the notification
    on, so the other consumer takes the item.
    """
    run(_check_gh_112202, m)


# ---------------------------------------------------------------------------------------
# GH-111693: Condition.wait, the CancelledError raised while re-acquiring the lock
# ---------------------------------------------------------------------------------------


async def _check_gh_111693(m: Impl) -> None:
    cond = m.Condition()
    seen: list[Any] = []

    async def waiter() -> None:
        async with cond:
            try:
                await cond.wait()
            except asyncio.CancelledError as e:
                seen.append((e.args, cond.locked()))
                raise

    task = create_task(waiter())
    await step()
    await cond.acquire()
    cond.notify()
    await step()  # the waiter was notified and now waits to re-acquire the lock
    task.cancel(msg="stop now")
    await step()
    assert not task.done()  # wait() does not return before it holds the lock again
    cond.release()
    await settle()
    assert task.cancelled()
    assert seen == [(("stop now",), True)], (
        "Condition.wait() must hold the lock and re-raise the original CancelledError "
        f"(GH-111693), got {seen}"
    )
    assert not cond.locked()  # released by the waiter's async with


@pytest.mark.parametrize("m", impls((3, 13)))
def test_gh_111693_condition_wait_reraises_original_cancelled_error(m: Impl) -> None:
    """GH-111693 ("asyncio.Condition.wait() sometimes propagates incorrect
    asyncio.CancelledError", fixed by PR #111694 in 3.13; 3.12.1's asyncio still fails this
    check).

    A task notified in Condition.wait() is cancelled (with a message) while it waits to
    re-acquire the lock. wait() must still re-acquire the lock before raising, and raise
    the CancelledError it received (message kept); buggy asyncio raised a fresh
    ``CancelledError()`` instead, losing the message.
    """
    run(_check_gh_111693, m)


# ---------------------------------------------------------------------------------------
# gh-155233: Barrier, a duplicate index after a cancellation while the barrier fills
# ---------------------------------------------------------------------------------------


async def _check_gh_155233(m: Impl) -> None:
    b = m.Barrier(3)
    results: dict[str, Any] = {}

    async def party(name: str) -> None:
        try:
            results[name] = await b.wait()
        except asyncio.CancelledError:
            results[name] = "cancelled"
            raise

    t1, t2 = create_task(party("A")), create_task(party("B"))
    await step(2)
    t1.cancel()  # A leaves while the barrier is still filling
    await settle()
    assert b.n_waiting == 1
    assert not b.broken
    t3, t4 = create_task(party("C")), create_task(party("D"))  # D completes the round
    await asyncio.gather(t2, t3, t4)
    assert outcome(t1) == "cancelled"
    indices = sorted(results[n] for n in "BCD")
    assert indices == [0, 1, 2], f"indices {results} are not distinct (gh-155233)"
    if m is AIOSYNC:
        # aiosync's documented rule: indices handed out when the barrier trips, waiters in
        # arrival order, the tripping party parties - 1.
        assert results == {"A": "cancelled", "B": 0, "C": 1, "D": 2}


@pytest.mark.parametrize("m", impls(None, barrier=True))
def test_gh_155233_barrier_indices_distinct_after_cancellation(m: Impl) -> None:
    """gh-155233 ("asyncio.Barrier: cancelling a waiting task mid-round can cause a later
    arrival to reuse its index"; open, PR #155235).

    The issue's reproducer: A and B wait on Barrier(3); A is cancelled while the barrier
    fills; C and D arrive and trip it. asyncio hands out indices on arrival from a counter
    that A's cancellation decrements, so B and C both get 1 and nobody gets 0. The three
    parties that pass must get 0, 1 and 2 exactly once each. (aiosync deliberately fixes
    this; asyncio 3.13 still fails this check, so it runs against aiosync only.)
    """
    run(_check_gh_155233, m)
