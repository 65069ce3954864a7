"""``python -m aiosync demo`` and the ``aiosync`` command line."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

import pytest

from aiosync.__main__ import main

pytestmark = pytest.mark.core

SECTIONS = [
    "Lock",
    "Event",
    "Semaphore(2)",
    "Condition",
    "Barrier(3)",
    "Timeouts",
    "RLock",
    "RWLock",
    "CapacityLimiter(2)",
    "RateLimiter(5 per second, burst 2)",
    "KeyedLock",
    "CountdownLatch(3)",
]

# "  +0.103s  worker-2     gets the lock, reads counter = 1"
STEP = re.compile(r"^  \+(?P<t>\d+\.\d{3})s  (?P<task>\S+) +(?P<what>\S.*)$")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "aiosync", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def steps(output: str) -> list[tuple[float, str, str]]:
    """The timeline lines of ``output``: (elapsed, task, what it does)."""
    found = []
    for line in output.splitlines():
        m = STEP.match(line)
        if m:
            found.append((float(m["t"]), m["task"], m["what"]))
    return found


def section(output: str, title: str) -> str:
    """The text of the section whose title starts with ``title``."""
    parts = re.split(r"^\[\d+/\d+\] ", output, flags=re.M)
    matching = [part for part in parts if part.startswith(title)]
    assert len(matching) == 1, f"section {title!r} not found once in:\n{output}"
    return matching[0]


def normalized(output: str) -> str:
    """``output`` with its timings blanked."""
    return re.sub(r"\d+\.\d+s\b", "#s", output)


@pytest.fixture(scope="module")
def demo() -> str:
    proc = run("demo")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def test_every_section_appears_in_order(demo: str) -> None:
    headers = re.findall(r"^\[(\d+)/12\] ([^:]+):", demo, flags=re.M)
    assert headers == [(str(i), title) for i, title in enumerate(SECTIONS, 1)]
    assert re.search(r"^Demo finished in \d+\.\d\ds\.$", demo, flags=re.M)


def test_timeline_lines_are_well_formed(demo: str) -> None:
    lines = [line for line in demo.splitlines() if line.startswith("  +")]
    assert len(lines) > 50
    for line in lines:
        assert STEP.match(line), line


def test_output_is_deterministic_apart_from_timings(demo: str) -> None:
    again = run("demo")
    assert again.returncode == 0, again.stderr
    assert normalized(again.stdout).splitlines() == normalized(demo).splitlines()


def test_lock_keeps_the_counter_correct(demo: str) -> None:
    text = section(demo, "Lock")
    m = re.search(r"with the lock: +counter = (\d+) \(expected (\d+)\): correct", text)
    assert m is not None, text
    assert m[1] == m[2] == "400"
    # The slow workers hold the lock one at a time and each sees the previous write.
    held = [
        (task, what)
        for _, task, what in steps(text)
        if what.startswith(("gets the lock", "writes counter"))
    ]
    assert held == [
        ("worker-1", "gets the lock, reads counter = 0"),
        ("worker-1", "writes counter = 1, releases the lock"),
        ("worker-2", "gets the lock, reads counter = 1"),
        ("worker-2", "writes counter = 2, releases the lock"),
        ("worker-3", "gets the lock, reads counter = 2"),
        ("worker-3", "writes counter = 3, releases the lock"),
    ]
    assert re.search(r"LockStatistics\(locked=True, (.*, )?tasks_waiting=2\)", text), text


def test_event_wakes_every_waiter(demo: str) -> None:
    text = section(demo, "Event")
    timeline = [(task, what) for _, task, what in steps(text)]
    set_at = timeline.index(("setter", "sets the event"))
    woken = [task for task, what in timeline if what == "wakes up: wait() returned True"]
    assert woken == ["waiter-1", "waiter-2", "waiter-3"]
    assert all(timeline.index((task, "wakes up: wait() returned True")) > set_at for task in woken)
    assert "EventStatistics(is_set=False, tasks_waiting=3)" in text


def test_semaphore_lets_at_most_two_in(demo: str) -> None:
    text = section(demo, "Semaphore")
    assert "max inside at once: 2" in text
    inside: set[str] = set()
    most = 0
    entered = []
    for _, task, what in steps(text):
        if what.startswith("enters"):
            inside.add(task)
            entered.append(task)
            most = max(most, len(inside))
            assert what == f"enters ({len(inside)} inside)"
        elif what.startswith("leaves"):
            inside.remove(task)
    assert most == 2
    assert not inside
    assert entered == [f"job-{i}" for i in range(1, 9)]  # first come, first served
    assert "SemaphoreStatistics(value=0, tasks_waiting=6)" in text
    assert "SemaphoreStatistics(value=2, tasks_waiting=0)" in text


def test_condition_hands_each_item_to_one_consumer(demo: str) -> None:
    text = section(demo, "Condition")
    timeline = steps(text)
    put = [what.split()[1].rstrip(",") for _, task, what in timeline if task == "producer"][:4]
    taken = [what.split()[1].rstrip(",") for _, _, what in timeline if what.startswith("takes")]
    assert put == taken == ["item-1", "item-2", "item-3", "item-4"]
    stopped = [task for _, task, what in timeline if what.endswith("stops")]
    assert sorted(stopped) == ["consumer-1", "consumer-2"]


def test_barrier_indices_are_distinct_in_every_round(demo: str) -> None:
    text = section(demo, "Barrier")
    arrivals: dict[int, list[str]] = defaultdict(list)
    indices: dict[int, dict[str, int]] = defaultdict(dict)
    for _, task, what in steps(text):
        if m := re.fullmatch(r"arrives \(round (\d),.*", what):
            arrivals[int(m[1])].append(task)
        elif m := re.fullmatch(r"passes round (\d): index (\d)", what):
            assert task not in indices[int(m[1])]
            indices[int(m[1])][task] = int(m[2])
    assert sorted(indices) == [1, 2, 3]
    for round_no, got in indices.items():
        assert sorted(got.values()) == [0, 1, 2], (round_no, got)
        # The index is the arrival order.
        assert sorted(got, key=got.__getitem__) == arrivals[round_no]


def test_timeouts_return_false(demo: str) -> None:
    text = section(demo, "Timeouts")
    timeline = {(task, what): t for t, task, what in steps(text)}
    gave_up = timeline[("impatient", "times out: acquire() returned False")]
    assert gave_up >= 0.15  # acquire(timeout=0.2), started at +0.000s
    assert timeline[("patient", "acquire() returned True: got the lock")] > gave_up
    assert ("watcher", "times out: wait() returned False") in timeline
    broken = [task for task, what in timeline if what.startswith("gets BrokenBarrierError")]
    assert broken == ["hasty", "punctual"]
    # The impatient task left the queue: only the patient one still waits.
    assert re.search(r"LockStatistics\(locked=True, (.*, )?tasks_waiting=1\)", text), text
    assert "BarrierStatistics(parties=3, n_waiting=0, broken=True)" in text


def test_rlock_is_reentered_by_its_owner_only(demo: str) -> None:
    text = section(demo, "RLock")
    timeline = [(task, what) for _, task, what in steps(text)]
    recursive = [what for task, what in timeline if task == "recursive"]
    assert recursive == [
        "enters level 1: recursion = 1",
        "enters level 2: recursion = 2",
        "enters level 3: recursion = 3",
        "leaves level 3: recursion = 2",
        "leaves level 2: recursion = 1",
        "leaves level 1: recursion = 0",
    ]
    assert ("other", "calls release() without holding the lock: RuntimeError") in timeline
    # The other task gets the lock only once every level has been released.
    got = timeline.index(("other", "gets the lock: recursion = 1"))
    assert got > timeline.index(("recursive", "leaves level 1: recursion = 0"))
    assert timeline.index(("other", "waits for the lock")) < timeline.index(
        ("recursive", "leaves level 3: recursion = 2")
    )
    assert (
        "RLockStatistics(locked=True, owner=<task recursive>, count=3, tasks_waiting=1)" in text
    )
    assert "RLockStatistics(locked=False, owner=None, count=0, tasks_waiting=0)" in text


def test_rwlock_shares_reads_and_excludes_the_writer(demo: str) -> None:
    text = section(demo, "RWLock")
    readers: set[str] = set()
    writing = False
    most = 0
    order = []
    for _, task, what in steps(text):
        if what.startswith("reads"):
            assert not writing, "a reader got in while the writer writes"
            readers.add(task)
            most = max(most, len(readers))
            assert what == f"reads ({len(readers)} inside)"
            order.append(task)
        elif what == "stops reading":
            readers.remove(task)
        elif what.startswith("writes alone"):
            assert not readers and not writing, "the writer is not alone"
            writing = True
            order.append(task)
        elif what == "stops writing":
            writing = False
        elif what.startswith("wants to read"):
            assert task in ("reader-4", "reader-5")
            assert what.endswith("queues behind the writer")
    assert most == 3
    assert not readers and not writing
    # The late readers arrived while readers held the lock, but after the writer: FIFO.
    assert order == ["reader-1", "reader-2", "reader-3", "writer", "reader-4", "reader-5"]
    assert "max readers inside at once: 3" in text
    assert (
        "RWLockStatistics(readers=(<task reader-1>, <task reader-2>, <task reader-3>), "
        "writer=None, readers_waiting=2, writers_waiting=1)"
    ) in text


def test_capacity_limiter_admits_waiters_when_raised(demo: str) -> None:
    text = section(demo, "CapacityLimiter")
    inside: set[str] = set()
    limit = 2
    most = {2: 0, 4: 0}
    entered = []
    for _, task, what in steps(text):
        if what.startswith("borrows a token"):
            inside.add(task)
            entered.append(task)
            most[limit] = max(most[limit], len(inside))
            assert what == f"borrows a token, downloads ({len(inside)} downloading)"
        elif what.startswith("finishes"):
            inside.remove(task)
        elif what == "raises total_tokens from 2 to 4":
            limit = 4
    assert most == {2: 2, 4: 4}
    assert not inside
    assert entered == [f"download-{i}" for i in range(1, 6)]
    # Raising the limit lets two waiters in at once, before any download finishes.
    timeline = [(task, what) for _, task, what in steps(text)]
    raised = timeline.index(("main", "raises total_tokens from 2 to 4"))
    assert [task for task, _ in timeline[raised + 1 : raised + 3]] == ["download-3", "download-4"]
    assert (
        "CapacityLimiterStatistics(borrowed_tokens=2, total_tokens=2, "
        "borrowers=(<task download-1>, <task download-2>), tasks_waiting=3)"
    ) in text
    assert (
        "CapacityLimiterStatistics(borrowed_tokens=0, total_tokens=4, borrowers=(), "
        "tasks_waiting=0)"
    ) in text


def test_rate_limiter_grants_follow_the_schedule(demo: str) -> None:
    text = section(demo, "RateLimiter")
    grants = []
    impatient = {}
    for t, task, what in steps(text):
        if m := re.fullmatch(r"gets unit (\d), due at \+(\d\.\d{3})s", what):
            grants.append((task, int(m[1]), t, float(m[2])))
        elif task == "impatient":
            impatient[what] = t
    assert [(task, unit) for task, unit, _, _ in grants] == [
        (f"client-{i}", i) for i in range(1, 6)
    ]
    # 2 at once (the burst), then one every 0.2s: never early, and not drifting late.
    assert [due for _, _, _, due in grants] == [0.0, 0.0, 0.2, 0.4, 0.6]
    for task, _, t, due in grants:
        assert due - 0.001 <= t < due + 0.1, (task, t, due)
    called = impatient["calls acquire(timeout=0.1) behind 3 waiting clients"]
    refused = impatient["acquire() returned False at once: no slot for it within 0.1s"]
    assert refused - called < 0.05
    assert "units granted: 5, 2 at once, then one every 0.2s" in text
    assert (
        "RateLimiterStatistics(rate=5.0, period=1.0, burst=2.0, available=2.0, "
        "tasks_waiting=0, units_waiting=0.0)"
    ) in text


def test_keyed_lock_serialises_per_key_and_forgets_keys(demo: str) -> None:
    text = section(demo, "KeyedLock")
    timeline = [(task, what) for _, task, what in steps(text)]

    def at(task: str, start: str) -> int:
        (index,) = [
            i for i, (t, what) in enumerate(timeline) if t == task and what.startswith(start)
        ]
        return index

    # Distinct keys in parallel: bob's order runs while alice's first one holds her key.
    assert at("order-2", "holds locks['bob']") < at("order-1", "releases locks['alice']")
    # The same key serialises: alice's second order waits for the first.
    assert at("order-3", "waits for locks['alice']") < at("order-1", "releases locks['alice']")
    assert at("order-1", "releases locks['alice']") < at("order-3", "holds locks['alice']")
    lengths = [int(m[1]) for _, what in timeline if (m := re.search(r"len\(locks\) = (\d)", what))]
    assert max(lengths) == 2
    assert lengths[-1] == 0
    assert "KeyedLockStatistics(active_keys=2, locked_keys=2, tasks_waiting=1)" in text
    assert "KeyedLockStatistics(active_keys=0, locked_keys=0, tasks_waiting=0)" in text
    assert "keys left behind: len(locks) = 0" in text


def test_countdown_latch_opens_after_the_third_count_down(demo: str) -> None:
    text = section(demo, "CountdownLatch")
    timeline = [(task, what) for _, task, what in steps(text)]
    counts = [
        (task, int(what.rsplit(" ", 1)[1])) for task, what in timeline if "count_down()" in what
    ]
    assert counts == [("worker-1", 2), ("worker-3", 1), ("worker-2", 0)]
    woke = [i for i, (task, what) in enumerate(timeline) if task == "coordinator"]
    assert [timeline[i][1] for i in woke] == [
        "waits for the workers (count = 3)",
        "wakes up: wait() returned True, count = 0",
    ]
    assert woke[1] > timeline.index(("worker-2", "finishes after 0.20s, count_down(): count = 0"))
    assert ("main", "calls wait() later: returns True at once, the latch stays open") in timeline
    assert "CountdownLatchStatistics(count=3, tasks_waiting=1)" in text
    assert "CountdownLatchStatistics(count=0, tasks_waiting=0)" in text


def test_demo_runs_selected_sections_only() -> None:
    proc = run("demo", "barrier", "event")
    assert proc.returncode == 0, proc.stderr
    assert re.findall(r"^\[(\d+)/12\]", proc.stdout, flags=re.M) == ["2", "5"]
    proc = run("demo", "rwlock")
    assert proc.returncode == 0, proc.stderr
    assert re.findall(r"^\[(\d+)/12\] ([^:]+)", proc.stdout, flags=re.M) == [("8", "RWLock")]


def test_demo_rejects_an_unknown_section() -> None:
    proc = run("demo", "mutex")
    assert proc.returncode == 2
    assert "invalid section 'mutex'" in proc.stderr
    assert proc.stdout == ""


def test_no_command_prints_help_and_exits_2() -> None:
    proc = run()
    assert proc.returncode == 2
    assert "usage: aiosync" in proc.stderr
    assert "demo" in proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help_exits_0(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: aiosync")
    assert "demo" in proc.stdout


def test_main_returns_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) == 2
    out, err = capsys.readouterr()
    assert "usage: aiosync" in out
    assert "invalid choice" in err


def test_demo_stops_quietly_when_its_reader_goes_away() -> None:
    # As in `aiosync demo | head -1`: no traceback, no "Exception ignored" at exit.
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "aiosync", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("aiosync ")
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err == ""
