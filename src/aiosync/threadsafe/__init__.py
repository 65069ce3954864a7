"""aiosync's primitives for programs that mix event loops and threads.

One instance may be used at the same time by tasks on any number of event loops (asyncio or
uvloop, each in its own thread) and by plain threads, with no lost wake-up and no double
grant. Each class has the async face of the top-level class of the same name (``await
lock.acquire(timeout=)``, ``async with``, ...) and a blocking face, ``obj.sync``, with the
threading module's API (``with lock.sync:``, ``event.sync.wait(timeout)``, ...). Tasks and
threads wait in one FIFO queue; a waiter is woken on its own loop or in its own thread.
Methods that never block (``event.set()``, ``lock.release()``, ``latch.count_down()``) may
be called from any thread, inside a loop or not; a blocking call of the ``sync`` face from a
thread whose event loop is running raises RuntimeError (it would freeze the loop).

See docs/threadsafe.md for the guarantees and what they cost.
"""

from .._barrier import BrokenBarrierError
from ._primitives import (
    Barrier,
    BoundedSemaphore,
    CapacityLimiter,
    Condition,
    CountdownLatch,
    Event,
    Lock,
    RLock,
    RWLock,
    Semaphore,
)

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "CapacityLimiter",
    "Condition",
    "CountdownLatch",
    "Event",
    "Lock",
    "RLock",
    "RWLock",
    "Semaphore",
]
