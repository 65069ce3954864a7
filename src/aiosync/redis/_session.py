"""What the primitives of one Redis client share: a process-unique id, the Lua scripts, one
pub/sub connection that turns releases into wake-ups, and the watchdog that renews leases.

One session per client object (and event loop), made on first use. Wake-ups are pushed:
a release publishes the id of the waiter now at the head of the queue on the lock's
channel, and the session's reader wakes that waiter. A waiter never relies on the message
alone: it re-checks after a bounded time (its lock's remaining lease, at most a third of
its queue lease), so a notification lost with a connection costs a re-check, not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from redis.exceptions import RedisError

__all__ = ["Hold", "Session", "session_of"]

#: Leases renewed per script call.
RENEW_BATCH = 100


def _script_text(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text("utf-8")


@dataclass(eq=False)
class Hold:
    """One granted acquisition, kept alive by the watchdog until released or lost."""

    key: str  # the holder key
    value: str  # "<owner>:<token>"
    token: int
    lease: float
    on_lost: Callable[[Hold], None]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    #: The last time (loop clock) Redis confirmed the hold.
    confirmed: float = 0.0


class Session:
    """Shared by every aiosync.redis primitive built on one client (see module docstring)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.id = uuid.uuid4().hex
        self._scripts: dict[str, Any] = {}
        self._waiters: dict[str, asyncio.Event] = {}  # owner -> its wake-up
        self._channels: dict[str, int] = {}  # channel -> waiters listening
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._holds: set[Hold] = set()
        self._watchdog: asyncio.Task[None] | None = None

    def script(self, name: str) -> Any:
        """The named Lua script of ``lua/``, registered once with this client (EVALSHA,
        loaded again if the server lost it)."""
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(_script_text(name))
        return script

    def new_owner(self) -> str:
        """An id for one acquisition, unique across processes."""
        return f"{self.id}:{uuid.uuid4().hex[:16]}"

    # --- wake-ups ----------------------------------------------------------------------

    async def listen(self, channel: str, owner: str) -> asyncio.Event:
        """Subscribe (if not yet) to ``channel``; return the event a wake-up for ``owner``
        sets. Call ``unlisten`` when done."""
        event = self._waiters[owner] = asyncio.Event()
        count = self._channels.get(channel, 0)
        self._channels[channel] = count + 1
        if not count:
            if self._pubsub is None:
                self._pubsub = self.client.pubsub()
            await self._pubsub.subscribe(channel)
            if self._reader is None or self._reader.done():
                self._reader = self.loop.create_task(self._read(), name="aiosync.redis wake-ups")
        return event

    async def unlisten(self, channel: str, owner: str) -> None:
        self._waiters.pop(owner, None)
        count = self._channels.get(channel, 0) - 1
        if count > 0:
            self._channels[channel] = count
            return
        self._channels.pop(channel, None)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # a lost connection unsubscribed it anyway
                await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while self._channels:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError, asyncio.TimeoutError):
                # Messages sent meanwhile are lost: every waiter re-checks now (and the
                # next get_message reconnects and subscribes again).
                self._wake_all()
                await asyncio.sleep(0.1)
                continue
            if message is None:
                continue
            if message.get("type") == "subscribe":
                # Also after a reconnection, which may have lost messages.
                self._wake_all()
                continue
            if message.get("type") != "message":
                continue
            data = message["data"]
            owner = data.decode() if isinstance(data, bytes) else str(data)
            event = self._waiters.get(owner)
            if event is not None:
                event.set()

    def _wake_all(self) -> None:
        for event in self._waiters.values():
            event.set()

    # --- leases ------------------------------------------------------------------------

    def keep(self, hold: Hold) -> None:
        """Renew ``hold`` every lease/3 until ``drop``; ``hold.on_lost`` if it is lost."""
        hold.confirmed = self.loop.time()
        self._holds.add(hold)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = self.loop.create_task(self._renew(), name="aiosync.redis watchdog")

    def drop(self, hold: Hold) -> None:
        self._holds.discard(hold)

    async def _renew(self) -> None:
        script = self.script("renew")
        while self._holds:
            await asyncio.sleep(min(h.lease for h in self._holds) / 3)
            holds = list(self._holds)
            for start in range(0, len(holds), RENEW_BATCH):
                batch = holds[start : start + RENEW_BATCH]
                for lease, group in _by_lease(batch).items():
                    await self._renew_group(script, lease, group)

    async def _renew_group(self, script: Any, lease: float, group: list[Hold]) -> None:
        asked = self.loop.time()
        # Not past the first lease to run out: the client's own retries (ten, by default)
        # could otherwise outlast it, and a loss would be noticed late.
        patience = min(h.confirmed + h.lease for h in group) - asked
        try:
            results = await asyncio.wait_for(
                script(
                    keys=[h.key for h in group],
                    args=[*(h.value for h in group), int(lease * 1000)],
                ),
                max(patience, 0.001),
            )
        except Exception:
            # Unreachable: the holds are lost once their lease ran out unconfirmed.
            now = self.loop.time()
            for hold in group:
                if now - hold.confirmed >= hold.lease:
                    self._lose(hold)
            return
        for hold, renewed in zip(group, results, strict=True):
            if renewed:
                hold.confirmed = asked
            else:
                self._lose(hold)

    def _lose(self, hold: Hold) -> None:
        if hold in self._holds:
            self._holds.discard(hold)
            hold.lost.set()
            hold.on_lost(hold)


def _by_lease(holds: list[Hold]) -> dict[float, list[Hold]]:
    groups: dict[float, list[Hold]] = {}
    for hold in holds:
        groups.setdefault(hold.lease, []).append(hold)
    return groups


_sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()


def session_of(client: Any) -> Session:
    """The session of ``client`` on the running loop (a new one for a new loop)."""
    session = _sessions.get(client)
    if session is None or session.loop is not asyncio.get_running_loop():
        session = _sessions[client] = Session(client)
    return session
