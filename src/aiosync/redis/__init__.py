"""aiosync's primitives across processes and hosts, on Redis (``pip install aiosync[redis]``).

Each primitive takes the user's ``redis.asyncio.Redis`` client and a name; every process
using the same name on the same Redis shares it. Work in progress: ``Lock`` and ``RLock``
so far (see docs/redis.md for what they guarantee and what is still to come).
"""

try:
    import redis.asyncio  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError("aiosync.redis needs the redis package: pip install 'aiosync[redis]'") from e

from ._lock import Lock, LockLostError, RLock

__all__ = ["Lock", "LockLostError", "RLock"]
