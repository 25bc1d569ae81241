"""Tests for new encryption keys: the reauth flow and what starts it."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_PARITY,
    CONF_PORT,
    DOMAIN,
)
from custom_components.han_port.han.simulator import MeterSimulator

from .meter import PtyMeter, wait_for

KEY = bytes(range(16))
AUTH = bytes(range(16, 32))
OLD_KEY = bytes(16)


def encrypted_frames(count: int = 4) -> tuple[str, list[bytes]]:
    """Return the meter id and a few ciphered pushes of a Kamstrup meter."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    simulator = MeterSimulator(
        "kamstrup", start=start, seed=5, encryption_key=KEY, authentication_key=AUTH
    )
    frames = [
        frame.data for frame in simulator.frames_until(start + timedelta(seconds=45))
    ]
    return simulator.meter_id, frames[:count]


def loaded_entry(hass: HomeAssistant, frames: list[bytes] | None) -> MockConfigEntry:
    """Return an entry with old keys that looks loaded with these frames kept."""
    meter_id, _ = encrypted_frames(0)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Kamstrup 6841131BN243101040",
        unique_id=meter_id,
        data={
            CONF_PORT: "/dev/ttyUSB0",
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "N",
            CONF_ENCRYPTION_KEY: OLD_KEY.hex(),
            CONF_AUTHENTICATION_KEY: OLD_KEY.hex(),
        },
    )
    entry.add_to_hass(hass)
    if frames is not None:
        entry.mock_state(hass, ConfigEntryState.LOADED)
        entry.runtime_data = SimpleNamespace(
            decoder=SimpleNamespace(recent_frames=deque(frames))
        )
    return entry


async def test_reauth_checks_keys_on_the_kept_frames(hass: HomeAssistant) -> None:
    """Malformed, then wrong keys are refused; the right ones replace the old ones."""
    _, frames = encrypted_frames()
    entry = loaded_entry(hass, frames)

    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    placeholders = result["description_placeholders"]
    assert placeholders["title"] == entry.title
    assert placeholders["port"] == "/dev/ttyUSB0"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: "00 11"}
    )
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_key"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: "zz"},
    )
    assert result["errors"] == {CONF_AUTHENTICATION_KEY: "invalid_key"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: bytes(range(1, 17)).hex()}
    )
    assert result["errors"] == {"base": "wrong_key"}
    assert entry.data[CONF_ENCRYPTION_KEY] == OLD_KEY.hex()

    # The entry is reloaded with the new keys; its port is not real here.
    with (
        patch("custom_components.han_port.async_unload_entry", return_value=True),
        patch("custom_components.han_port.async_setup_entry", return_value=True),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_ENCRYPTION_KEY: KEY.hex().upper()}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_ENCRYPTION_KEY] == KEY.hex()
    # The old authentication key is dropped: the new keys are complete as given.
    assert CONF_AUTHENTICATION_KEY not in entry.data
    assert entry.data[CONF_PORT] == "/dev/ttyUSB0"


async def test_reauth_without_frames(hass: HomeAssistant) -> None:
    """An entry that is not running has no frames to check keys against."""
    entry = loaded_entry(hass, None)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: AUTH.hex()},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_frames"}
    assert entry.data[CONF_ENCRYPTION_KEY] == OLD_KEY.hex()


async def test_undecryptable_frames_start_reauth(hass: HomeAssistant) -> None:
    """Frames that pass their checksums but do not decrypt ask the user for keys."""
    meter_id, frames = encrypted_frames()
    meter = PtyMeter(MeterSimulator("kamstrup", start=datetime.now(UTC), seed=5))
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Kamstrup",
        unique_id=meter_id,
        data={
            CONF_PORT: meter.port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "N",
            CONF_ENCRYPTION_KEY: OLD_KEY.hex(),
        },
    )
    entry.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        coordinator = entry.runtime_data
        coordinator._check_errors(datetime.now(UTC))  # baseline window
        # Fewer than three undecryptable frames in a window: maybe a glitch.
        for frame in frames[:2]:
            meter.write(frame)
        await wait_for(lambda: coordinator.decoder.stats.decryption_errors >= 2)
        coordinator._check_errors(datetime.now(UTC))
        await hass.async_block_till_done()
        assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

        for frame in frames[2:] + frames[:1]:
            meter.write(frame)
        await wait_for(lambda: coordinator.decoder.stats.decryption_errors >= 5)
        coordinator._check_errors(datetime.now(UTC))
        await hass.async_block_till_done()
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
        assert len(coordinator.decoder.recent_frames) == 5
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()
