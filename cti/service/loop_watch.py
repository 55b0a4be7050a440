"""The event loop's watch: how late it runs, and what it ran when it stalled.

Everything the CTI does (AMI events, pops, WebSocket heartbeats, AGI) runs
on one event loop; a callback that blocks it, or a process starved of CPU,
delays all of them at once (a WebSocket whose pong is read more than half
the heartbeat late is dropped). The loop ticks every ``tick_s``; a tick
later than ``warn_s`` is logged with its lateness. A thread samples the loop
while a tick is overdue and logs the loop thread's stack once per stall: a
stack in the selector means the process got no CPU (or no GIL), any other
stack is the code that blocked the loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)


class LoopWatch:
    def __init__(self, warn_s: float, tick_s: float = 0.25) -> None:
        self.warn_s, self.tick_s = warn_s, tick_s
        self.worst_lag_s = 0.0  # the latest tick so far, seconds late
        self.stalls = 0  # ticks later than warn_s
        self.stacks: list[str] = []  # the last stacks sampled during stalls
        self._tick = time.monotonic()
        self._stop = threading.Event()

    async def run(self) -> None:
        """Tick until cancelled (off when ``warn_s`` is 0)."""
        if self.warn_s <= 0:
            return
        loop_thread = threading.get_ident()
        self._stop.clear()
        sampler = threading.Thread(
            target=self._sample, args=(loop_thread,), name="loop-watch", daemon=True
        )
        sampler.start()
        try:
            while True:
                self._tick = before = time.monotonic()
                await asyncio.sleep(self.tick_s)
                self.observe(time.monotonic() - before - self.tick_s)
        finally:
            self._stop.set()

    def observe(self, lag: float) -> None:
        """One tick, ``lag`` seconds late."""
        self.worst_lag_s = max(self.worst_lag_s, lag)
        if lag >= self.warn_s:
            self.stalls += 1
            log.warning("event loop stall: a tick ran %.2f s late", lag)

    def _sample(self, loop_thread: int) -> None:
        sampled_tick: float | None = None
        while not self._stop.wait(self.tick_s):
            tick = self._tick
            if tick == sampled_tick or time.monotonic() - tick < self.tick_s + self.warn_s:
                continue
            sampled_tick = tick
            frame = sys._current_frames().get(loop_thread)
            if frame is None:
                continue
            stack = "".join(traceback.format_stack(frame)[-8:])
            self.stacks = [*self.stacks[-9:], stack]
            log.warning(
                "event loop stall: no tick for %.1f s; the loop thread is at:\n%s",
                time.monotonic() - tick,
                stack,
            )
