"""What the worker programs of the multi-process fault tests (tests/redis/_workers.py,
tests/redis/_coordination_workers.py) share: the JSON-lines log, the fence client, the
SIGUSR1 stack dump, the session around a run, and the common command-line options.

Every log line is a JSON object with ``ev`` (the event) and ``t`` (``time.monotonic()``:
CLOCK_MONOTONIC, one clock for every process of the host), written and flushed at once, so
a killed worker's log is complete up to its death. SIGUSR1 logs every task's await chain
(``tasks``), for a test that finds a worker stuck (tests/redis/_processes.py).

The fence is the test's resource outside Redis (a TCP server in the test process): one
line ``OP WHO ARG...`` per call, answered with one line (``ERR ...`` for a bad call).
Calls to it block the event loop on purpose: a cancellation cannot land half-way through
one, so what the worker logs is what the fence saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar


class Log:
    def __init__(self, path: str) -> None:
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open for the run

    def __call__(self, ev: str, **fields: Any) -> None:
        fields.update(ev=ev, t=time.monotonic())
        self._file.write(json.dumps(fields) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class FenceClient:
    """A blocking client of the test's fence (see the module docstring); a worker program's
    subclass makes its calls with ``ask``."""

    def __init__(self, port: int, who: str) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._reader = self._sock.makefile("rb")
        self.who = who

    def ask(self, op: str, who: str, *args: object) -> str:
        """The fence's answer to ``OP WHO ARG...``; raises for none or ``ERR``."""
        words = [op, who, *map(str, args)]
        self._sock.sendall((" ".join(words) + "\n").encode())
        answer = self._reader.readline().decode().strip()
        if not answer or answer.startswith("ERR"):
            raise RuntimeError(f"the fence answered {answer!r} to {words}")
        return answer

    def close(self) -> None:
        self._reader.close()
        self._sock.close()


def dump_tasks(log: Log) -> None:
    """On SIGUSR1 (the test sends it to a worker that seems stuck): every task's stack."""
    tasks = {}
    for task in asyncio.all_tasks():
        chain, coro = [], task.get_coro()
        while coro is not None:  # the await chain, outermost first
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is not None:
                chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        tasks[task.get_name()] = " -> ".join(chain)
    log("tasks", tasks=tasks)


F = TypeVar("F", bound=FenceClient)


@contextlib.asynccontextmanager
async def session(
    args: argparse.Namespace, fence: Callable[[int, str], F], client: Callable[[], Any]
) -> AsyncIterator[tuple[Log, F, Any]]:
    """A worker's run: its log (``start`` first, ``exit`` last), SIGUSR1 handler, fence
    client (``fence(port, who)``) and Redis client (``client()``), closed at the end."""
    log = Log(args.log)
    log("start", pid=os.getpid())
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks, log)
    fenced = fence(args.fence, args.id)
    redis_client = client()
    try:
        yield log, fenced, redis_client
    finally:
        await redis_client.aclose()
        fenced.close()
        log("exit")
        log.close()


def parser(modes: list[str]) -> argparse.ArgumentParser:
    """The options every worker program has (MODE, the fence, the log, its id, a seed)."""
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=modes)
    p.add_argument("--fence", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--seed", type=int, default=0)
    return p
