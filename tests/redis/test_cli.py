"""``aiosync run`` and ``aiosync inspect``, run as real commands against a real server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from _server import RedisServer

from aiosync.redis import _cli

AIOSYNC = [sys.executable, "-m", "aiosync"]


def aiosync(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AIOSYNC, *args], capture_output=True, text=True, timeout=60, **kwargs)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*AIOSYNC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 10) -> str:
    """Wait for ``process`` (killed if it takes longer than ``timeout``); its stderr."""
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1]


def test_run_passes_the_token_and_the_exit_code(server: RedisServer) -> None:
    script = f"import os, sys; print(os.environ['{_cli.TOKEN_VARIABLE}']); sys.exit(3)"
    first = aiosync(
        "run", "--redis", server.url, "--lock", "job", "--", sys.executable, "-c", script
    )
    second = aiosync(
        "run", "--redis", server.url, "--lock", "job", "--", sys.executable, "-c", script
    )
    assert first.returncode == second.returncode == 3, first.stderr
    assert int(second.stdout) > int(first.stdout) > 0  # fencing tokens, increasing
    with redis.Redis(port=server.port) as r:
        assert not r.exists("{aiosync:job}:holders")  # released


def test_run_gives_up_after_the_timeout_with_its_own_exit_code(server: RedisServer) -> None:
    holder = start("run", "--redis", server.url, "--lock", "job", "--", "sleep", "30")
    try:
        _until_held(server, "job")
        t0 = time.monotonic()
        result = aiosync(
            "run", "--redis", server.url, "--lock", "job", "--timeout", "0.5", "--", "true"
        )
        assert result.returncode == _cli.EXIT_TIMEOUT == 75
        assert "could not acquire the lock 'job' within 0.5 s" in result.stderr
        assert time.monotonic() - t0 < 10
    finally:
        holder.terminate()  # passed on to sleep, which ends: exit 128 + SIGTERM
        finish(holder)
    assert holder.returncode == 128 + signal.SIGTERM


def test_a_lost_lock_terminates_the_command(server: RedisServer, tmp_path: Path) -> None:
    """aiosync stalls (SIGSTOP) past its lease: another process takes the lock; once
    aiosync runs again it learns of the loss, terminates COMMAND, exits 76."""
    marker, running = tmp_path / "terminated", tmp_path / "running"
    script = (
        "import signal, sys, time\n"
        f"def stop(*args): open({str(marker)!r}, 'w').close(); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"open({str(running)!r}, 'w').close()\n"
        "time.sleep(60)\n"
    )
    holder = start(
        "run",
        "--redis",
        server.url,
        "--lock",
        "job",
        "--lease",
        "1",
        "--",
        sys.executable,
        "-c",
        script,
    )
    try:
        deadline = time.monotonic() + 20
        while not running.exists():  # the command runs, ready for SIGTERM
            assert time.monotonic() < deadline and holder.poll() is None, "never ran"
            time.sleep(0.01)
        holder.send_signal(signal.SIGSTOP)
        other = aiosync(
            "run", "--redis", server.url, "--lock", "job", "--timeout", "10", "--", "true"
        )
        assert other.returncode == 0, other.stderr  # had the lock once the lease ran out
        holder.send_signal(signal.SIGCONT)
        _, err = holder.communicate(timeout=20)
        assert holder.returncode == _cli.EXIT_LOST == 76
        assert marker.exists()  # the command got SIGTERM
        assert "was lost" in err
    finally:
        holder.kill()
        finish(holder)


def test_semaphore_limits_concurrent_commands(server: RedisServer, tmp_path: Path) -> None:
    log = tmp_path / "log"
    script = (
        "import time\n"
        f"open({str(log)!r}, 'a').write(f'+ {{time.monotonic()}}\\n')\n"
        "time.sleep(0.5)\n"
        f"open({str(log)!r}, 'a').write(f'- {{time.monotonic()}}\\n')\n"
    )
    runs = [
        start(
            "run",
            "--redis",
            server.url,
            "--semaphore",
            "pool",
            "--limit",
            "2",
            "--",
            sys.executable,
            "-c",
            script,
        )
        for _ in range(4)
    ]
    for p in runs:
        finish(p, 30)
    assert [p.returncode for p in runs] == [0] * 4
    events = sorted(
        (float(t), sign) for sign, t in (line.split() for line in log.read_text().splitlines())
    )
    inside = most = 0
    for _, sign in events:
        inside += 1 if sign == "+" else -1
        most = max(most, inside)
    assert len(events) == 8 and most == 2


def test_inspect_lists_holders_tokens_and_waiters(server: RedisServer) -> None:
    holder = start("run", "--redis", server.url, "--lock", "job", "--", "sleep", "30")
    waiter = None
    try:
        _until_held(server, "job")  # before the waiter starts: it must not get there first
        waiter = start("run", "--redis", server.url, "--lock", "job", "--", "true")
        deadline = time.monotonic() + 20
        with redis.Redis(port=server.port) as r:
            while r.llen("{aiosync:job}:queue") < 1:
                assert time.monotonic() < deadline, "the waiter never queued"
                time.sleep(0.01)
        text = aiosync("inspect", "--redis", server.url)
        assert text.returncode == 0, text.stderr
        assert text.stdout.startswith("lock         job: 1 holder(s): token ")
        assert "1 waiting" in text.stdout
        found = json.loads(aiosync("inspect", "--redis", server.url, "j*", "--json").stdout)
        assert [item["name"] for item in found] == ["job"]
        (hold,) = found[0]["holders"]
        assert 25 < hold["lease_left"] <= 30 and hold["token"] == found[0]["last_token"]
        assert found[0]["waiting"] == 1
        none = aiosync("inspect", "--redis", server.url, "nothing*")
        assert "no aiosync primitives matching 'nothing*'" in none.stdout
    finally:
        for p in (holder, waiter):
            if p is not None:
                p.terminate()
                finish(p)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--redis", "redis://x", "--lock", "a"], "no COMMAND"),
        (["run", "--redis", "redis://x", "--", "true"], "one of the arguments --lock --semaphore"),
        (
            ["run", "--redis", "redis://x", "--lock", "a", "--semaphore", "b", "--", "true"],
            "not allowed",
        ),
        (
            ["run", "--redis", "redis://x", "--lock", "a", "--limit", "2", "--", "true"],
            "--limit goes",
        ),
        (["run", "--redis", "redis://x", "--lock", "a", "--timeout", "-1", "--", "true"], ">= 0"),
        (["run", "--redis", "redis://x", "--lock", "a", "--lease", "0", "--", "true"], "> 0"),
        (["run", "--lock", "a", "--", "true"], "--redis"),
        (["inspect"], "--redis"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args: list[str], words: str) -> None:
    result = aiosync(*args)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    from _server import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    for args in (["run", "--redis", url, "--lock", "a", "--", "true"], ["inspect", "--redis", url]):
        result = aiosync(*args)
        assert result.returncode == _cli.EXIT_UNREACHABLE == 69
        assert result.stderr.startswith(f"aiosync: cannot reach Redis at {url}")
        assert len(result.stderr.strip().splitlines()) == 1


def test_command_not_found_is_127_and_releases(server: RedisServer) -> None:
    result = aiosync("run", "--redis", server.url, "--lock", "job", "--", "no-such-command-here")
    assert result.returncode == 127
    assert "command not found: no-such-command-here" in result.stderr
    with redis.Redis(port=server.port) as r:
        assert not r.exists("{aiosync:job}:holders")


def test_the_help_names_the_variable_and_every_exit_code() -> None:
    text = aiosync("run", "--help").stdout
    for needle in (_cli.TOKEN_VARIABLE, "75", "76", "69", "126/127"):
        assert needle in " ".join(text.split())
    from aiosync import __main__

    assert (__main__._EXIT_TIMEOUT, __main__._EXIT_LOST, __main__._EXIT_UNREACHABLE) == (
        _cli.EXIT_TIMEOUT,
        _cli.EXIT_LOST,
        _cli.EXIT_UNREACHABLE,
    )
    assert __main__._TOKEN_VARIABLE == _cli.TOKEN_VARIABLE


def _until_held(server: RedisServer, name: str) -> None:
    deadline = time.monotonic() + 20
    with redis.Redis(port=server.port) as r:
        while not r.zcard("{aiosync:" + name + "}:holders"):
            assert time.monotonic() < deadline, "never held"
            time.sleep(0.01)


def test_demo_on_redis_runs_each_scene_across_processes(server: RedisServer) -> None:
    result = aiosync("demo", "--redis", server.url)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for title in ("Lock: three", "Semaphore(2)", "Event: three", "Barrier(3)", "RateLimiter("):
        assert title in text
    lock_scene = text.split("[1/5]")[1].split("[2/5]")[0]
    steps = [line.split(None, 2)[1:] for line in lock_scene.splitlines() if line.startswith("  +")]
    # exclusion: every 'gets the lock' comes after the previous holder 'releases it'
    holder = None
    for who, what in steps:
        if what.startswith("gets the lock"):
            assert holder is None
            holder = who
        elif what == "releases it":
            assert holder == who
            holder = None
    assert sum(what.startswith("gets the lock") for _, what in steps) == 3
    assert text.count("wakes: the event is set") == 3
    indices = [line[-1] for line in text.splitlines() if "passes, arrival index" in line]
    assert sorted(indices) == ["0", "1", "2"]
    with redis.Redis(port=server.port) as r:
        assert not r.keys("*aiosync-demo*")  # cleaned up


def test_demo_on_unreachable_redis_and_bad_usage() -> None:
    from _server import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    result = aiosync("demo", "--redis", url)
    assert result.returncode == 69
    assert len(result.stderr.strip().splitlines()) == 1
    assert aiosync("demo", "--redis", url, "lock").returncode == 2
