"""Barrier on Redis: parties in any processes meet, round after round."""

from __future__ import annotations

from typing import Any

from .._barrier import BrokenBarrierError
from .._base import whole_number
from .._parking import check_timeout
from ._named import Named, check_lease, ms
from ._waiting import BROKEN, Answer, shielded, wait_on_redis

__all__ = ["Barrier"]


class Barrier(Named):
    """A barrier for ``parties`` parties in any processes using the same ``name``.

    The local aiosync.Barrier's rules, across processes: when the last party arrives,
    every waiting party is released (pushed through pub/sub) with a distinct arrival index
    in ``range(parties)``, in arrival order as Redis saw it, the tripping party getting
    ``parties - 1``; the next round starts at once. A party cancelled while the barrier
    fills just leaves; a ``wait(timeout=)`` that expires breaks the barrier
    (BrokenBarrierError for every party waiting). **A waiting party is a lease**: it renews
    it by asking Redis again every lease/3 (or sooner: when the first other lease would run
    out), and a party whose process dies, or stalls past its lease, breaks the barrier for
    the others within its lease. ``abort()`` breaks it until ``reset()``; ``reset()`` makes
    waiting parties raise BrokenBarrierError and starts a fresh round. Every process must
    give the same ``parties`` for a name (ValueError otherwise).
    """

    def __init__(self, client: Any, name: str, parties: int, *, lease: float = 30.0) -> None:
        parties = whole_number("parties", parties, 1)
        super().__init__(client, name, "barrier", parties, ("queue", "alive", "indices"))
        self.lease = check_lease(lease)

    def __repr__(self) -> str:
        return f"<aiosync.redis.Barrier {self.name!r} parties={self.parties}>"

    @property
    def parties(self) -> int:
        """The number of parties that trips the barrier."""
        return int(self.value)

    async def wait(self, timeout: float | None = None) -> int:
        """Wait until all parties have arrived; return this party's arrival index.

        Raises BrokenBarrierError if the barrier is broken, or is aborted, reset or broken
        (a party timed out, or died) while waiting. With ``timeout`` (seconds), an expired
        wait breaks the barrier and raises BrokenBarrierError.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        session = await self.session()
        party = session.new_owner(0)
        script = session.script("barrier_wait")
        lease_ms = ms(self.lease)
        arrived = [""]  # the round this party arrived in, once it has

        async def ask(wait: bool) -> Answer:
            reply = self.checked(
                await script(
                    keys=self.keys,
                    args=[party, lease_ms, arrived[0], "1" if wait else "0", self.kind, self.value],
                )
            )
            status = int(reply[0])
            if status == 1:
                return True, int(reply[1]), 0.0
            if status == -4:
                return True, BROKEN, 0.0
            arrived[0] = str(int(reply[1]))
            first_lease_ends = int(reply[2]) / 1000
            recheck = self.lease / 3
            if first_lease_ends > 0:
                recheck = min(recheck, first_lease_ends)
            return False, None, recheck

        async def give_up() -> None:
            await session.script("barrier_leave")(keys=self.keys, args=[party, "leave", arrived[0]])

        index = await wait_on_redis(session, party, timeout, ask, lambda news: news, give_up)
        if index is None:  # timed out (and left): that breaks the round it waited in
            await shielded(
                session.script("barrier_leave")(keys=self.keys, args=[party, "break", arrived[0]])
            )
            raise BrokenBarrierError("Barrier wait timed out")
        if index == BROKEN:
            raise BrokenBarrierError("Barrier aborted, reset or broken")
        return int(index)

    async def abort(self) -> None:
        """Break the barrier: waiting and future parties get BrokenBarrierError until
        ``reset()``."""
        await shielded(self.call("barrier_control", "abort", self.kind, self.value))

    async def reset(self) -> None:
        """Return the barrier to a fresh, unbroken round; waiting parties get
        BrokenBarrierError."""
        await shielded(self.call("barrier_control", "reset", self.kind, self.value))

    async def n_waiting(self) -> int:
        """The number of parties waiting now, in every process."""
        reply = await self.call("barrier_control", "state", self.kind, self.value)
        return int(reply[1])

    async def broken(self) -> bool:
        """Whether the barrier is broken."""
        reply = await self.call("barrier_control", "state", self.kind, self.value)
        return bool(int(reply[2]))

    async def __aenter__(self) -> int:
        return await self.wait()

    async def __aexit__(self, *args: object) -> None:
        pass
