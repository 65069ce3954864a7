"""KeyedLock: one Lock per key, existing only while some task holds or waits for it."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._base import AcquireContext, calling_task
from ._lock import RLock
from ._parking import check_timeout

__all__ = ["KeyedLock", "KeyedLockStatistics"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class KeyedLockStatistics:
    #: Keys held or waited for.
    active_keys: int
    locked_keys: int
    tasks_waiting: int


class _Entry(RLock):
    """A key's lock, and how many holds and waits it has (the entry's lifetime)."""

    __slots__ = ("users",)

    def __init__(self) -> None:
        super().__init__()
        self.users = 0


class KeyedLock(Generic[K]):
    """Per-key mutual exclusion: ``async with locks[key]`` serialises work per key.

    Guarantees: for each key, the behaviour of an RLock (FIFO, cancellation-safe,
    ``acquire(timeout=)``; a key is held by a task, which may take it again and must
    release it as often, and only the holder may release it: RuntimeError otherwise);
    distinct keys never block each other. A key's entry exists only while some task holds
    or waits for it, so memory returns to its baseline however many distinct keys have been
    used.
    """

    __slots__ = ("_entries", "_peak")

    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}
        self._peak = 0  # the most entries held at once since the dict was last rebuilt

    def __getitem__(self, key: K) -> _KeyLock[K]:
        hash(key)  # an unhashable key fails here, not at the first acquire
        return _KeyLock(self, key)

    def __len__(self) -> int:
        """The number of keys some task holds or waits for."""
        return len(self._entries)

    def __repr__(self) -> str:
        cls = type(self)
        return f"<{cls.__module__}.{cls.__qualname__} object at {id(self):#x} [keys:{len(self)}]>"

    def _enter(self, key: K) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            if len(self._entries) > self._peak:
                self._peak = len(self._entries)
        entry.users += 1
        return entry

    def _leave(self, key: K, entry: _Entry) -> None:
        entry.users -= 1
        if not entry.users:
            del self._entries[key]
            # A dict never shrinks on deletion: rebuild it once it is far below its peak.
            if self._peak > 64 and len(self._entries) * 8 < self._peak:
                self._entries = dict(self._entries)
                self._peak = len(self._entries)

    def statistics(self) -> KeyedLockStatistics:
        """Return a snapshot: active keys, locked keys, tasks waiting."""
        entries = self._entries.values()
        return KeyedLockStatistics(
            len(self._entries),
            sum(1 for e in entries if e.locked()),
            sum(e.statistics().tasks_waiting for e in entries),
        )


class _KeyLock(AcquireContext, Generic[K]):
    """The lock of one key of a KeyedLock (what ``locks[key]`` returns)."""

    __slots__ = ("_key", "_keyed")

    def __init__(self, keyed: KeyedLock[K], key: K) -> None:
        self._keyed = keyed
        self._key = key

    def __repr__(self) -> str:
        return f"<lock of key {self._key!r} in {self._keyed!r}>"

    async def acquire(self, timeout: float | None = None) -> bool:
        """Acquire this key's lock, waiting in FIFO order; return True.

        With ``timeout`` (seconds), return False if not acquired in time.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        keyed = self._keyed
        entry = keyed._enter(self._key)
        try:
            acquired = await entry.acquire(timeout)
        except BaseException:
            keyed._leave(self._key, entry)
            raise
        if not acquired:
            keyed._leave(self._key, entry)
        return acquired

    def release(self) -> None:
        """Release this key's lock; RuntimeError if the calling task does not hold it."""
        entry = self._keyed._entries.get(self._key)
        if entry is None or not entry.locked():
            raise RuntimeError(f"the lock of key {self._key!r} is not acquired")
        task = calling_task(self)
        if entry.statistics().owner is not task:
            raise RuntimeError(
                f"{task.get_name()} releases the lock of key {self._key!r}, which it does not hold"
            )
        entry.release()
        self._keyed._leave(self._key, entry)

    def locked(self) -> bool:
        """True if some task holds this key's lock."""
        entry = self._keyed._entries.get(self._key)
        return entry is not None and entry.locked()
