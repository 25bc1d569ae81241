"""Faults a real installation goes through, seen from Home Assistant.

An adapter unplugged and plugged in again, and a network bridge that stays
connected but forwards nothing: the sensors go unavailable, one line is
logged each way, and data flows again without the user doing anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import itertools
import logging
from pathlib import Path
import time
from unittest.mock import patch

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
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
from custom_components.han_port.han.simulator import MeterSimulator

from .meter import PtyMeter, wait_for

LOGGER = "custom_components.han_port"
_LOGGER = logging.getLogger(__name__)


@pytest.fixture(autouse=True)
def short_timings() -> Iterator[None]:
    """Shorten the watchdog and back-off so faults play out in a second."""
    with (
        patch("custom_components.han_port.connection.WATCHDOG_SECONDS", 0.5),
        patch("custom_components.han_port.connection.BACKOFF_MIN_SECONDS", 0.05),
        patch("custom_components.han_port.connection.BACKOFF_MAX_SECONDS", 0.2),
    ):
        yield


def aidon_pushes(count: int) -> list[bytes]:
    """Return ``count`` List 1 pushes of a simulated Aidon meter (no clock in them)."""
    start = datetime.now(UTC).replace(microsecond=0)
    simulator = MeterSimulator("aidon", start=start, seed=11)
    pushes = [
        frame.data
        for frame in simulator.frames_until(start + timedelta(minutes=2))
        if frame.list_type == 1
    ]
    return pushes[:count]


def entry_for(port: str) -> MockConfigEntry:
    """Return an Aidon meter's entry on ``port``."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Aidon 6540",
        unique_id="7359992890000011",
        data={
            CONF_PORT: port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "E",
            CONF_VENDOR: "aidon",
        },
    )


def power_entity(hass: HomeAssistant, entry: MockConfigEntry) -> str | None:
    """Return the power import sensor's entity id, once it exists."""
    return er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, "7359992890000011_active_power_import"
    )


def state_of(hass: HomeAssistant, entry: MockConfigEntry) -> str | None:
    """Return the power import sensor's state."""
    entity_id = power_entity(hass, entry)
    state = hass.states.get(entity_id) if entity_id else None
    return state.state if state else None


def log_lines(caplog: pytest.LogCaptureFixture, text: str, level: int) -> int:
    """Count the integration's log records containing ``text`` at ``level``."""
    return sum(
        1
        for record in caplog.records
        if record.name.startswith(LOGGER)
        and record.levelno == level
        and text in record.getMessage()
    )


async def test_unplugged_adapter_comes_back(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Unplugging makes the sensors unavailable; plugging in again recovers them."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    pushes = aidon_pushes(6)
    link = tmp_path / "usb-han-adapter"  # as /dev/serial/by-id/... links are
    first = PtyMeter(MeterSimulator("aidon", start=datetime.now(UTC)))
    link.symlink_to(first.port)
    entry = entry_for(str(link))
    entry.add_to_hass(hass)
    second: PtyMeter | None = None
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        first.write(pushes[0])
        await wait_for(lambda: state_of(hass, entry) not in (None, STATE_UNAVAILABLE))
        await hass.async_block_till_done()

        unplugged = time.monotonic()
        link.unlink()
        first.close()
        await wait_for(lambda: state_of(hass, entry) == STATE_UNAVAILABLE)
        lost_after = time.monotonic() - unplugged

        await asyncio.sleep(0.5)  # a few failed reopens while it is gone
        coordinator = entry.runtime_data
        second = PtyMeter(MeterSimulator("aidon", start=datetime.now(UTC)))
        link.symlink_to(second.port)
        plugged = time.monotonic()
        for push in pushes[1:]:
            await wait_for(lambda: coordinator.listener.connected, timeout=5)
            second.write(push)
            if state_of(hass, entry) not in (None, STATE_UNAVAILABLE):
                break
            await asyncio.sleep(0.1)
        await wait_for(lambda: state_of(hass, entry) not in (None, STATE_UNAVAILABLE))
        back_after = time.monotonic() - plugged

        assert coordinator.listener.stats.reconnects >= 1
        assert log_lines(caplog, "No data from the meter", logging.WARNING) == 1
        assert log_lines(caplog, "is back", logging.INFO) == 1
        _LOGGER.info(
            "timing: unavailable %.3f s after unplugging, values back %.3f s "
            "after plugging in",
            lost_after,
            back_after,
        )
        assert lost_after < 2
        assert back_after < 5
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        first.close()
        if second is not None:
            second.close()


async def test_silent_bridge_is_reconnected(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A TCP bridge that stays connected but sends nothing trips the watchdog."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    pushes = aidon_pushes(3)
    connections: list[float] = []
    stop = asyncio.Event()

    async def bridge(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connections.append(time.monotonic())
        if len(connections) != 2:  # the first and third connections forward data
            writer.write(pushes[len(connections) - 1])
            await writer.drain()
        await stop.wait()  # then the bridge goes silent, the socket open
        writer.close()

    server = await asyncio.start_server(bridge, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    entry = entry_for(f"socket://127.0.0.1:{port}")
    entry.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_for(lambda: state_of(hass, entry) not in (None, STATE_UNAVAILABLE))
        await wait_for(lambda: state_of(hass, entry) == STATE_UNAVAILABLE)
        silent_for = time.monotonic() - connections[0]
        await wait_for(lambda: len(connections) >= 3, timeout=10)
        await wait_for(lambda: state_of(hass, entry) not in (None, STATE_UNAVAILABLE))
        coordinator = entry.runtime_data
        assert coordinator.listener.stats.watchdog_timeouts >= 2
        assert coordinator.listener.stats.reconnects >= 2
        assert log_lines(caplog, "No data from the meter", logging.WARNING) == 1
        assert log_lines(caplog, "is back", logging.INFO) == 1
        gaps = [later - earlier for earlier, later in itertools.pairwise(connections)]
        _LOGGER.info(
            "timing: unavailable %.3f s after connecting; reconnects %s s apart",
            silent_for,
            ", ".join(f"{gap:.3f}" for gap in gaps),
        )
        assert 0.5 <= silent_for < 2
        assert all(0.5 <= gap < 3 for gap in gaps)
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        stop.set()
        server.close()
        await server.wait_closed()
