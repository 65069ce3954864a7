"""Helpers for tests that run event loops in threads of their own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: How long any test waits for something that should happen at once before failing: far
#: more than it ever takes, so that a slow machine does not fail a test, and a hang does.
DEADLINE = 10.0


class LoopThread:
    """An event loop running forever in a thread of its own."""

    def __init__(self, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None):
        self.loop = (loop_factory or asyncio.new_event_loop)()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.submit(coro).result(DEADLINE)

    def stop(self) -> None:
        """Stop the loop, leaving whatever tasks it had pending as they are."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()

    def close(self) -> None:
        """Cancel what is pending, let it finish, and close the loop."""
        if self.thread.is_alive():

            async def cancel_all() -> None:
                me = asyncio.current_task()
                tasks = [t for t in asyncio.all_tasks() if t is not me]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            self.run(cancel_all())
            self.stop()
        self.loop.close()


def start_thread(fn: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run ``fn`` in a new plain thread; its result or exception in a future."""
    fut: concurrent.futures.Future[T] = concurrent.futures.Future()

    def target() -> None:
        try:
            fut.set_result(fn())
        except BaseException as e:
            fut.set_exception(e)

    threading.Thread(target=target, daemon=True).start()
    return fut


def wait_until(predicate: Callable[[], object], what: str) -> None:
    """Poll ``predicate`` until true; fail after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.001)
