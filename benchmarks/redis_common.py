"""What the Redis benchmarks share: ``--redis`` (benchmarks/redis_bench.py, its workers
benchmarks/redis_worker.py) and ``--redis-coordination`` (benchmarks/redis_coordination.py,
benchmarks/redis_coordination_worker.py).

In the parent: a redis-server of its own (loopback, a free port, no persistence), the
commands counted over a window (``INFO commandstats`` and MONITOR), worker processes spoken
to in lines, the machine's busy share, percentiles, the environment, the command line's
common options and the output (stdout, docs/benchmarks.md, JSON). In the workers: the
lines they print, and sleeping until a ``time.monotonic_ns()`` deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CONTROL = ("info", "echo", "monitor")  # the benchmark's own commands, from this process


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server of our own on a free loopback port, no persistence."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.dir = tempfile.mkdtemp(prefix="aiosync-redis-bench-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.client: Any = None

    def start(self) -> None:
        import redis

        for _ in range(5):
            self.port = _free_port()
            self.proc = subprocess.Popen(
                [
                    self.executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.dir,
                    "--loglevel",
                    "warning",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.client = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
            self.stop()  # the port was taken meanwhile, or the server did not start
        raise SystemExit(f"could not start {self.executable}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.client.shutdown(nosave=True)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def commandstats(self) -> Counter[str]:
        stats = self.client.info("commandstats")
        return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})

    def cpu(self) -> float:
        """The server's CPU time so far (user + system, seconds)."""
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def version(self) -> str:
        return str(self.client.info("server")["redis_version"])


def start_server(executable: str, wait: float) -> tuple[RedisServer, float | None]:
    """Check that ``executable`` exists, measure how busy the machine is (first waiting up
    to ``wait`` seconds for it to quieten, if > 0), start the server: (it, the busy share)."""
    if shutil.which(executable) is None and not Path(executable).exists():
        raise SystemExit(
            f"{executable} not found: install redis-server (apt-get install "
            "redis-server) or give --server"
        )
    busy = wait_quiet(wait) if wait > 0 else busy_share(1.0)
    server = RedisServer(executable)
    server.start()
    return server, busy


# --- counting commands -----------------------------------------------------------------


class Monitor:
    """MONITOR on a raw socket, in a thread: counts the commands between two markers (ECHO
    commands sent by the benchmark), those run inside scripts (``[0 lua]``) apart from
    those the clients sent, and the benchmark's own (on keys beginning with ``own``, and
    ``CONTROL`` commands) apart from both. ``events`` keeps (server time in ns, client
    address, command, whether the benchmark's own) of every command a client sent."""

    def __init__(self, server: RedisServer, tag: str, own: str | None = None) -> None:
        self.server, self.tag, self._own = server, tag, own
        self.wire: Counter[str] = Counter()
        self.lua: Counter[str] = Counter()
        self.own = 0
        self.events: list[tuple[int, str, str, bool]] = []
        self._done = threading.Event()
        self._sock = socket.create_connection(("127.0.0.1", server.port))
        self._sock.sendall(b"MONITOR\r\n")
        buf = b""
        while b"\r\n" not in buf:
            buf += self._sock.recv(64)
        self._rest = buf.split(b"\r\n", 1)[1]
        self._thread = threading.Thread(target=self._read, name="redis monitor", daemon=True)
        self._thread.start()

    def __enter__(self) -> Monitor:
        self.server.client.echo(f"{self.tag}:begin")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.client.echo(f"{self.tag}:end")
        self._done.wait(30)
        self._sock.close()
        self._thread.join(5)
        if not self._done.is_set():
            raise RuntimeError("MONITOR did not see the end marker")

    def _read(self) -> None:
        begin = f'"{self.tag}:begin"'.encode()  # the ECHO markers' argument
        end = f'"{self.tag}:end"'.encode()
        own = None if self._own is None else f'"{self._own}'.encode()
        active = False
        buf = self._rest
        while True:
            lines = buf.split(b"\r\n")
            buf = lines.pop()
            for line in lines:
                if not active:
                    active = begin in line
                    continue
                if end in line:
                    self._done.set()
                    return
                # +<seconds.micros> [<db> <address>|lua] "<command>" "<arg>" ...
                head, _, rest = line.partition(b'] "')
                command = rest.split(b'"', 1)[0].decode("ascii", "replace").lower()
                if head.endswith(b" lua"):
                    self.lua[command] += 1
                    continue
                if command in CONTROL:
                    continue
                mine = own is not None and own in rest
                if mine:
                    self.own += 1
                else:
                    self.wire[command] += 1
                stamp, _, where = head.partition(b" [")
                sec, _, micros = stamp.lstrip(b"+").partition(b".")
                t_ns = int(sec) * 1_000_000_000 + int(micros.ljust(6, b"0")) * 1000
                address = where.partition(b" ")[2].decode("ascii", "replace")
                self.events.append((t_ns, address, command, mine))
            try:
                chunk = self._sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk


@dataclass
class Counted:
    """Commands over one window: ``wire`` the clients sent (commandstats, less the commands
    inside scripts and the benchmark's own), by command; ``executed`` everything
    commandstats counted (commands inside scripts too); ``unseen``: commands commandstats
    counted that MONITOR does not show (connection set-up such as CLIENT SETINFO)."""

    wire: Counter[str]
    executed: int
    unseen: int
    server_cpu: float
    events: list[tuple[int, str, str, bool]]


def count_commands(
    server: RedisServer, tag: str, run: Callable[[], Any], own: str | None = None
) -> tuple[Any, Counted, float]:
    """Run ``run()`` between two commandstats snapshots, MONITOR attached; the commands on
    keys beginning with ``own`` are the benchmark's own, left out."""
    with Monitor(server, tag, own) as mon:
        before, cpu0 = server.commandstats(), server.cpu()
        t0 = time.monotonic()
        result = run()
        elapsed = time.monotonic() - t0
        after, cpu1 = server.commandstats(), server.cpu()
    delta = after - before
    for mine in CONTROL:
        delta.pop(mine, None)
    executed = sum(delta.values()) - mon.own
    unseen = executed - sum(mon.lua.values()) - sum(mon.wire.values())
    wire = Counter(mon.wire)
    if unseen > 0:
        wire["(unseen by MONITOR)"] = unseen
    return result, Counted(wire, executed, unseen, cpu1 - cpu0, mon.events), elapsed


# --- worker processes: the parent's side -----------------------------------------------


class LineProcess:
    """A worker process (``python -m <module> <cfg as JSON>``), spoken to in lines: its
    stdout read in a thread into ``lines`` (None at its end)."""

    module = ""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, json.dumps(cfg)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, word: str, timeout: float, who: str) -> str | None:
        """The next line (None: the process ended), expected to be ``word`` ...: an error
        naming ``who`` if none comes in ``timeout`` seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"worker {who}: no {word} in {timeout:.0f} s") from None

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


P = TypeVar("P", bound=LineProcess)


@contextlib.contextmanager
def spawned(kind: type[P], cfgs: list[dict[str, Any]]) -> Iterator[list[P]]:
    """A ``kind`` process for each of ``cfgs``: finished at the end, killed on an error."""
    ps = [kind(cfg) for cfg in cfgs]
    try:
        yield ps
        for p in ps:
            p.finish()
    finally:
        for p in ps:
            p.kill()


def go(ps: Sequence[LineProcess], duration: float) -> tuple[int, int]:
    """Once every one is ready: start them together (0.2 s from now, so that all have read
    it), for ``duration`` seconds: (start, end), ``time.monotonic_ns()`` values."""
    start = time.monotonic_ns() + 200_000_000
    end = start + int(duration * 1e9)
    for p in ps:
        p.send(f"GO {start} {end}")
    return start, end


# --- worker processes: the worker's side -----------------------------------------------


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    """A line of stdin ("" at its end), read in a thread: the loop keeps running."""
    line: str = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line


async def sleep_until(t_ns: int) -> None:
    delay = (t_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)


# --- the machine -----------------------------------------------------------------------


def busy_share(seconds: float) -> float | None:
    """The share of all CPUs' time that was not idle over ``seconds`` (/proc/stat), e.g.
    other work on the machine before the run starts; None where unknown."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else 1 - (idle1 - idle0) / total


def wait_quiet(limit: float, threshold: float = 0.2) -> float | None:
    """Wait (up to ``limit`` seconds) until the CPUs are less than ``threshold`` busy over
    2 s; the last share measured."""
    deadline = time.monotonic() + limit
    while True:
        busy = busy_share(2.0)
        if busy is None or busy < threshold or time.monotonic() >= deadline:
            return busy
        _log(f"machine {busy:.0%} busy: waiting for it to quieten ...")


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# --- the environment -------------------------------------------------------------------


def git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def redis_source_hash(folder: Path) -> str:
    """sha256 (12 digits) of aiosync.redis's sources in ``folder``: its .py and .lua files."""
    digest = hashlib.sha256()
    for file in sorted([*folder.glob("*.py"), *folder.glob("lua/*.lua")]):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def dist_version(dist: str, missing: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return missing


def machine(server: RedisServer) -> dict[str, Any]:
    """Python, the platform, the CPUs, the load average, redis-server's version."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "redis_server": server.version(),
    }


# --- numbers and the report ------------------------------------------------------------


def _pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def _ms(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"


def _breakdown(by_command: dict[str, float], digits: int = 2) -> str:
    parts = [f"{c.upper()} {v:.{digits}f}" for c, v in by_command.items() if v >= 0.005]
    return ", ".join(parts) or "-"


def measured(env: dict[str, Any], quick: bool, dirty: str) -> str:
    """The report's first line: when, which commit (and ``dirty``), which sources."""
    return (
        f"- measured {env['date']}{' (--quick: a smoke run)' if quick else ''}, commit "
        f"`{env['commit']}`{dirty} (aiosync.redis sources sha256 "
        f"`{env['redis_source_sha256']}`)"
    )


# --- the command line and the output ---------------------------------------------------


def add_run_options(
    p: argparse.ArgumentParser, phases: Sequence[str], section: str, json_name: str, why: str
) -> None:
    """--phase, --server, --wait-quiet (its help ending in ``why``), --docs (``section`` of
    docs/benchmarks.md), --json (by default results/<date>-``json_name``)."""
    p.add_argument(
        "--phase",
        action="append",
        choices=phases,
        help="measurement(s) to run, repeatable (default: all)",
    )
    p.add_argument(
        "--server",
        default="redis-server",
        help="the redis-server executable (default: redis-server on PATH)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the machine to be less than 20%% busy" + why,
    )
    p.add_argument(
        "--docs",
        action="store_true",
        help=f"also write the results into docs/benchmarks.md ('{section}' section)",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="",
        metavar="PATH",
        help=f"also write raw results (default path: {RESULTS_DIR.name}/<date>-{json_name})",
    )


def write_docs(text: str, begin: str, end: str, section: str) -> None:
    """Put ``text`` between the markers ``begin`` and ``end`` of docs/benchmarks.md's
    ``section`` (made at the end of the file, with the markers, if missing)."""
    doc = DOCS.read_text("utf-8")
    block = f"{begin}\n{text}\n{end}"
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        doc = head + block + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + f"\n\n## {section}\n\n" + block + "\n"
    DOCS.write_text(doc, "utf-8")


def output(
    text: str,
    started_at: float,
    args: argparse.Namespace,
    docs: Callable[[str], None],
    json_name: str,
    raw: dict[str, Any],
) -> None:
    """Print the report and the total time; with --docs, ``docs(text)``; with --json, write
    ``raw`` (by default to results/<date>-``json_name``)."""
    print(text)
    print(f"\n(total {time.monotonic() - started_at:.0f} s)")
    if args.docs:
        docs(text)
        print(f"written into {DOCS.relative_to(ROOT)}")
    if args.json is not None:
        path = (
            Path(args.json)
            if args.json
            else RESULTS_DIR / (time.strftime("%Y%m%d-%H%M%S") + "-" + json_name)
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(raw, indent=1, default=str))
        print(f"JSON written to {path}")


def run(
    args: argparse.Namespace,
    settings: Any,
    environment: Callable[[RedisServer], dict[str, Any]],
    measure: Callable[[RedisServer, dict[str, Any]], dict[str, Any]],
    report: Callable[[dict[str, Any], dict[str, Any], Any, bool], str],
    docs: Callable[[str], None],
    json_name: str,
) -> int:
    """A benchmark's run: the server started (``start_server``), ``environment(server)``,
    the results of ``measure(server, env)``, the server stopped, ``report(env, results,
    settings, quick)`` put out (``output``)."""
    server, busy = start_server(args.server, args.wait_quiet)
    started_at = time.monotonic()
    try:
        env = environment(server)
        env["busy_before"] = "n/a" if busy is None else f"{busy:.0%}"
        res = measure(server, env)
        env["load_average_end"] = load_average()
    finally:
        server.stop()
    text = report(env, res, settings, args.quick)
    raw = {"env": env, "settings": settings.__dict__, "results": res}
    output(text, started_at, args, docs, json_name, raw)
    return 0
