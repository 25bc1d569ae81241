"""Faults of the line between meter and Home Assistant, seen from Home Assistant.

A port the user may not open, a UART set to the wrong parity, line noise, a
slow bridge that forwards byte by byte, and TCP bridges that reset or stall
mid-frame. Each test runs a real config entry on a real pseudo-terminal or
loopback socket and checks what the user sees: availability, one log line per
change, the repair issue, and values equal to what the simulated meter sent.
Measured timings are logged at INFO with the prefix "timing:".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
from datetime import UTC, datetime, timedelta
import itertools
import logging
from pathlib import Path
from random import Random
import socket
import struct
import time
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.han_port.const import DOMAIN, ERROR_WINDOW_SECONDS
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame

from .meter import next_slot, wait_for
from .rig import (
    POWER,
    Meter,
    RefusedPort,
    StateLog,
    assert_shows,
    coordinator_of,
    entry_for,
    errors_logged,
    log_lines,
    received,
    short_timings,
    start_watched,
    state,
    telegrams,
    uart,
)

_LOGGER = logging.getLogger(__name__)
LOGGER = "custom_components.han_port"
VOLTAGE = Quantity.VOLTAGE_L1
DOWN = "No data from the meter"
BACK = "is back"


@pytest.fixture(autouse=True)
def fast() -> Iterator[None]:
    """Shorten the watchdog and back-off so faults play out in a second."""
    with short_timings():
        yield


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run Home Assistant in Norwegian time, as the meters are."""
    await hass.config.async_set_time_zone("Europe/Oslo")


def live(
    vendor: str = "aidon", seconds: float = 60, seed: int = 3
) -> list[SimulatedFrame]:
    """Return a meter's List 1 and 2 pushes of the last ``seconds``."""
    end = datetime.now(UTC).replace(microsecond=0)
    simulator = MeterSimulator(
        vendor, start=end - timedelta(seconds=seconds), seed=seed
    )
    return [frame for frame in simulator.frames_until(end) if frame.list_type != 3]


def distinct(frames: list[SimulatedFrame], count: int) -> list[SimulatedFrame]:
    """Return ``count`` List 2 pushes that each state another L1 voltage."""
    chosen: list[SimulatedFrame] = []
    for frame in frames:
        if frame.list_type == 2 and frame.truth[VOLTAGE] not in {
            other.truth[VOLTAGE] for other in chosen
        }:
            chosen.append(frame)
    assert len(chosen) >= count
    return chosen[:count]


# Permission ---------------------------------------------------------------------


async def test_permission_denied_at_start(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A port the user may not open: setup retries with the reason; then it runs."""
    caplog.set_level(logging.INFO)
    meter = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    link = tmp_path / "usb-han-adapter"
    refused = RefusedPort(link, meter)
    entry = entry_for(hass, str(link))
    try:
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason is not None
        assert "Permission denied" in entry.reason
        assert str(link) in entry.reason
        lines = log_lines(caplog, "not ready yet", None, "homeassistant.config_entries")
        assert len(lines) == 1
        assert "Permission denied" in lines[0]

        refused.grant()
        granted = time.monotonic()
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
        await wait_for(lambda: entry.state is ConfigEntryState.LOADED, timeout=10)
        frame = live()[-1]
        meter.write(frame.data)
        await wait_for(lambda: state(hass, str(POWER)) not in (None, STATE_UNAVAILABLE))
        assert_shows(hass, frame)
        _LOGGER.info(
            "timing: values %.3f s after the permission was back (retry forced)",
            time.monotonic() - granted,
        )
        assert not errors_logged(caplog)
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()


async def test_replugged_without_permission(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An adapter back without permission stays unavailable, logged once; then recovers."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    frames = distinct(live(seconds=300), 2)
    link = tmp_path / "usb-han-adapter"
    first = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    second = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    link.symlink_to(first.port)
    entry = entry_for(hass, str(link))
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        coordinator = coordinator_of(entry)
        first.write(frames[0].data)
        await telegrams(coordinator, 1)
        await hass.async_block_till_done()
        assert_shows(hass, frames[0])

        link.unlink()
        first.close()
        refused = RefusedPort(link, second)
        await wait_for(lambda: state(hass, str(POWER)) == STATE_UNAVAILABLE)
        listener = coordinator.listener
        await wait_for(lambda: "Permission denied" in (listener.stats.last_error or ""))
        connects = listener.stats.connects
        await asyncio.sleep(0.6)  # several refused reopens at the back-off's pace
        assert listener.stats.connects == connects
        assert not listener.connected
        assert len(log_lines(caplog, DOWN, logging.WARNING)) == 1
        assert state(hass, str(POWER)) == STATE_UNAVAILABLE

        refused.grant()
        granted = time.monotonic()
        await wait_for(lambda: listener.connected)
        second.write(frames[1].data)
        await wait_for(lambda: state(hass, str(POWER)) != STATE_UNAVAILABLE)
        back = time.monotonic() - granted
        assert_shows(hass, frames[1])
        assert len(log_lines(caplog, DOWN, logging.WARNING)) == 1
        assert len(log_lines(caplog, BACK, logging.INFO)) == 1
        assert not errors_logged(caplog)
        _LOGGER.info("timing: values back %.3f s after the permission was", back)
        assert back < 5
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        first.close()
        second.close()


# Parity ---------------------------------------------------------------------------


async def test_no_parity_meter_read_with_even_parity(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Kamstrup (8N1) read at 8E1: garbage is counted, nothing shown, repair raised."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    frames = live("kamstrup", seconds=120)
    assert len(frames) >= 10
    meter = Meter(MeterSimulator("kamstrup", start=datetime.now(UTC)))
    meter_id = frames[0].truth[Quantity.METER_ID]
    assert isinstance(meter_id, str)
    entry = entry_for(hass, meter.port, vendor="kamstrup", meter_id=meter_id)
    history = StateLog()
    coordinator, stop = await start_watched(hass, entry, history)
    try:
        garbled = b"".join(
            uart(frame.data, sent="8N1", received="8E1") for frame in frames
        )
        assert garbled != b"".join(frame.data for frame in frames)
        meter.write(garbled)
        await received(coordinator, len(garbled))
        await hass.async_block_till_done()

        stats = coordinator.decoder.stats
        assert stats.telegrams == 0
        assert stats.frames == 0
        # The UART lost the bit timing: the bytes fit no frame at all.
        assert stats.discarded_bytes >= len(garbled) // 2
        assert coordinator.values == {}
        assert not coordinator.available
        # Only the fixed sensors and enabled counters exist; none shows a value
        # but the counters.
        counters = {"frames", "checksum_errors", "reconnects", "rejected_registers"}
        for entity, states in history.states.items():
            if not any(entity.endswith(f"han_{key}") for key in counters):
                assert set(states) <= {STATE_UNAVAILABLE}, entity
        # So are the counters: the meter never answered on this line.
        assert state(hass, "frames", meter_id) == STATE_UNAVAILABLE

        async_fire_time_changed(
            hass, dt_util.utcnow() + timedelta(seconds=ERROR_WINDOW_SECONDS + 1)
        )
        await hass.async_block_till_done()
        issue = issue_registry.async_get_issue(
            DOMAIN, f"checksum_errors_{entry.entry_id}"
        )
        assert issue is not None
        assert issue.translation_placeholders["line"] == "2400 8E1"
        assert issue.translation_placeholders["errors"] == str(
            stats.checksum_errors + stats.frame_errors
        )
        assert issue.translation_placeholders["bytes"] == str(stats.discarded_bytes)
        assert not errors_logged(caplog)
        _LOGGER.info(
            "timing: %d garbled frames gave %d checksum and %d frame errors, "
            "%d bytes fitting no frame",
            len(frames),
            stats.checksum_errors,
            stats.frame_errors,
            stats.discarded_bytes,
        )
    finally:
        stop()
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()


async def test_even_parity_meter_read_without_parity(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    """An Aidon (8E1) read at 8N1: the parity bit passes as a stop bit, values exact."""
    frames = live(seconds=30)
    meter = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    entry = entry_for(hass, meter.port, parity="N")
    try:
        with short_timings(watchdog=600):
            assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        coordinator = coordinator_of(entry)
        for count, frame in enumerate(frames, 1):
            meter.write(uart(frame.data, sent="8E1", received="8N1"))
            await telegrams(coordinator, count)
            await hass.async_block_till_done()
            assert_shows(hass, frame)
        assert coordinator.decoder.stats.checksum_errors == 0
        async_fire_time_changed(
            hass, dt_util.utcnow() + timedelta(seconds=ERROR_WINDOW_SECONDS + 1)
        )
        await hass.async_block_till_done()
        assert not issue_registry.async_get_issue(
            DOMAIN, f"checksum_errors_{entry.entry_id}"
        )
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()


# Noise and slow reads -------------------------------------------------------------


def noise(rng: Random, size: int) -> bytes:
    """Return a burst of line noise, with flags and start bytes among it."""
    burst = bytearray(rng.randbytes(size))
    for _ in range(max(1, size // 16)):
        burst[rng.randrange(size)] = rng.choice((0x7E, 0x68, 0x2F, 0x00, 0xFF))
    return bytes(burst)


async def test_line_noise_between_and_inside_frames(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, short_slots: None
) -> None:
    """Noise between frames costs nothing; a frame with noise inside is dropped and counted."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    rng = Random(5)
    frames = live(seconds=90)
    meter = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    entry = entry_for(hass, meter.port)
    history = StateLog()
    coordinator, stop = await start_watched(hass, entry, history)
    try:
        stats = coordinator.decoder.stats
        clean: list[SimulatedFrame] = []
        damaged = 0
        sent = 0
        shown: SimulatedFrame | None = None
        for index, frame in enumerate(frames):
            data = frame.data
            middle = rng.randrange(8, len(data) - 8)
            if index % 3 == 1:  # a burst inside the frame, inserted
                data = data[:middle] + noise(rng, rng.randrange(1, 40)) + data[middle:]
            elif index % 3 == 2:  # a burst inside the frame, overwriting
                size = rng.randrange(1, 8)
                data = data[:middle] + noise(rng, size) + data[middle + size :]
            burst = noise(rng, rng.randrange(1, 200))
            errors = stats.checksum_errors + stats.frame_errors
            before = stats.telegrams
            meter.write(burst + data)
            sent += len(burst) + len(data)
            await received(coordinator, sent)
            await hass.async_block_till_done()
            if data == frame.data:
                clean.append(frame)
                await telegrams(coordinator, before + 1)
                await hass.async_block_till_done()
                shown = frame
            else:
                damaged += 1
                assert stats.telegrams == before
                assert stats.checksum_errors + stats.frame_errors > errors
            if shown is not None:
                assert_shows(hass, shown)

        # The stream ends with a clean frame so the last damaged one is judged;
        # it comes in a new slot of the counters' cadence.
        await next_slot()
        meter.write(frames[0].data)
        await telegrams(coordinator, len(clean) + 1)
        await hass.async_block_till_done()
        clean.append(frames[0])
        assert stats.telegrams == len(clean)
        assert stats.frames == len(clean)
        assert damaged >= 20
        assert state(hass, "frames") == str(len(clean))
        assert state(hass, "checksum_errors") == str(stats.checksum_errors)
        assert stats.checksum_errors >= damaged // 2
        for quantity in (POWER, VOLTAGE):
            truths = {frame.truth.get(quantity) for frame in clean}
            assert set(history.numbers(hass, str(quantity))) <= truths
        assert coordinator.available
        assert coordinator.listener.stats.watchdog_timeouts == 0
        assert not log_lines(caplog, "", logging.WARNING)
        assert not errors_logged(caplog)
    finally:
        stop()
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()


async def test_frame_split_over_hundreds_of_reads(hass: HomeAssistant) -> None:
    """Byte-by-byte delivery decodes each frame once, exactly."""
    frames = distinct(live(seconds=300), 2)
    meter = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    entry = entry_for(hass, meter.port)
    try:
        with short_timings(watchdog=600):
            assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        coordinator = coordinator_of(entry)
        reads: list[int] = []
        feed = coordinator.decoder.feed

        def counted(data: bytes) -> list:  # type: ignore[type-arg]
            reads.append(len(data))
            return feed(data)

        coordinator.decoder.feed = counted  # type: ignore[method-assign]
        started = time.monotonic()
        for count, frame in enumerate(frames, 1):
            await meter.trickle(frame.data)
            await telegrams(coordinator, count)
            await hass.async_block_till_done()
            assert_shows(hass, frame)
        elapsed = time.monotonic() - started
        total = sum(len(frame.data) for frame in frames)
        assert sum(reads) == total
        assert len(reads) >= 100
        stats = coordinator.decoder.stats
        assert stats.telegrams == 2
        assert stats.checksum_errors == stats.frame_errors == 0
        _LOGGER.info(
            "timing: %d bytes in %d reads (largest %d) over %.2f s",
            total,
            len(reads),
            max(reads),
            elapsed,
        )
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()


# TCP bridges ----------------------------------------------------------------------


async def stop_bridge(
    server: asyncio.Server,
    stop: asyncio.Event,
    handlers: list[asyncio.Task[Any] | None],
) -> None:
    """Stop a bridge and wait for its connections' handlers to end."""
    stop.set()
    if tasks := [task for task in handlers if task is not None]:
        await asyncio.wait(tasks, timeout=5)
    server.close()
    await server.wait_closed()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP reset (SO_LINGER 0), as a rebooting bridge does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_bridge_that_resets_every_few_seconds(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Each reset is one warning and each recovery one info line; no frame lost."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    resets = 5
    per_connection = 3
    frames = live(seconds=120)
    assert len(frames) >= (resets + 1) * per_connection
    batches = [
        frames[index * per_connection : (index + 1) * per_connection]
        for index in range(resets + 1)
    ]
    accepted: list[float] = []
    reset_at: list[float] = []
    shown: list[tuple[str | None, SimulatedFrame]] = []
    handlers: list[asyncio.Task[Any] | None] = []
    stop = asyncio.Event()
    entry = None

    async def bridge(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        handlers.append(asyncio.current_task())
        accepted.append(time.monotonic())
        index = len(accepted) - 1
        await wait_for(lambda: hasattr(entry, "runtime_data"))
        coordinator = coordinator_of(entry)
        done = sum(len(batch) for batch in batches[:index])
        for count, frame in enumerate(batches[index], done + 1):
            writer.write(frame.data)
            await writer.drain()
            await telegrams(coordinator, count)
            await hass.async_block_till_done()
            shown.append((state(hass, str(POWER)), frame))
        if index < resets:
            reset_at.append(time.monotonic())
            reset(writer)
            return
        with contextlib.suppress(ConnectionError):
            while not stop.is_set():  # the last connection keeps pushing
                writer.write(batches[index][-1].data)
                await writer.drain()
                await asyncio.sleep(0.1)
        writer.close()

    server = await asyncio.start_server(bridge, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    entry = entry_for(hass, f"socket://127.0.0.1:{port}")
    try:
        with short_timings(watchdog=5):
            assert await hass.config_entries.async_setup(entry.entry_id)
        coordinator = coordinator_of(entry)
        await wait_for(
            lambda: len(shown) == len(frames[: (resets + 1) * per_connection]), 20
        )
        await hass.async_block_till_done()
        assert coordinator.available
        listener = coordinator.listener
        assert len(accepted) == resets + 1
        assert listener.stats.reconnects == resets
        assert listener.stats.connects == resets + 1
        assert listener.stats.watchdog_timeouts == 0
        for value, frame in shown:
            assert value is not None
            assert float(value) == frame.truth[POWER]
        assert_shows(hass, batches[-1][-1])
        stats = coordinator.decoder.stats
        assert stats.checksum_errors == stats.frame_errors == 0
        assert len(log_lines(caplog, DOWN, logging.WARNING)) == resets
        assert len(log_lines(caplog, BACK, logging.INFO)) == resets
        assert len(log_lines(caplog, "", logging.WARNING)) == resets
        assert not errors_logged(caplog)
        gaps = [accepted[index + 1] - reset_at[index] for index in range(len(reset_at))]
        _LOGGER.info(
            "timing: reconnected %s s after each reset",
            ", ".join(f"{gap:.3f}" for gap in gaps),
        )
        assert all(gap < 3 for gap in gaps)
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await stop_bridge(server, stop, handlers)


async def test_bridge_that_stalls_mid_frame(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Half a frame, then silence: unavailable, reconnect, and the next frame is whole."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    first, half, after = distinct(live(seconds=300), 3)
    assert first.truth[VOLTAGE] != after.truth[VOLTAGE]
    accepted: list[float] = []
    stalled_at: list[float] = []
    handlers: list[asyncio.Task[Any] | None] = []
    stop = asyncio.Event()
    history = StateLog()
    unlisten = history.listen(hass)

    async def bridge(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        handlers.append(asyncio.current_task())
        accepted.append(time.monotonic())
        if len(accepted) == 1:
            writer.write(first.data)
            await asyncio.sleep(0.1)
            writer.write(half.data[: len(half.data) // 2])
            await writer.drain()
            stalled_at.append(time.monotonic())
            await stop.wait()
        else:
            with contextlib.suppress(ConnectionError):
                while not stop.is_set():
                    writer.write(after.data)
                    await writer.drain()
                    await asyncio.sleep(0.1)
        writer.close()

    server = await asyncio.start_server(bridge, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    entry = entry_for(hass, f"socket://127.0.0.1:{port}")
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        coordinator = coordinator_of(entry)
        await telegrams(coordinator, 1)
        await hass.async_block_till_done()
        assert_shows(hass, first)
        await wait_for(lambda: state(hass, str(POWER)) == STATE_UNAVAILABLE)
        unavailable_after = time.monotonic() - stalled_at[0]
        await wait_for(lambda: len(accepted) >= 2)
        await telegrams(coordinator, 2)
        await hass.async_block_till_done()
        back_after = time.monotonic() - accepted[1]
        assert_shows(hass, after)
        stats = coordinator.decoder.stats
        # The half frame was dropped with the connection: it neither failed a
        # checksum nor swallowed the next connection's first frame.
        assert stats.checksum_errors == stats.frame_errors == 0
        assert stats.discarded_bytes == 0
        voltages = history.numbers(hass, str(VOLTAGE))
        assert voltages[0] == first.truth[VOLTAGE]
        assert set(voltages) == {first.truth[VOLTAGE], after.truth[VOLTAGE]}
        assert coordinator.listener.stats.watchdog_timeouts == 1
        assert len(log_lines(caplog, DOWN, logging.WARNING)) == 1
        assert len(log_lines(caplog, BACK, logging.INFO)) == 1
        assert not errors_logged(caplog)
        _LOGGER.info(
            "timing: unavailable %.3f s after the stall, values %.3f s after reconnecting",
            unavailable_after,
            back_after,
        )
        # The watchdog counts from the last telegram, 0.1 s before the stall.
        assert 0.3 <= unavailable_after < 2
    finally:
        unlisten()
        await hass.config_entries.async_unload(entry.entry_id)
        await stop_bridge(server, stop, handlers)


def test_uart_model() -> None:
    """The UART model keeps bytes at matching settings and garbles 8N1 read as 8E1."""
    data = bytes(range(256))
    for line in ("8N1", "8E1", "8O1"):
        assert uart(data, sent=line, received=line) == data
    assert uart(data, sent="8E1", received="8N1") == data
    garbled = uart(data, sent="8N1", received="8E1")
    assert sum(a == b for a, b in itertools.zip_longest(garbled, data)) < 32
