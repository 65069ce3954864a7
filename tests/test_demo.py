"""``python -m aiosync demo`` and the ``aiosync`` command line."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

import pytest

from aiosync.__main__ import main

pytestmark = pytest.mark.core

SECTIONS = ["Lock", "Event", "Semaphore(2)", "Condition", "Barrier(3)", "Timeouts"]

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
    parts = re.split(r"^\[\d/6\] ", output, flags=re.M)
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
    headers = re.findall(r"^\[(\d)/6\] ([^:]+):", demo, flags=re.M)
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


def test_demo_runs_selected_sections_only() -> None:
    proc = run("demo", "barrier", "event")
    assert proc.returncode == 0, proc.stderr
    assert re.findall(r"^\[(\d)/6\]", proc.stdout, flags=re.M) == ["2", "5"]


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
