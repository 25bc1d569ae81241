"""A shared rig for the fault tests: a meter entry on a real port, and what it shows.

The fault suites (``test_faults_line``, ``test_faults_registers``,
``test_fuzz_ha``) set up a real config entry on a pseudo-terminal or a
loopback TCP bridge and judge what a user would see: sensor states,
availability, log lines and repair issues. The helpers here keep those tests
about the fault rather than the plumbing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import logging
import os
from pathlib import Path
import termios
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import (
    CONF_BAUDRATE,
    CONF_PARITY,
    CONF_PORT,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.han_port.coordinator import HanCoordinator
from custom_components.han_port.han.crc import crc16_x25
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame

from .meter import PtyMeter, wait_for

ZONE = ZoneInfo("Europe/Oslo")
HOUR = timedelta(hours=1)
METER_ID = "7359990000000017"  # the simulated Aidon's
LOGGER_NAME = "custom_components.han_port"
IMPORT = Quantity.ACTIVE_ENERGY_IMPORT
EXPORT = Quantity.ACTIVE_ENERGY_EXPORT
POWER = Quantity.ACTIVE_POWER_IMPORT
# Quantities whose sensor shows the frame's value in the frame's unit.
SAME_UNIT = (
    Quantity.ACTIVE_POWER_IMPORT,
    Quantity.ACTIVE_POWER_EXPORT,
    Quantity.REACTIVE_POWER_IMPORT,
    Quantity.REACTIVE_POWER_EXPORT,
    Quantity.VOLTAGE_L1,
    Quantity.VOLTAGE_L2,
    Quantity.VOLTAGE_L3,
    Quantity.CURRENT_L1,
    Quantity.CURRENT_L2,
    Quantity.CURRENT_L3,
)


@contextlib.contextmanager
def short_timings(
    watchdog: float = 0.5, backoff: tuple[float, float] = (0.05, 0.2)
) -> Iterator[None]:
    """Shorten the watchdog and back-off so faults play out in a second."""
    with (
        patch("custom_components.han_port.connection.WATCHDOG_SECONDS", watchdog),
        patch("custom_components.han_port.connection.BACKOFF_MIN_SECONDS", backoff[0]),
        patch("custom_components.han_port.connection.BACKOFF_MAX_SECONDS", backoff[1]),
    ):
        yield


class Meter(PtyMeter):
    """A pty meter that can trickle, flood and be put back to a fresh line.

    A pty configured once by serialx cannot be configured again on this
    glibc (EINVAL), so ``reset_line`` restores the settings it had when new,
    as a USB adapter plugged in again has.
    """

    def __init__(self, simulator: MeterSimulator) -> None:
        """Open the pty and remember its pristine settings."""
        super().__init__(simulator)
        self.fresh = termios.tcgetattr(self.slave)

    def reset_line(self) -> None:
        """Restore the settings the pty had before anything opened it."""
        termios.tcsetattr(self.slave, termios.TCSANOW, self.fresh)

    async def trickle(self, data: bytes, pause: float = 0.002) -> None:
        """Write one byte at a time with a pause, as a slow bridge forwards."""
        for byte in data:
            self.write(bytes((byte,)))
            await asyncio.sleep(pause)

    async def flood(self, data: bytes, chunk: int = 65536) -> None:
        """Write a lot without blocking the event loop the reader runs in."""
        os.set_blocking(self.master, False)
        view = memoryview(data)
        try:
            while view:
                try:
                    written = os.write(self.master, view[:chunk])
                except BlockingIOError:
                    written = 0
                view = view[written:]
                await asyncio.sleep(0 if written else 0.001)
        finally:
            os.set_blocking(self.master, True)


def entry_for(
    hass: HomeAssistant,
    port: str,
    *,
    vendor: str = "aidon",
    parity: str = "E",
    meter_id: str = METER_ID,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Add (not set up) a meter's entry on ``port``."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"{vendor.title()} meter",
        unique_id=meter_id,
        data={
            CONF_PORT: port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: parity,
            CONF_VENDOR: vendor,
        },
        options=options or {},
    )
    entry.add_to_hass(hass)
    return entry


def coordinator_of(entry: MockConfigEntry) -> HanCoordinator:
    """Return the running coordinator of an entry."""
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    return coordinator


def entity_id(hass: HomeAssistant, key: str, meter_id: str = METER_ID) -> str | None:
    """Return the entity id of a sensor key, once it is registered."""
    return er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{meter_id}_{key}")


def state(hass: HomeAssistant, key: str, meter_id: str = METER_ID) -> str | None:
    """Return the state of a sensor key, or None while it does not exist."""
    found = entity_id(hass, key, meter_id)
    current = hass.states.get(found) if found else None
    return current.state if current else None


def enable_counters(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Register the diagnostic counters enabled, before the entry is set up."""
    registry = er.async_get(hass)
    for key in ("frames", "checksum_errors", "reconnects", "rejected_registers"):
        registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{entry.unique_id}_{key}",
            config_entry=entry,
            suggested_object_id=f"han_{key}",
        )


def assert_shows(hass: HomeAssistant, frame: SimulatedFrame) -> None:
    """Assert that the sensors show what ``frame`` says, quantity by quantity."""
    checked = 0
    for quantity in SAME_UNIT:
        if quantity in frame.truth:
            shown = state(hass, str(quantity))
            assert shown is not None, quantity
            assert float(shown) == pytest.approx(frame.truth[quantity]), quantity
            checked += 1
    for quantity in (IMPORT, EXPORT):
        if quantity in frame.truth:
            shown = state(hass, str(quantity))
            assert shown is not None, quantity
            value = frame.truth[quantity]
            assert isinstance(value, int)
            assert float(shown) == pytest.approx(value / 1000), quantity
            checked += 1
    assert checked


def log_lines(
    caplog: pytest.LogCaptureFixture,
    text: str,
    level: int | None,
    logger: str = LOGGER_NAME,
) -> list[str]:
    """Return the lines of ``logger`` at ``level`` (None: any) that contain ``text``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(logger)
        and level in (None, record.levelno)
        and text in record.getMessage()
    ]


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return every error or traceback logged by anyone."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR or record.exc_info
    ]


async def start_watched(
    hass: HomeAssistant, entry: MockConfigEntry, history: StateLog
) -> tuple[HanCoordinator, Callable[[], None]]:
    """Set up ``entry`` with its counters on and every state change kept.

    The watchdog is long, so only the fault under test closes the line.
    Returns the coordinator and what stops the state log.
    """
    enable_counters(hass, entry)
    stop = history.listen(hass)
    with short_timings(watchdog=600):
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return coordinator_of(entry), stop


@dataclass
class StateLog:
    """Every state the integration's sensors took, in order, per entity id."""

    states: dict[str, list[str]] = field(default_factory=dict)

    def listen(self, hass: HomeAssistant) -> Callable[[], None]:
        """Start recording; returns the function that stops it."""

        def changed(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is not None and new.entity_id.startswith("sensor."):
                self.states.setdefault(new.entity_id, []).append(new.state)

        return hass.bus.async_listen("state_changed", changed)

    def numbers(self, hass: HomeAssistant, key: str) -> list[float]:
        """Return the numeric states a sensor key took."""
        found = entity_id(hass, key)
        assert found is not None, key
        return [
            float(value)
            for value in self.states.get(found, [])
            if value not in ("unavailable", "unknown")
        ]


async def telegrams(
    coordinator: HanCoordinator, count: int, timeout: float = 10
) -> None:
    """Wait until the decoder has produced ``count`` telegrams in all."""
    stats = coordinator.decoder.stats
    await wait_for(lambda: stats.telegrams >= count, timeout)


async def received(
    coordinator: HanCoordinator, count: int, timeout: float = 10
) -> None:
    """Wait until the listener has received ``count`` bytes in all."""
    stats = coordinator.listener.stats
    await wait_for(lambda: stats.bytes_received >= count, timeout)


# The meter's frames ------------------------------------------------------------


def hourly(
    start: datetime, hours: int, *, seed: int = 7, vendor: str = "aidon"
) -> list[SimulatedFrame]:
    """Return the List 3 pushes at the ``hours + 1`` hour boundaries from ``start``."""
    simulator = MeterSimulator(vendor, start=start - timedelta(seconds=20), seed=seed)
    frames = simulator.frames_until(start + hours * HOUR + timedelta(seconds=30))
    return [frame for frame in frames if frame.list_type == 3]


def register(frame: SimulatedFrame, quantity: Quantity = IMPORT) -> int:
    """Return a register as the frame states it (Wh)."""
    value = frame.truth[quantity]
    assert isinstance(value, int)
    return value


def with_register(
    frame: SimulatedFrame | bytes, quantity: Quantity, value: int
) -> bytes:
    """Return an Aidon List 3 with one register changed and valid checksums.

    That is what a meter with a glitching register sends: the frame is sound,
    only the value is wrong.
    """
    codes = {IMPORT: bytes((1, 0, 1, 8, 0, 255)), EXPORT: bytes((1, 0, 2, 8, 0, 255))}
    data = bytearray(frame.data if isinstance(frame, SimulatedFrame) else frame)
    at = data.index(b"\x09\x06" + codes[quantity]) + 8
    assert data[at] == 0x06  # double-long-unsigned
    assert data[at + 5 : at + 8] == b"\x02\x02\x0f"  # then {scaler, unit}
    scaler = int.from_bytes(data[at + 8 : at + 9], signed=True)
    raw, rest = divmod(value, 10**scaler) if scaler > 0 else (value, 0)
    assert scaler >= 0
    assert not rest
    data[at + 1 : at + 5] = raw.to_bytes(4)
    fcs = crc16_x25(bytes(data[1:-3]))
    data[-3:-1] = fcs.to_bytes(2, "little")
    return bytes(data)


def hour_of(frame: SimulatedFrame) -> datetime:
    """Return the hour boundary an hourly push reports (UTC)."""
    return frame.time.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def expected_rows(
    readings: list[SimulatedFrame], quantity: Quantity = IMPORT
) -> list[tuple[datetime, int, int]]:
    """Return (hour start UTC, register Wh, sum Wh) for accepted hourly readings.

    Readings an hour apart give that hour's difference; readings further apart
    spread theirs evenly in whole Wh, the remainder in the later hours.
    """
    rows: list[tuple[datetime, int, int]] = []
    total = 0
    for before, after in pairwise(readings):
        start, end = hour_of(before), hour_of(after)
        hours = round((end - start) / HOUR)
        low, high = register(before, quantity), register(after, quantity)
        done = 0
        for index in range(1, hours + 1):
            part = (high - low) * index // hours - done
            done += part
            total += part
            rows.append((start + (index - 1) * HOUR, low + done, total))
    return rows


def as_wh(rows: list[dict[str, Any]]) -> list[tuple[datetime, int, int]]:
    """Return recorder rows as (hour start UTC, state Wh, sum Wh)."""
    return [
        (
            datetime.fromtimestamp(row["start"], UTC),
            round(row["state"] * 1000),
            round(row["sum"] * 1000),
        )
        for row in rows
    ]


# Faults of the line ----------------------------------------------------------


def uart(data: bytes, *, sent: str, received: str) -> bytes:
    """Return what a UART set to ``received`` makes of bytes sent at ``sent``.

    ``sent`` and ``received`` are ``"8N1"``, ``"8E1"`` or ``"8O1"``. The bytes
    go out back to back (a meter pushes a frame without gaps) and the line
    idles after them. The receiver samples a start bit, eight data bits (least
    significant first), a parity bit if it expects one and a stop bit; after a
    framing error (a 0 where the stop bit should be) it waits for the line to
    idle before it looks for the next start bit, as USB adapters do. Parity
    and framing errors do not change the byte (serialx leaves INPCK off).
    """
    bits: list[int] = []
    for byte in data:
        word = [(byte >> index) & 1 for index in range(8)]
        bits.append(0)
        bits.extend(word)
        if sent[1] != "N":
            bits.append((sum(word) + (sent[1] == "O")) % 2)
        bits.append(1)
    bits.extend([1] * 12)
    out = bytearray()
    width = 1 + 8 + (received[1] != "N") + 1
    pos = 0
    while True:
        try:
            pos = bits.index(0, pos)
        except ValueError:
            break
        if pos + width > len(bits):
            break
        out.append(
            sum(bit << index for index, bit in enumerate(bits[pos + 1 : pos + 9]))
        )
        stop = pos + width - 1
        pos = stop + 1
        if bits[stop] == 0:  # framing error: resynchronise on idle
            try:
                pos = bits.index(1, pos)
            except ValueError:
                break
    return bytes(out)


class RefusedPort:
    """A ``/dev/serial/by-id``-style link to a device the process may not open.

    The device is a pty with its mode set to 000. Root ignores file modes, so
    when the tests run as root the link points at a read-only sysctl instead,
    which refuses opening for writing to everyone (PermissionError, errno 13).
    ``grant`` gives the permission back.
    """

    def __init__(self, link: Path, meter: Meter) -> None:
        """Point ``link`` at ``meter`` with the permission taken away."""
        self.link = link
        self.meter = meter
        self.mode = os.stat(meter.port).st_mode & 0o777
        os.chmod(meter.port, 0)
        target = meter.port
        if not _refused(target):
            os.chmod(meter.port, self.mode)
            target = "/proc/sys/kernel/osrelease"
            if not _refused(target):
                pytest.skip("no device here refuses this process")
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(target)

    def grant(self) -> None:
        """Give the permission back (or point the link at the pty)."""
        os.chmod(self.meter.port, self.mode)
        if os.readlink(self.link) != self.meter.port:
            self.link.unlink()
            self.link.symlink_to(self.meter.port)


def _refused(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except PermissionError:
        return True
    except OSError:
        return False
    os.close(fd)
    return False
