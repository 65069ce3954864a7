"""RateLimiter: the GCRA schedule, exactness and no drift, strict FIFO, computed timeouts,
cancellation, bad arguments, statistics and repr.

The tests run on an event loop with a fake clock: time only moves when every task is
blocked, and then jumps to the next timer (optionally *late* by a random amount, to model
late wake-ups). Grant times are therefore exact, and the assertions compare them with the
GCRA schedule itself: with ``interval = period / rate``, a request for ``u`` units is due
at ``tat + (u - burst) * interval`` and moves ``tat`` on by ``u * interval``.
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import pytest

import aiosync
from _clock import live_timers, no_block, now, run, settle

EPS = 1e-6


async def acquire_logged(
    rl: aiosync.RateLimiter, amount: float, name: str, log: list[tuple[float, str]]
) -> bool:
    result = await rl.acquire(amount)
    log.append((now(), name))
    return result


# --- the schedule -----------------------------------------------------------------------


def test_burst_at_once_then_one_unit_per_interval() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)  # interval 0.25 s, burst 4
        times = []
        for _ in range(12):
            assert await rl.acquire() is True
            times.append(now())
        assert times == [0, 0, 0, 0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]

    run(main())


def test_period_and_burst_parameters() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(2, period=10, burst=1)  # one unit per 5 s, none banked
        times = []
        for _ in range(4):
            await rl.acquire()
            times.append(now())
        assert times == [0, 5, 10, 15]
        await asyncio.sleep(100)  # idle time is not banked beyond the burst
        start = now()
        await rl.acquire()
        assert now() == start
        await rl.acquire()
        assert now() == start + 5

    run(main())


def test_amounts_larger_than_one_and_fractional() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4, burst=8)  # interval 0.25 s
        assert await rl.acquire(8) is True
        assert now() == 0
        assert await rl.acquire(2) is True
        assert now() == 0.5
        assert await rl.acquire(0.5) is True
        assert now() == 0.625
        assert await rl.acquire(8) is True  # needs the whole burst: due at tat
        assert now() == 2.625

    run(main())


def test_idle_time_refills_up_to_the_burst_only() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        assert await rl.acquire(4) is True
        await asyncio.sleep(0.5)  # two units back
        assert rl.statistics().available == 2
        assert no_block(rl.acquire(2, timeout=0)) is True
        assert no_block(rl.acquire(1, timeout=0)) is False
        await asyncio.sleep(1000)
        assert rl.statistics().available == 4
        assert no_block(rl.acquire(4, timeout=0)) is True
        assert no_block(rl.acquire(1, timeout=0)) is False

    run(main())


@pytest.mark.parametrize(
    ("rate", "period", "burst"), [(7, 3.0, 5), (10, 1.0, None), (3, 0.1, 1), (2.5, 2.0, 4.5)]
)
def test_saturated_demand_follows_the_gcra_schedule_exactly(
    rate: float, period: float, burst: float | None
) -> None:
    """Three consumers asking for random amounts without pause, over a long simulated run:
    every grant happens exactly at its slot, so after each grant at time t > 0 the units
    granted so far are exactly ``burst + rate * t / period``; and never more than that."""
    rng = random.Random(1234)
    b = rate if burst is None else burst
    grants: list[tuple[float, float]] = []

    async def consumer(amounts: list[float]) -> None:
        for amount in amounts:
            assert await rl.acquire(amount) is True
            grants.append((now(), amount))

    async def main() -> None:
        tasks = []
        for _ in range(3):
            amounts = [min(b, rng.choice([1, 1, 1, 2, 0.5, 3])) for _ in range(700)]
            tasks.append(asyncio.create_task(consumer(amounts)))
        await asyncio.gather(*tasks)

    rl = aiosync.RateLimiter(rate, period, burst=burst)
    run(main())
    assert len(grants) == 2100
    total = 0.0
    for t, amount in grants:
        total += amount
        bound = b + rate * t / period
        assert total <= bound + EPS, "more units than the GCRA bound allows"
        if t > 0:
            assert total == pytest.approx(bound, abs=EPS), "a grant later than its slot"
    # The long run: the rate, not more, not less.
    end = grants[-1][0]
    assert end > 100 * period
    assert (total - b) / end == pytest.approx(rate / period, rel=1e-9)


def test_no_drift_from_late_timer_wake_ups() -> None:
    """Every timer fires up to 50 ms late; grants are late by at most that much, never
    by an accumulated amount, and the long-run count is the exact bound."""
    rng = random.Random(99)
    lateness = 0.05
    rate, burst = 4, 4  # interval 0.25 s
    grants: list[float] = []

    async def main() -> None:
        rl = aiosync.RateLimiter(rate, burst=burst)
        for _ in range(4000):
            await rl.acquire()
            grants.append(now())

    run(main(), lateness=lambda: rng.uniform(0, lateness))
    late_by = []
    for k, t in enumerate(grants, start=1):
        slot = max(0.0, (k - burst) / rate)
        assert t >= slot - EPS, f"grant {k} at {t} before its slot {slot}"
        assert t <= slot + lateness + EPS, f"grant {k} at {t}: drifted from its slot {slot}"
        assert k <= burst + rate * t + EPS
        late_by.append(t - slot)
    assert max(late_by) > lateness / 2  # the timers really were late
    assert grants[-1] == pytest.approx((4000 - burst) / rate, abs=lateness + EPS)


def test_no_drift_for_a_consumer_that_sleeps_between_acquisitions() -> None:
    """A consumer that works (sleeps) a little between acquisitions, with every timer late
    by up to 0.1 s, still gets the full rate over the long run: its lateness is absorbed
    by the burst instead of pushing every later slot back."""
    rng = random.Random(7)
    lateness = 0.1
    rate, burst = 4, 4  # interval 0.25 s
    grants: list[float] = []

    async def main() -> None:
        rl = aiosync.RateLimiter(rate, burst=burst)
        for _ in range(4000):
            await rl.acquire()
            grants.append(now())
            await asyncio.sleep(0.1)

    run(main(), lateness=lambda: rng.uniform(0, lateness))
    for k, t in enumerate(grants, start=1):
        assert k <= burst + rate * t + EPS, "more than the GCRA bound"
        if k > 20:
            slot = (k - burst) / rate
            assert t <= slot + lateness + EPS, f"grant {k} at {t}: drifted from slot {slot}"
    # 4000 grants at 4/s: about 999 s, not 4000 * (0.25 + lateness).
    assert grants[-1] <= (4000 - burst) / rate + lateness + EPS


def test_uses_the_event_loops_clock() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rl = aiosync.RateLimiter(1, period=3600, burst=1)
        await rl.acquire()
        assert no_block(rl.acquire(timeout=0)) is False
        loop.now += 3600  # type: ignore[attr-defined]
        assert no_block(rl.acquire(timeout=0)) is True

    run(main())


# --- FIFO -------------------------------------------------------------------------------


def test_a_large_request_is_never_overtaken_by_later_small_ones() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)  # interval 0.25 s, burst 4
        await rl.acquire(4)
        log: list[tuple[float, str]] = []
        big = asyncio.create_task(acquire_logged(rl, 4, "big", log))
        await settle()
        smalls = [asyncio.create_task(acquire_logged(rl, 1, f"s{i}", log)) for i in range(3)]
        await settle()
        assert rl.statistics().tasks_waiting == 4
        assert rl.statistics().units_waiting == 7
        await asyncio.gather(big, *smalls)
        assert log == [(1.0, "big"), (1.25, "s0"), (1.5, "s1"), (1.75, "s2")]

    run(main())


def test_a_newcomer_never_jumps_the_queue_even_if_its_amount_is_available() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(3)  # one unit left
        log: list[tuple[float, str]] = []
        big = asyncio.create_task(acquire_logged(rl, 4, "big", log))
        await settle()
        assert rl.statistics().available == 1
        assert no_block(rl.acquire(1, timeout=0)) is False
        assert no_block(rl.acquire(0.5, timeout=0)) is False
        small = asyncio.create_task(acquire_logged(rl, 1, "small", log))
        await asyncio.gather(big, small)
        assert log == [(0.75, "big"), (1.0, "small")]

    run(main())


def test_many_waiters_are_granted_in_arrival_order() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(10, burst=3)
        await rl.acquire(3)
        rng = random.Random(5)
        log: list[tuple[float, str]] = []
        tasks = []
        for i in range(30):
            tasks.append(asyncio.create_task(acquire_logged(rl, rng.randint(1, 3), str(i), log)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        assert [name for _, name in log] == [str(i) for i in range(30)]
        times = [t for t, _ in log]
        assert times == sorted(times)

    run(main())


# --- timeouts ---------------------------------------------------------------------------


def test_a_request_that_cannot_make_it_in_time_returns_false_at_once() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        # Due at 1.0: a timeout of 0.9 cannot be met; computed, not slept.
        assert no_block(rl.acquire(4, timeout=0.9)) is False
        assert no_block(rl.acquire(1, timeout=0.2)) is False  # due at 0.25
        assert now() == 0
        stats = rl.statistics()
        assert (stats.tasks_waiting, stats.units_waiting) == (0, 0)
        assert live_timers() == []
        # Nothing was taken: the schedule is unchanged.
        assert await rl.acquire(1, timeout=0.25) is True
        assert now() == 0.25

    run(main())


def test_a_request_that_can_make_it_is_granted_by_its_timeout() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        assert await rl.acquire(4, timeout=1.0) is True  # exactly at the deadline
        assert now() == 1.0
        assert await rl.acquire(2, timeout=5) is True
        assert now() == 1.5

    run(main())


def test_the_computed_timeout_counts_the_requests_queued_ahead() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        first = asyncio.create_task(rl.acquire(4))  # due at 1.0
        await settle()
        # Behind it, one unit is due at 1.25.
        assert no_block(rl.acquire(1, timeout=1.2)) is False
        assert rl.statistics().tasks_waiting == 1
        second = asyncio.create_task(rl.acquire(1, timeout=1.25))
        await settle()
        assert await first is True
        assert now() == 1.0
        assert await second is True
        assert now() == 1.25

    run(main())


def test_timeout_zero_never_blocks() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        for _ in range(4):
            assert no_block(rl.acquire(1, timeout=0)) is True
        assert no_block(rl.acquire(1, timeout=0)) is False
        assert no_block(rl.acquire(0.1, timeout=0.0)) is False
        stats = rl.statistics()
        assert (stats.tasks_waiting, stats.units_waiting) == (0, 0)

    run(main())


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf])
def test_bad_timeout_is_a_value_error_even_when_it_would_not_block(timeout: float) -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        with pytest.raises(ValueError, match="timeout") as info:
            await rl.acquire(1, timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert rl.statistics().available == 4  # nothing taken

    run(main())


@pytest.mark.parametrize("timeout", ["1", True, [1], object()])
def test_non_number_timeout_is_a_type_error(timeout: Any) -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        with pytest.raises(TypeError, match="timeout") as info:
            await rl.acquire(1, timeout=timeout)
        assert repr(timeout) in str(info.value)
        assert rl.statistics().available == 4

    run(main())


def test_timeout_zero_does_not_suspend_when_a_late_timer_has_not_run_yet() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rl = aiosync.RateLimiter(4)  # burst 4, interval 0.25 s
        await rl.acquire(4)
        head = asyncio.create_task(rl.acquire(1))  # due at 0.25; timer set
        await settle()
        loop.now = 5  # type: ignore[attr-defined]  # the loop was blocked; timer not run yet
        # On the virtual schedule the head was due at 0.25 and this unit at 0.5.
        assert no_block(rl.acquire(1, timeout=0)) is True
        await head

    run(main())


def test_timeout_decision_uses_the_virtual_schedule_when_a_timer_is_late() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rl = aiosync.RateLimiter(4, burst=1)  # interval 0.25 s
        await rl.acquire(1)
        head = asyncio.create_task(rl.acquire(1))  # due at 0.25
        await settle()
        loop.now = 5  # type: ignore[attr-defined]  # the head's timer is late
        # Slots: head 0.25, this request 0.5, both long past: it can be granted at once.
        newcomer = asyncio.create_task(rl.acquire(1, timeout=0.1))
        assert await newcomer is True
        assert now() == 5
        await head

    run(main())


# --- cancellation -----------------------------------------------------------------------


def test_cancelled_head_gives_its_place_up() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        log: list[tuple[float, str]] = []
        big = asyncio.create_task(acquire_logged(rl, 4, "big", log))
        small = asyncio.create_task(acquire_logged(rl, 1, "small", log))
        await settle()
        big.cancel()
        await settle()
        assert big.cancelled()
        assert (rl.statistics().tasks_waiting, rl.statistics().units_waiting) == (1, 1)
        await small
        # Without the big request ahead, one unit is due after one interval.
        assert log == [(0.25, "small")]
        # The cancelled request took nothing: the next unit is due one interval later.
        await rl.acquire(1)
        assert now() == 0.5

    run(main())


def test_cancelled_middle_waiter_lets_those_behind_move_up() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        log: list[tuple[float, str]] = []
        a = asyncio.create_task(acquire_logged(rl, 1, "a", log))
        b = asyncio.create_task(acquire_logged(rl, 3, "b", log))
        c = asyncio.create_task(acquire_logged(rl, 1, "c", log))
        await settle()
        assert rl.statistics().units_waiting == 5
        b.cancel()
        await asyncio.gather(a, c)
        assert b.cancelled()
        assert log == [(0.25, "a"), (0.5, "c")]
        assert rl.statistics().units_waiting == 0

    run(main())


def test_cancelled_waiter_after_its_slot_forfeits_the_units() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        a = asyncio.create_task(rl.acquire(2))  # due at 0.5
        log: list[tuple[float, str]] = []
        b = asyncio.create_task(acquire_logged(rl, 1, "b", log))  # due at 0.75
        await settle()
        # Fire a's timer and cancel a before it runs.
        loop.now = 0.5  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not a.done() and rl.statistics().tasks_waiting == 1
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        await b
        assert log == [(0.75, "b")], "a's units were used: b keeps its slot"
        stats = rl.statistics()
        assert (stats.tasks_waiting, stats.units_waiting) == (0, 0)

    run(main())


def test_cancel_during_a_timed_wait_leaves_nothing_behind() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        await rl.acquire(4)
        a = asyncio.create_task(rl.acquire(2, timeout=10))
        await settle()
        assert rl.statistics().tasks_waiting == 1
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
        stats = rl.statistics()
        assert (stats.tasks_waiting, stats.units_waiting) == (0, 0)
        assert live_timers() == [], "the limiter's timer must go with its last waiter"
        # Nothing was taken.
        assert await rl.acquire(1) is True
        assert now() == 0.25

    run(main())


def test_cancelling_every_waiter_in_turn_keeps_the_schedule() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(10, burst=5)
        await rl.acquire(5)
        tasks = [asyncio.create_task(rl.acquire(1)) for _ in range(50)]
        await settle()
        for t in tasks[::2]:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        granted = [r for r in results if r is True]
        assert len(granted) == 25
        # 25 units at 10/s after the burst of 5: as if the cancelled ones never asked.
        assert now() == pytest.approx(2.5)

    run(main())


# --- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, -0.5, 5, 4.0001, math.nan, math.inf])
def test_amount_out_of_range_is_a_value_error(amount: float) -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        with pytest.raises(ValueError, match="amount") as info:
            await rl.acquire(amount)
        assert repr(amount) in str(info.value)
        assert rl.statistics().available == 4

    run(main())


@pytest.mark.parametrize("amount", ["1", None, True, [1]])
def test_amount_not_a_number_is_a_type_error(amount: Any) -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4)
        with pytest.raises(TypeError, match="amount") as info:
            await rl.acquire(amount)
        assert repr(amount) in str(info.value)

    run(main())


def test_amount_above_a_custom_burst_is_a_value_error() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(10, burst=2)
        assert await rl.acquire(2) is True
        with pytest.raises(ValueError, match="burst"):
            await rl.acquire(3)

    run(main())


@pytest.mark.parametrize("name", ["rate", "period", "burst"])
@pytest.mark.parametrize("value", [0, -1, -0.5, math.nan, math.inf, -math.inf])
def test_bad_limits_are_value_errors(name: str, value: float) -> None:
    kwargs: dict[str, Any] = {"rate": 4, "period": 1.0, "burst": 4}
    kwargs[name] = value
    with pytest.raises(ValueError, match=name) as info:
        aiosync.RateLimiter(**kwargs)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("name", ["rate", "period", "burst"])
@pytest.mark.parametrize("value", ["4", True, [4], object()])
def test_limits_not_numbers_are_type_errors(name: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"rate": 4, "period": 1.0, "burst": 4}
    kwargs[name] = value
    with pytest.raises(TypeError, match=name) as info:
        aiosync.RateLimiter(**kwargs)
    assert repr(value) in str(info.value)


def test_rate_none_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="rate"):
        aiosync.RateLimiter(None)  # type: ignore[arg-type]


# --- async with, statistics, repr -------------------------------------------------------


def test_async_with_takes_one_unit() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(2, burst=2)
        async with rl:
            assert rl.statistics().available == 1
        assert rl.statistics().available == 1  # nothing is given back on exit
        with pytest.raises(KeyError):
            async with rl:
                raise KeyError
        async with rl:
            assert now() == 0.5

    run(main())


def test_statistics_and_repr() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(4, period=2, burst=6)
        assert rl.statistics() == aiosync.RateLimiterStatistics(
            rate=4, period=2, burst=6, available=6, tasks_waiting=0, units_waiting=0
        )
        assert repr(rl).endswith("[rate:4/2s, burst:6]>") and "RateLimiter" in repr(rl)
        await rl.acquire(6)
        assert rl.statistics().available == 0
        waiters = [asyncio.create_task(rl.acquire(a)) for a in (2, 3)]
        await settle()
        stats = rl.statistics()
        assert (stats.tasks_waiting, stats.units_waiting, stats.available) == (2, 5, 0)
        assert "[rate:4/2s, burst:6, waiters:2]" in repr(rl)
        with pytest.raises(AttributeError):
            stats.available = 1  # type: ignore[misc]
        await asyncio.gather(*waiters)
        assert now() == 2.5  # 5 units at 2/s
        await asyncio.sleep(0.5)
        assert rl.statistics().available == 1
        assert rl.statistics().tasks_waiting == 0

    run(main())


def test_units_waiting_is_zero_once_nobody_waits_after_fractional_amounts() -> None:
    async def main() -> None:
        rl = aiosync.RateLimiter(1, burst=1)
        await rl.acquire(1)
        waiters = [asyncio.create_task(rl.acquire(a)) for a in (0.1, 0.2)]
        await settle()
        assert rl.statistics().units_waiting == pytest.approx(0.3)
        await asyncio.gather(*waiters)
        stats = rl.statistics()
        assert stats.tasks_waiting == 0
        assert stats.units_waiting == 0

    run(main())


def test_works_on_a_real_event_loop() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        rl = aiosync.RateLimiter(100, burst=5)  # one unit per 10 ms
        start = loop.time()
        for _ in range(5):
            assert no_block(rl.acquire(timeout=0)) is True
        assert no_block(rl.acquire(timeout=0)) is False
        assert no_block(rl.acquire(5, timeout=0.01)) is False  # due 50 ms on
        order: list[int] = []

        async def take(i: int, amount: int) -> None:
            await rl.acquire(amount)
            order.append(i)

        tasks = [asyncio.create_task(take(i, 5 if i == 0 else 1)) for i in range(4)]
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert order == [0, 1, 2, 3]
        # 5 + 5 + 3 units granted: the last was not due before 80 ms after the start.
        assert loop.time() - start >= 0.08 - 1e-6

    asyncio.run(main())


def test_statistics_of_a_fresh_limiter_outside_a_loop() -> None:
    rl = aiosync.RateLimiter(4)
    assert rl.statistics().available == 4
