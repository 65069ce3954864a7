"""Event and CountdownLatch on Redis: signals that open for every waiter in every process."""

from __future__ import annotations

from typing import Any

from .._base import whole_number
from .._parking import check_timeout
from ._named import Named, ms
from ._waiting import REGISTRATION, Answer, shielded, wait_on_redis

__all__ = ["CountdownLatch", "Event"]


class _Signal(Named):
    """Shared by Event and CountdownLatch: waiting until the signal is open."""

    def __init__(self, client: Any, name: str, kind: str, value: int) -> None:
        super().__init__(client, name, kind, value, ("waiters",))

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the signal is open; return True. With ``timeout`` (seconds), return
        False if it did not open in time, leaving nothing registered."""
        if timeout is not None:
            timeout = check_timeout(timeout)
        session = await self.session()
        waiter_id = session.new_owner(0)
        script = session.script("signal_wait")
        stay = ms(REGISTRATION)

        openings = [""]  # counted at this waiter's first call

        async def ask(register: bool) -> Answer:
            args = [waiter_id, stay, "1" if register else "0", self.kind, self.value, openings[0]]
            reply = self.checked(await script(keys=self.keys, args=args))
            if int(reply[0]) == 1:
                return True, True, 0.0
            openings[0] = openings[0] or str(int(reply[1]))
            return False, None, REGISTRATION / 3

        def hear(news: Any) -> bool:
            return True  # it opened (an opening is never taken back from its waiters)

        async def give_up() -> None:
            await session.script("signal_leave")(keys=self.keys, args=[waiter_id])

        return await wait_on_redis(session, waiter_id, timeout, ask, hear, give_up) is True

    async def _state(self) -> tuple[bool, int, int]:
        """(open, state, live waiters)."""
        reply = await self.call("signal_state", self.kind, self.value)
        return bool(int(reply[1])), int(reply[2]), int(reply[3])


class Event(_Signal):
    """An event shared through Redis by every process that uses the same ``name``.

    Guarantees: ``set()`` wakes every waiter in every process (pushed through pub/sub, one
    message per waiter); a waiter registers and checks the flag in one script call, so a
    ``set()`` at any moment after that reaches it, and one before it is seen at once. As
    asyncio.Event, a waiter woken by ``set()`` returns True even if the event is cleared
    right after. A waiter never relies on the message alone: it asks again every 10 s, so
    a message lost with a connection costs that at most (after a pub/sub reconnection,
    every waiter asks again at once). ``wait(timeout=)`` returns False on timeout and a
    cancelled waiter leaves, both leaving nothing registered. The flag lives in Redis with
    no expiry (a restart without persistence clears it).
    """

    def __init__(self, client: Any, name: str) -> None:
        super().__init__(client, name, "event", 0)

    def __repr__(self) -> str:
        return f"<aiosync.redis.Event {self.name!r}>"

    async def is_set(self) -> bool:
        """Whether the event is set now."""
        is_open, _, _ = await self._state()
        return is_open

    async def set(self) -> None:
        """Set the event: every process's waiters wake and return True."""
        await shielded(self.call("event_set", "1", self.kind, self.value))

    async def clear(self) -> None:
        """Clear the event: later waiters wait for the next ``set()``."""
        await shielded(self.call("event_set", "0", self.kind, self.value))


class CountdownLatch(_Signal):
    """A latch shared through Redis: it opens, for every process, once ``count_down()``
    has been called ``count`` times in all. Every process must give the same ``count``
    for a name (ValueError otherwise).

    Guarantees: as aiosync.CountdownLatch, across processes: at zero every waiter
    everywhere wakes (pushed, as for Event) and ``wait()`` returns True at once from then
    on (the latch never closes again: use a new name for a new count); counting below
    zero is a ValueError and changes nothing. The count lives in Redis with no expiry.
    """

    def __init__(self, client: Any, name: str, count: int) -> None:
        super().__init__(client, name, "latch", whole_number("count", count, 0))

    def __repr__(self) -> str:
        return f"<aiosync.redis.CountdownLatch {self.name!r} of {self.value}>"

    async def count(self) -> int:
        """How many more ``count_down()`` calls open the latch."""
        _, count, _ = await self._state()
        return count

    async def count_down(self, n: int = 1) -> None:
        """Count ``n`` events; at zero, wake every waiter in every process."""
        whole_number("n", n, 1)
        reply = await shielded(self.call("latch_count_down", n, self.kind, self.value))
        if int(reply[0]) == -3:
            raise ValueError(f"count_down({n!r}) would take the count {int(reply[1])} below zero")
