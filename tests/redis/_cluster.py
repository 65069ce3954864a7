"""A real Redis Cluster of 3 masters (no replicas) on free loopback ports, for the tests.

The cluster is formed by hand: each node gets a distinct config epoch and a third of the
slots (CLUSTER SET-CONFIG-EPOCH, CLUSTER ADDSLOTSRANGE), then every node MEETs the others;
we then wait until every node says ``cluster_state:ok``, knows the 3 masters as connected
and reports the same slot map. That takes about 2.05 s, nearly all of it Redis's own
CLUSTER_WRITABLE_DELAY (a master stays ``cluster_state:fail`` for 2 s after it starts).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from _server import free_port

HOST = "127.0.0.1"
SLOTS = 16384
FORM_TIMEOUT = 20.0


def _slot_ranges(n: int) -> list[tuple[int, int]]:
    """``n`` contiguous, inclusive ranges covering all the slots."""
    bounds = [i * SLOTS // n for i in range(n + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(n)]


def _distinct_free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class RedisClusterServer:
    """3 ``redis-server --cluster-enabled yes`` masters without persistence, in ``workdir``.

    ``ports[i]`` serves the slots ``slot_ranges[i]``. ``stop()`` ends the processes; the
    object cannot be restarted.
    """

    size = 3

    def __init__(self, workdir: Path, *, node_timeout_ms: int = 5000) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(
                "redis-server is not installed: the Redis Cluster tests need it "
                "(Debian/Ubuntu: apt-get install redis-server; see README)"
            )
        self.exe = exe
        self.workdir = workdir
        self.node_timeout_ms = node_timeout_ms
        self.slot_ranges = _slot_ranges(self.size)
        self.ports: list[int] = []
        self.bus_ports: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        started = time.monotonic()
        try:
            self._start_nodes()
            self._form()
        except BaseException:
            self.stop()
            raise
        self.formed_in = time.monotonic() - started

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.ports]

    def slot_owner(self, slot: int) -> int:
        """The port of the master serving ``slot``."""
        for port, (first, last) in zip(self.ports, self.slot_ranges, strict=True):
            if first <= slot <= last:
                return port
        raise ValueError(f"no slot {slot}")

    # -- processes ------------------------------------------------------------

    def _start_nodes(self) -> None:
        # A free port may be taken by someone else between free_port() and the server's
        # bind: a node that dies at start is retried on new ports, a few times.
        for attempt in range(5):
            # The cluster bus port is given explicitly: the default (port + 10000) may be
            # above 65535 or taken, since free ports come from the ephemeral range.
            ports = _distinct_free_ports(2 * self.size)
            procs = [self._spawn(ports[i], ports[self.size + i]) for i in range(self.size)]
            self.procs = procs
            self.ports = ports[: self.size]
            self.bus_ports = ports[self.size :]
            if all(map(self._wait_up, self.ports, procs)):
                return
            self._terminate()
            if attempt == 4:
                raise RuntimeError(
                    f"redis-server (cluster mode) did not start; logs in {self.workdir}"
                )

    def _spawn(self, port: int, bus_port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                self.exe,
                "--port", str(port),
                "--bind", HOST,
                "--cluster-enabled", "yes",
                "--cluster-port", str(bus_port),
                "--cluster-config-file", str(self.workdir / f"nodes-{port}.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / f"redis-{port}.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def _wait_up(self, port: int, proc: subprocess.Popen[bytes]) -> bool:
        import redis

        deadline = time.monotonic() + 10
        with redis.Redis(host=HOST, port=port, socket_timeout=1, retry=None) as r:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    # Our process, not some other server that took the port first.
                    if r.info("server")["process_id"] == proc.pid:
                        return True
                except redis.ConnectionError:
                    pass
                time.sleep(0.01)
        return False

    def _terminate(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs = []

    def stop(self) -> None:
        self._terminate()

    # -- forming --------------------------------------------------------------

    def _command(self, port: int, *args: Any) -> Any:
        import redis

        with redis.Redis(
            host=HOST, port=port, socket_timeout=5, decode_responses=True, retry=None
        ) as r:
            return r.execute_command(*args)

    def _form(self) -> None:
        for epoch, (port, (first, last)) in enumerate(
            zip(self.ports, self.slot_ranges, strict=True), start=1
        ):
            # Distinct epochs up front, as redis-cli --cluster create does, so the nodes
            # do not have to resolve an epoch collision (which takes a while).
            self._command(port, "CLUSTER", "SET-CONFIG-EPOCH", epoch)
            self._command(port, "CLUSTER", "ADDSLOTSRANGE", first, last)
        # Every node meets every other one, rather than learning of them by gossip, which
        # saves a heartbeat or two. The bus port must be given: it is not port + 10000.
        for port in self.ports:
            for other, bus_port in zip(self.ports, self.bus_ports, strict=True):
                if other != port:
                    self._command(port, "CLUSTER", "MEET", HOST, other, bus_port)
        deadline = time.monotonic() + FORM_TIMEOUT
        why = "not checked yet"
        while time.monotonic() < deadline:
            why = self._not_formed_because()
            if not why:
                return
            time.sleep(0.02)
        raise RuntimeError(
            f"the Redis Cluster on ports {self.ports} did not form within "
            f"{FORM_TIMEOUT:g} s: {why}; logs in {self.workdir}"
        )

    def _expected_slots(self) -> list[tuple[int, int, int]]:
        return sorted(
            (first, last, port)
            for port, (first, last) in zip(self.ports, self.slot_ranges, strict=True)
        )

    def _not_formed_because(self) -> str:
        """Why the cluster is not usable yet, or "" once every node agrees that it is."""
        import redis

        expected = self._expected_slots()
        for port, proc in zip(self.ports, self.procs, strict=True):
            if proc.poll() is not None:
                return f"the node on port {port} exited with {proc.returncode}"
            try:
                info = self._command(port, "CLUSTER", "INFO")
                nodes = self._command(port, "CLUSTER", "NODES")
                slots = self._command(port, "CLUSTER", "SLOTS")
            except redis.RedisError as e:
                return f"port {port}: {e!r}"
            if "cluster_state:ok" not in str(info):
                return f"port {port}: not cluster_state:ok"
            known = _node_lines(nodes)
            if len(known) != self.size or not all(
                "master" in flags and "fail" not in flags and "handshake" not in flags
                and link == "connected"
                for flags, link in known
            ):  # fmt: skip
                return f"port {port} sees the nodes as {known}"
            seen = sorted((int(s[0]), int(s[1]), int(s[2][1])) for s in slots)
            if seen != expected:
                return f"port {port} reports slots {seen}, expected {expected}"
        return ""

    # -- helpers for the tests ------------------------------------------------

    def flushall(self) -> None:
        for port in self.ports:
            self._command(port, "FLUSHALL")


def _node_lines(nodes: str) -> list[tuple[str, str]]:
    """(flags, link-state) of each node in a CLUSTER NODES reply."""
    lines = [line.split() for line in nodes.splitlines() if line.strip()]
    return [(parts[2], parts[7]) for parts in lines]
