"""The test side of the multi-process fault tests (tests/redis/test_faults.py and
test_faults_coordination.py): the fence's TCP server and the worker processes.

A worker (a program using tests/redis/_worker_common.py, run with ``sys.executable``) is
one process with its own Redis client; it reports what it saw as JSON lines in a file
(``Worker.events``), and on SIGUSR1 logs its tasks' await chains (``tasks``), which
``Worker.report`` asks for when a worker seems stuck. The fence is a resource outside
Redis, a TCP server in the test process: one line ``OP WHO ARG...`` per call, answered
with one line (``ERR ...`` for a call that raised). What the fence checks is each test's
own (a subclass's ``answer``).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from _server import RedisServer

if TYPE_CHECKING:
    from typing_extensions import Self

#: How long to wait for an event that should come in well under a second or two.
PATIENCE = 15.0


class Closing:
    """``with`` closes it (``close()``) at the end."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class FenceServer(Closing):
    """The fence's TCP server, in a thread; a subclass answers the calls (``answer``),
    holding ``_mutex`` for whatever it shares with the tests."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        fence = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    op, who, *args = line.decode().split()
                    try:
                        answer = fence.answer(op, who, args)
                    except Exception as e:  # a bad call: the worker fails loudly
                        answer = f"ERR {e!r}"
                    self.wfile.write(answer.encode() + b"\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, op: str, who: str, args: list[str]) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    err: Path
    stopped: bool = field(default=False)

    def events(self) -> list[dict[str, Any]]:
        """The complete lines logged so far."""
        try:
            text = self.log.read_text("utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines(keepends=True) if line[-1] == "\n"]

    def of(self, ev: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["ev"] == ev]

    def report(self) -> str:
        if self.proc.poll() is None and not self.stopped and not self.of("tasks"):
            # Still running: ask it for its tasks' stacks (see _worker_common.dump_tasks).
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
        err = self.err.read_text("utf-8", "replace") if self.err.exists() else ""
        log = self.log.read_text("utf-8", "replace") if self.log.exists() else ""
        return f"--- worker {self.name} (exit {self.proc.poll()}) log:\n{log}--- stderr:\n{err}"

    def wait_for(self, ev: str, timeout: float = PATIENCE) -> dict[str, Any]:
        """The first ``ev`` event, waiting for it; fails if the worker ends without it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.of(ev)
            if found:
                return found[0]
            if self.proc.poll() is not None:
                found = self.of(ev)  # logged just before exiting
                if found:
                    return found[0]
                raise AssertionError(f"worker {self.name} ended without {ev!r}\n{self.report()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {ev!r} from {self.name} in {timeout}s\n{self.report()}")
            time.sleep(0.01)

    def wait_exit(self, timeout: float = PATIENCE) -> None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker {self.name} did not exit\n{self.report()}") from None
        assert code == 0, self.report()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            self.stopped = sig == signal.SIGSTOP


def redis_options(target: RedisServer | Any) -> list[str]:
    """A worker's options for the deployment ``target``: a server, or a cluster (anything
    with ``startup_nodes``)."""
    if isinstance(target, RedisServer):
        return ["--port", str(target.port)]
    return ["--cluster", ",".join(f"{host}:{port}" for host, port in target.startup_nodes)]


class Workers(Closing):
    """Starts workers of the program ``program`` (each with ``where``, its options telling
    the Redis deployment, and the fence's); ``close()`` kills whatever is left (also
    stopped ones)."""

    def __init__(self, tmp: Path, program: Path, where: list[str], fence: FenceServer) -> None:
        self.tmp, self.program, self.where, self.fence = tmp, program, where, fence
        self.all: list[Worker] = []

    def start(self, name: str, mode: str, *options: str) -> Worker:
        log, err = self.tmp / f"{name}.log", self.tmp / f"{name}.err"
        with open(err, "wb") as stderr:
            proc = subprocess.Popen(
                [
                    sys.executable, str(self.program), mode, *self.where,
                    "--fence", str(self.fence.port), "--log", str(log), "--id", name,
                    *options,
                ],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )  # fmt: skip
        worker = Worker(name, proc, log, err)
        self.all.append(worker)
        return worker

    def reports(self) -> str:
        """Every worker's log (evaluate only for a failure message: it asks running
        workers for their tasks' stacks)."""
        return "\n".join(w.report() for w in self.all)

    def close(self) -> None:
        for w in self.all:
            if w.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(signal.SIGCONT)
                    w.proc.kill()
            w.proc.wait(10)


def wait_until(what: str, check: Callable[[], bool], timeout: float = PATIENCE) -> float:
    """Poll ``check`` until true; the time it first was."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {timeout}s: {what}")
        time.sleep(0.01)
    return time.monotonic()
