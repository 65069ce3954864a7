"""What every aiosync.redis primitive is underneath: a name in Redis, of some kind, with
keys under one hash tag; the argument checks all of them share."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis, RedisCluster

from .._base import positive_number
from ._session import Session, session_of

__all__ = ["Named", "check_lease", "ms"]


def check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {name!r}")
    if not name:
        raise ValueError("name must not be empty")
    return name


def check_lease(lease: object) -> float:
    seconds = positive_number("lease", lease)
    if seconds < 0.01:
        raise ValueError(f"lease must be at least 0.01 s (Redis expires in ms), not {lease!r}")
    return seconds


def check_client(client: object) -> Any:
    if not isinstance(client, (Redis, RedisCluster)):
        raise TypeError(
            f"client must be a redis.asyncio.Redis or RedisCluster, not {type(client).__name__}"
        )
    return client


def ms(seconds: float) -> int:
    """Seconds as the whole milliseconds Redis counts in (at least 1)."""
    return max(1, int(seconds * 1000))


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Named:
    """One named primitive in Redis: ``keys`` are ``{aiosync:<name>}:<part>`` for each of
    ``parts`` (one hash tag: one cluster slot), the first always ``meta``, where the
    scripts record the ``kind`` and ``value`` a name was first used with."""

    def __init__(
        self, client: Any, name: str, kind: str, value: int | str, parts: tuple[str, ...]
    ) -> None:
        self.client = check_client(client)
        self.name = check_name(name)
        self.kind = kind
        self.value = value
        tag = "{aiosync:" + name + "}"
        self.keys = [f"{tag}:{part}" for part in ("meta", *parts)]

    async def session(self) -> Session:
        """The client's session, ready for calls."""
        session = session_of(self.client)
        await session.ready()
        return session

    async def call(self, script: str, *args: Any) -> Any:
        """Run ``script`` on this name's keys; its reply, checked (see ``checked``)."""
        session = await self.session()
        return self.checked(await session.script(script)(keys=self.keys, args=args))

    def checked(self, reply: Any) -> Any:
        """``reply``, unless it says the name is something else ({-2, kind, value}, from
        ``disagree`` in _common.lua): then ValueError."""
        if isinstance(reply, list) and reply and reply[0] == -2:
            kind, value = _text(reply[1]), _text(reply[2])
            raise ValueError(
                f"{self.name!r} is {_a(kind)} (value {value}) in Redis, not {_a(self.kind)} "
                f"(value {self.value}): use another name (or delete its keys, "
                f"{self.keys[0]!r} ...)"
            )
        return reply
