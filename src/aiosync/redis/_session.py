"""What the primitives of one Redis client share: a process-unique id, the Lua scripts, one
pub/sub subscription that turns releases into wake-ups, and the watchdog that renews leases.

One session per client object (and event loop), made on first use. Wake-ups are pushed:
a script that grants permits to waiters publishes ``g<token>,<ms> <owner>`` on each
waiter's session channel (``aiosync:wake:<session id>``): that waiter holds them from now
on for ms (its claim window), and the session confirms the grant (makes it a full lease)
in the background. The waiter left first in the queue gets ``n<ms> <owner>``: re-check in
ms, when those grants run out unless confirmed. A waiter never relies on messages alone:
it re-checks after a bounded time, so a message lost with a connection costs a re-check,
not a hang; after a (re)subscription every waiter re-checks at once.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from redis.asyncio import ConnectionPool, Redis, RedisCluster

from ._waiting import BROKEN, Waiter

__all__ = ["CLAIM_WINDOW", "Hold", "Session", "session_of"]

#: Leases renewed per script call.
RENEW_BATCH = 100
#: How long a waiter granted by someone else's call has to confirm (seconds; less if its
#: place in the queue would have ended sooner): what a waiter that died unnoticed can cost
#: the queue.
CLAIM_WINDOW = 2.0
#: The reader unsubscribes after this long without waiters (seconds).
IDLE = 10.0

def _script_text(name: str) -> str:
    """``lua/<name>.lua``, after the shared files its first line names (``-- uses: ...``)."""
    lua = resources.files(__package__) / "lua"
    text = (lua / f"{name}.lua").read_text("utf-8")
    first_line = text.partition("\n")[0]
    uses = first_line.removeprefix("-- uses:").split() if first_line.startswith("-- uses:") else []
    return "".join((lua / f"{part}.lua").read_text("utf-8") for part in uses) + text


@dataclass(eq=False)
class Hold:
    """One granted acquisition, kept alive by the watchdog until released or lost."""

    holders: str  # the primitive's holders key
    grants: str  # and its grants key
    owner: str
    token: int
    lease: float
    on_lost: Callable[[Hold], None]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    #: Until when (loop clock) the hold is known to last, from what Redis last said.
    expires: float = 0.0
    #: Acquisitions in this process that share the hold (re-entries): it is released in
    #: Redis when the last of them is.
    uses: int = 1


class Session:
    """Shared by every aiosync.redis primitive built on one client (see module docstring)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.id = uuid.uuid4().hex
        self.channel = f"aiosync:wake:{self.id}"
        self._scripts: dict[str, Any] = {}
        self._waiters: dict[str, Waiter] = {}
        self._pubsub: Any = None
        self._subscribed: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._holds: set[Hold] = set()
        self._unconfirmed: list[Hold] = []
        self._watchdog: asyncio.Task[None] | None = None
        self._initialized = not isinstance(client, RedisCluster)
        self._initializing: asyncio.Task[Any] | None = None

    async def ready(self) -> None:
        """Call before the session's first Redis call: a cluster client must know its slot
        map first (redis-py 8.1 fails some of the first calls made at once on a new
        RedisCluster with TypeError, and its pub/sub needs the map too)."""
        if self._initialized:
            return
        if self._initializing is None:
            self._initializing = self.loop.create_task(self.client.initialize())
        initializing = self._initializing
        try:
            await asyncio.shield(initializing)
        except Exception:
            self._initializing = None  # the next call tries again
            raise
        self._initialized = True

    def script(self, name: str) -> Any:
        """The named Lua script of ``lua/``, registered once with this client (EVALSHA,
        loaded again if the server lost it)."""
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(_script_text(name))
        return script

    def new_owner(self, weight: int) -> str:
        """An id for one acquisition of ``weight`` permits, unique across processes."""
        return f"{self.id}:{uuid.uuid4().hex[:16]}:{weight}"

    # --- wake-ups ----------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Whether wake-ups reach this session now (else a waiter must not queue yet)."""
        subscribed = self._subscribed
        return subscribed is not None and subscribed.done() and not subscribed.cancelled()

    async def listen(self) -> None:
        """Subscribe to the session's channel (if not yet) and wait until Redis confirmed;
        if the subscription ends before that, return anyway (the caller re-checks)."""
        subscribed = self._subscribed
        if subscribed is None:
            subscribed = self._subscribed = self.loop.create_future()
            try:
                await self.ready()
                if self._pubsub is None:
                    self._pubsub = self._own_client().pubsub()
                await self._pubsub.subscribe(self.channel)
            except BaseException:
                self._subscribed = None
                subscribed.cancel()
                raise
            self._reader = self.loop.create_task(self._read(), name="aiosync.redis wake-ups")
        try:
            await asyncio.shield(subscribed)
        except asyncio.CancelledError:
            if not subscribed.cancelled():
                raise

    def _own_client(self) -> Any:
        """A client of its own for the subscription, with its own connection: closing the
        user's client must not cut the reader's connection, whose reconnection redis-py
        cannot cancel before Python 3.12 (asyncio.run then waited for it, 5 s on a
        cluster). On a cluster, plain pub/sub reaches every node: one node will do."""
        if isinstance(self.client, RedisCluster):
            node = self.client.get_default_node()
            pool = ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
        else:
            theirs = self.client.connection_pool
            pool = type(theirs)(
                connection_class=theirs.connection_class, **theirs.connection_kwargs
            )
        return Redis(connection_pool=pool)

    def expect(self, owner: str) -> Waiter:
        waiter = self._waiters[owner] = Waiter()
        return waiter

    def forget(self, owner: str) -> None:
        self._waiters.pop(owner, None)

    async def _read(self) -> None:
        pubsub = self._pubsub
        idle_since = self.loop.time()
        try:
            while self._waiters or self.loop.time() - idle_since < IDLE:
                if self._waiters:
                    idle_since = self.loop.time()
                message = await _outcome(pubsub.get_message(timeout=1.0))
                if isinstance(message, Exception):
                    # Messages sent meanwhile are lost: every waiter re-checks now (and the
                    # next get_message reconnects and subscribes again).
                    self._wake_all()
                    await asyncio.sleep(0.1)
                    continue
                if message is None:
                    continue
                kind = message.get("type")
                if kind == "subscribe":
                    # Also after a reconnection, which may have lost messages.
                    if self._subscribed is not None and not self._subscribed.done():
                        self._subscribed.set_result(None)
                    self._wake_all()
                elif kind == "message":
                    self._deliver(message["data"])
        finally:
            # Before awaiting anything: a waiter arriving now must subscribe afresh.
            self._pubsub = None
            subscribed, self._subscribed = self._subscribed, None
            if subscribed is not None and not subscribed.done():
                subscribed.cancel()
            self._wake_all()
            await pubsub.aclose()
            await pubsub.connection_pool.aclose()

    def _deliver(self, data: bytes | str) -> None:
        # '<kind><detail> <waiter id>': 'g<token>,<ms>' granted (for a claim window of ms),
        # 'n<ms>' you are next (re-check in ms), 'e' the signal opened (a barrier: 'e<index>'
        # it tripped), 'x' the barrier broke.
        text = data.decode() if isinstance(data, bytes) else str(data)
        detail, _, waiter_id = text[1:].partition(" ")
        waiter = self._waiters.get(waiter_id)
        if waiter is None:
            return
        kind = text[0]
        if kind == "n":
            waiter.next_by = self.loop.time() + int(detail) / 1000
        elif kind == "g":
            token, _, claim_ms = detail.partition(",")
            waiter.news = (int(token), int(claim_ms) / 1000)
        elif kind == "x":
            waiter.news = BROKEN
        else:
            waiter.news = int(detail) if detail else True
        waiter.event.set()

    def _wake_all(self) -> None:
        for waiter in self._waiters.values():
            waiter.event.set()

    # --- leases ------------------------------------------------------------------------

    def keep(self, hold: Hold, *, claimed: float | None = None) -> None:
        """Renew ``hold`` every lease/3 until ``drop``; ``hold.on_lost`` if it is lost.
        A hold handed over by another process's call (``claimed``: its claim window, in
        seconds, counted from now) is confirmed at once, in the background."""
        now = self.loop.time()
        hold.expires = now + (hold.lease if claimed is None else claimed)
        self._holds.add(hold)
        if claimed is not None:
            self._unconfirmed.append(hold)
            if len(self._unconfirmed) == 1:
                self.loop.create_task(self._confirm(), name="aiosync.redis confirm")
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = self.loop.create_task(self._renew(), name="aiosync.redis watchdog")

    def drop(self, hold: Hold) -> None:
        self._holds.discard(hold)

    async def _confirm(self) -> None:
        await asyncio.sleep(0)  # the hand-offs heard in this tick, in one call
        holds, self._unconfirmed = [h for h in self._unconfirmed if h in self._holds], []
        script = self.script("renew")
        for group in self._batches(holds):
            await self._renew_group(script, group)

    async def _renew(self) -> None:
        script = self.script("renew")
        while self._holds:
            # Every lease/3, and when a hold runs out if its renewals kept failing.
            now = self.loop.time()
            period = min(h.lease for h in self._holds) / 3
            await asyncio.sleep(max(min(period, min(h.expires for h in self._holds) - now), 0))
            for group in self._batches(list(self._holds)):
                await self._renew_group(script, group)

    def _batches(self, holds: list[Hold]) -> list[list[Hold]]:
        """Holds renewable by one script call: same lease, same cluster slot, at most
        RENEW_BATCH of them."""
        cluster = isinstance(self.client, RedisCluster)
        groups: dict[tuple[float, int], list[Hold]] = {}
        for hold in holds:
            slot = self.client.keyslot(hold.holders) if cluster else 0
            groups.setdefault((hold.lease, slot), []).append(hold)
        return [
            group[start : start + RENEW_BATCH]
            for group in groups.values()
            for start in range(0, len(group), RENEW_BATCH)
        ]

    async def _renew_group(self, script: Any, group: list[Hold]) -> None:
        asked = self.loop.time()
        # Not past the first lease to run out: the client's own retries (ten, by default)
        # could otherwise outlast it, and a loss would be noticed late.
        patience = min(h.expires for h in group) - asked
        results = await _outcome(
            asyncio.wait_for(
                script(
                    keys=[key for h in group for key in (h.holders, h.grants)],
                    args=[*(h.owner for h in group), int(group[0].lease * 1000)],
                ),
                max(patience, 0.001),
            )
        )
        if isinstance(results, Exception):
            # Unreachable: the holds are lost once their lease ran out unconfirmed.
            now = self.loop.time()
            for hold in group:
                if now >= hold.expires:
                    self._lose(hold)
            return
        for hold, renewed in zip(group, results, strict=True):
            if renewed:
                hold.expires = asked + hold.lease
            else:
                self._lose(hold)

    def _lose(self, hold: Hold) -> None:
        if hold in self._holds:
            self._holds.discard(hold)
            hold.lost.set()
            hold.on_lost(hold)


async def _outcome(awaitable: Any) -> Any:
    """The result of ``awaitable``, or the error it raised; cancelling the caller ends the
    wait at once, even though redis-py's calls can swallow a cancellation (the call is left
    to finish on its own, its outcome dropped): the session's background tasks must end
    when the loop closes."""
    call = asyncio.ensure_future(_result_or_error(awaitable))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        call.cancel()
        raise


async def _result_or_error(awaitable: Any) -> Any:
    # An error is returned, not raised: a call that outlived its caller must not end with
    # an error nobody retrieves (asyncio.run reports those at shutdown).
    try:
        return await awaitable
    except Exception as error:  # RedisError, OSError; a cluster's errors are neither
        return error


_sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()


def session_of(client: Any) -> Session:
    """The session of ``client`` on the running loop (a new one for a new loop)."""
    session = _sessions.get(client)
    if session is None or session.loop is not asyncio.get_running_loop():
        session = _sessions[client] = Session(client)
    return session
