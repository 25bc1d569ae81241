"""A simulated meter behind a real pseudo-terminal, for tests through serialx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from datetime import datetime, timedelta
import os
import time
import tty

from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame


class PtyMeter:
    """The meter's side of a pseudo-terminal; ``port`` is what HAN Port opens."""

    def __init__(self, simulator: MeterSimulator) -> None:
        """Open the pseudo-terminal pair."""
        self.simulator = simulator
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.sent: list[SimulatedFrame] = []

    def frames(self, until: datetime) -> list[SimulatedFrame]:
        """Return the pushes up to ``until`` without sending them."""
        return list(self.simulator.frames_until(until))

    def write(self, data: bytes) -> None:
        """Write raw bytes as the meter would."""
        os.write(self.master, data)

    def send(self, frame: SimulatedFrame) -> None:
        """Send one push."""
        self.write(frame.data)
        self.sent.append(frame)

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


async def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Let the event loop run until ``predicate()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def next_slot() -> None:
    """Wait for the next one-second slot of the derived values (``short_slots``)."""
    await asyncio.sleep(1.01 - time.time() % 1)


def later(start: datetime, seconds: float) -> datetime:
    """Return ``start`` plus seconds."""
    return start + timedelta(seconds=seconds)
