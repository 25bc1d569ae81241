"""Test frames made by the project's own simulator and encoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.han_port.han.p1 import build_p1
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame

START = datetime(2026, 1, 5, 10, 59, 50, tzinfo=UTC)


def simulated(vendor: str, list_type: int, *, framing: str = "hdlc") -> SimulatedFrame:
    """Return the first simulated push of a list around a full hour."""
    simulator = MeterSimulator(vendor, start=START, seed=1, framing=framing)
    for frame in simulator.frames_until(START + timedelta(seconds=40)):
        if frame.list_type == list_type:
            return frame
    raise AssertionError(f"no List {list_type} from {vendor}")  # pragma: no cover


AIDON_LIST1 = simulated("aidon", 1).data
AIDON_LIST2 = simulated("aidon", 2).data
KAIFA_LIST3_MBUS = simulated("kaifa", 3, framing="mbus")


def mbus_segments(frame: SimulatedFrame) -> list[bytes]:
    """Return the M-Bus long frames one push was split into."""
    return list(frame.frames)


def p1_telegram() -> bytes:
    """Return a Swedish-style P1 telegram with CRC."""
    return build_p1(
        "/ABC5METER",
        [
            "0-0:1.0.0(260105120000W)",
            "1-0:1.8.0(00012345.678*kWh)",
            "1-0:1.7.0(01.193*kW)",
            "1-0:32.7.0(230.1*V)",
        ],
    )
