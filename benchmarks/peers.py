"""The peers: the packages people use today for what aiosync's newer primitives do.

Each implementation in the peer suite is an *adapter*: a namespace of factory functions
that the peer workloads (benchmarks/peer_workloads.py) call to build their primitive:

* ``rwlock()`` returns the ``(read, write)`` pair of async context managers of a new
  reader-writer lock;
* ``rate_limiter(rate, period)`` returns a new limiter allowing ``rate`` units per
  ``period`` seconds with a burst of ``rate`` (both limiters implement exactly that bound);
* ``capacity_limiter(tokens)`` returns a new limiter of ``tokens`` tokens;
* ``rlock()`` returns a new (reentrant) lock.

Each factory returns the library's own object, so no adapter code runs in a timed
section; the workload then calls that object's own API (``async with``, ``acquire()``).
Every library is used as documented, with its defaults unless a peer's name says
otherwise (aiorwlock's ``fast=True``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import SimpleNamespace
from typing import Any

import aiosync

from .harness import CANDIDATE, Impl


def _aiosync_rwlock() -> tuple[Any, Any]:
    rw = aiosync.RWLock()
    return rw.read, rw.write


def _aiosync_rate_limiter(rate: float, period: float) -> aiosync.RateLimiter:
    return aiosync.RateLimiter(rate, period, burst=rate)  # burst=rate is also the default


AIOSYNC = SimpleNamespace(
    rwlock=_aiosync_rwlock,
    rate_limiter=_aiosync_rate_limiter,
    capacity_limiter=aiosync.CapacityLimiter,
    rlock=aiosync.RLock,
)
"""aiosync's side of every peer workload."""


def _aiorwlock(fast: bool) -> Callable[[], SimpleNamespace]:
    def load() -> SimpleNamespace:
        import aiorwlock

        def rwlock() -> tuple[Any, Any]:
            rw = aiorwlock.RWLock(fast=fast)
            return rw.reader, rw.writer

        return SimpleNamespace(rwlock=rwlock)

    return load


def _aiolimiter() -> SimpleNamespace:
    from aiolimiter import AsyncLimiter

    def rate_limiter(rate: float, period: float) -> Any:
        # A leaky bucket of capacity max_rate draining at max_rate / time_period per second:
        # max_rate units at once, then max_rate per time_period, which is the bound of
        # aiosync.RateLimiter(rate, period, burst=rate).
        return AsyncLimiter(max_rate=rate, time_period=period)

    return SimpleNamespace(rate_limiter=rate_limiter)


def _anyio() -> SimpleNamespace:
    import anyio

    # Created inside the running asyncio (or uvloop) loop, anyio picks its asyncio
    # backend's CapacityLimiter.
    return SimpleNamespace(capacity_limiter=anyio.CapacityLimiter)


def _asyncio_lock() -> SimpleNamespace:
    return SimpleNamespace(rlock=asyncio.Lock)


def _aiologic() -> SimpleNamespace:
    import aiologic

    return SimpleNamespace(rlock=aiologic.RLock)


@dataclass(frozen=True)
class Peer:
    name: str  # the name in the tables: what a user would write
    distribution: str | None  # whose version the header shows; None for the stdlib
    load: Callable[[], SimpleNamespace]  # imports the package; ImportError if missing


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer("aiorwlock.RWLock()", "aiorwlock", _aiorwlock(fast=False)),
        Peer("aiorwlock.RWLock(fast=True)", "aiorwlock", _aiorwlock(fast=True)),
        Peer("aiolimiter.AsyncLimiter", "aiolimiter", _aiolimiter),
        Peer("anyio.CapacityLimiter", "anyio", _anyio),
        Peer("asyncio.Lock", None, _asyncio_lock),
        Peer("aiologic.RLock", "aiologic", _aiologic),
    )
}


def load(names: Iterable[str]) -> tuple[dict[str, SimpleNamespace], list[str]]:
    """Import the named peers; return the importable ones and a note for each other."""
    loaded: dict[str, SimpleNamespace] = {}
    notes: list[str] = []
    for name in dict.fromkeys(names):
        try:
            loaded[name] = PEERS[name].load()
        except ImportError as exc:
            notes.append(f"{name} skipped: not importable on this Python ({exc})")
    return loaded, notes


def impls_for(peers: Iterable[str], loaded: dict[str, SimpleNamespace]) -> list[Impl]:
    """The implementations of one peer workload's run: its loaded peers, then aiosync."""
    available: list[Impl] = [(name, loaded[name]) for name in peers if name in loaded]
    return [*available, (CANDIDATE, AIOSYNC)] if available else []


def versions(names: Iterable[str]) -> dict[str, str]:
    """Each named peer's distribution and version (what the header and JSON show)."""
    out: dict[str, str] = {}
    for name in names:
        dist = PEERS[name].distribution
        if dist is None:
            out[name] = "stdlib"
            continue
        try:
            out[name] = f"{dist} {version(dist)}"
        except PackageNotFoundError:
            out[name] = f"{dist} (not installed)"
    return out


def settings_notes(loaded: Iterable[str]) -> list[str]:
    """Environment settings that change a loaded peer's behaviour, as set for this run."""
    if not any(PEERS[name].distribution == "aiologic" for name in loaded):
        return []
    names = ("AIOLOGIC_ASYNCIO_CHECKPOINTS", "AIOLOGIC_ASYNC_CHECKPOINTS")
    setting = next((f"{n}={os.environ[n]!r}" for n in names if n in os.environ), None)
    if setting is None:
        return [f"aiologic: {' and '.join(names)} unset, so no checkpoints on asyncio (default)"]
    return [f"aiologic: {setting} (a non-empty value turns checkpoints on)"]
