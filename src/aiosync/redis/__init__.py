"""aiosync's primitives across processes and hosts, on Redis (``pip install aiosync[redis]``).

Each primitive takes the user's ``redis.asyncio.Redis`` (or ``RedisCluster``) client and a
name; every process using the same name on the same Redis shares it (docs/redis.md says
what each guarantees).
"""

try:
    import redis.asyncio  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError("aiosync.redis needs the redis package: pip install 'aiosync[redis]'") from e

from .._barrier import BrokenBarrierError
from ._barrier import Barrier
from ._condition import Condition
from ._limiters import CapacityLimiter, RateLimiter
from ._lock import Lock, RLock
from ._permits import LockLostError
from ._rwlock import RWLock
from ._semaphore import BoundedSemaphore, Semaphore
from ._signals import CountdownLatch, Event

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "CapacityLimiter",
    "Condition",
    "CountdownLatch",
    "Event",
    "Lock",
    "LockLostError",
    "RLock",
    "RWLock",
    "RateLimiter",
    "Semaphore",
]
