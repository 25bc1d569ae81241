"""Setting up, reloading, unloading and removing a HAN Port entry.

The meter is a simulated Aidon behind a real pseudo-terminal (see
``test_sensor`` for the helpers and why List 3 clocks are DLMS-strict).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_PARITY,
    CONF_PORT,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.han_port.coordinator import (
    HanCoordinator,
    keys_from,
    manufacturer_name,
    mask_meter_id,
)
from custom_components.han_port.han.apdu import Keys
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.simulator import MeterSimulator

from .meter import wait_for
from .test_sensor import (
    METER_ID,
    TITLE,
    LineMeter,
    Rig,
    hour_frames,
    power_frame,
    present_hour,
)

IMPORT = Quantity.ACTIVE_ENERGY_IMPORT


def store_key(entry: MockConfigEntry) -> str:
    """Return the storage key of an entry's saved registers."""
    return f"{DOMAIN}.{entry.entry_id}"


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run Home Assistant in Norwegian time, as the meters are."""
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.fixture
async def meter() -> AsyncIterator[LineMeter]:
    """Return a simulated Aidon behind a pty; closed after the test."""
    now = dt_util.utcnow().replace(microsecond=0)
    pty = LineMeter(MeterSimulator("aidon", start=now - timedelta(seconds=30), seed=3))
    yield pty
    pty.close()


def entry_for(port: str, **data: Any) -> MockConfigEntry:
    """Return a config entry for an Aidon meter on ``port``."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=METER_ID,
        data={
            CONF_PORT: port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "E",
            CONF_VENDOR: "aidon",
            **data,
        },
    )


@pytest.fixture
async def rig(hass: HomeAssistant, meter: LineMeter) -> AsyncIterator[Rig]:
    """Return a loaded entry reading ``meter``; unloaded after the test."""
    entry = entry_for(meter.port)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield Rig(hass, meter, entry, dt_util.utcnow().replace(microsecond=0))
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_setup_and_unload(
    hass: HomeAssistant, rig: Rig, hass_storage: dict[str, Any]
) -> None:
    """An entry opens its port and loads; unloading closes the port and saves."""
    entry = rig.entry
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    assert coordinator.listener.connected
    assert coordinator.zone.key == "Europe/Oslo"
    (frame,) = hour_frames(present_hour(), hours=0)
    await rig.send(frame)
    assert coordinator.available
    assert rig.value(str(IMPORT)) == pytest.approx(frame.truth[IMPORT] / 1000)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not coordinator.listener.connected
    # Bytes the meter sends now reach nobody.
    telegrams = coordinator.decoder.stats.telegrams
    rig.meter.write(power_frame(100))
    await hass.async_block_till_done()
    assert coordinator.decoder.stats.telegrams == telegrams
    # The accepted register was saved for the next start.
    saved = hass_storage[store_key(entry)]["data"]
    assert saved["guard"]["values"][str(IMPORT)] == frame.truth[IMPORT]
    assert saved["snapshot"] == saved["guard"]


async def test_reload_keeps_the_register_guard(hass: HomeAssistant, rig: Rig) -> None:
    """After a reload the data flows again and a resent hour is still refused."""
    (frame,) = hour_frames(present_hour(), hours=0)
    await rig.send(frame)
    before = rig.coordinator
    value = rig.value(str(IMPORT))

    rig.meter.reset_line()
    assert await hass.config_entries.async_reload(rig.entry.entry_id)
    await hass.async_block_till_done()
    assert rig.entry.state is ConfigEntryState.LOADED
    after = rig.coordinator
    assert after is not before
    assert not before.listener.connected
    assert after.listener.connected
    assert after.guard.last is not None
    assert after.guard.last.values[IMPORT] == frame.truth[IMPORT]
    assert after.snapshot == after.guard.last

    await rig.send(frame)
    assert after.guard.rejected["repeated"] == 1
    assert rig.value(str(IMPORT)) == value
    await rig.send(power_frame(1234))
    assert rig.value("active_power_import") == 1234


async def test_port_missing_at_start_retries(
    hass: HomeAssistant, tmp_path: Path, meter: LineMeter
) -> None:
    """A missing port is ConfigEntryNotReady; the entry loads once it appears."""
    link = tmp_path / "ttyHAN"
    entry = entry_for(str(link))
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert str(link) in entry.reason
    assert "No such file or directory" in entry.reason
    # The device is known even before its port could be opened.
    assert dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)

    link.symlink_to(meter.port)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED)
    rig = Rig(hass, meter, entry, dt_util.utcnow())
    await rig.send(power_frame(321))
    assert rig.value("active_power_import") == 321
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_remove_entry_deletes_the_store(
    hass: HomeAssistant, rig: Rig, hass_storage: dict[str, Any]
) -> None:
    """Removing the entry deletes its saved register state for good."""
    (frame,) = hour_frames(present_hour(), hours=0)
    await rig.send(frame)
    # The accepted reading is saved after a delay even without an unload.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done()
    assert store_key(rig.entry) in hass_storage

    await hass.config_entries.async_remove(rig.entry.entry_id)
    await hass.async_block_till_done()
    assert store_key(rig.entry) not in hass_storage
    # No delayed write brings it back.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()
    assert store_key(rig.entry) not in hass_storage


async def test_remove_entry_that_never_loaded(
    hass: HomeAssistant, tmp_path: Path, hass_storage: dict[str, Any]
) -> None:
    """An entry whose port never opened can be removed; nothing is left stored."""
    entry = entry_for(str(tmp_path / "missing"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert store_key(entry) not in hass_storage


async def test_unload_before_any_data(hass: HomeAssistant, rig: Rig) -> None:
    """An entry that never heard the meter unloads without a pending repair timer."""
    coordinator = rig.coordinator
    assert not coordinator.available
    assert coordinator._no_data_timer is not None
    assert await hass.config_entries.async_unload(rig.entry.entry_id)
    await hass.async_block_till_done()
    assert coordinator._no_data_timer is None
    assert not coordinator.listener.connected


async def test_encrypted_meter_is_read_with_the_entry_keys(
    hass: HomeAssistant,
) -> None:
    """The keys stored in the entry decrypt an encrypted meter's pushes."""
    encryption = bytes(range(16))
    authentication = bytes(range(16, 32))
    now = dt_util.utcnow().replace(microsecond=0)
    meter = LineMeter(
        MeterSimulator(
            "aidon",
            start=now - timedelta(seconds=30),
            seed=5,
            encryption_key=encryption,
            authentication_key=authentication,
        )
    )
    entry = entry_for(
        meter.port,
        **{
            CONF_ENCRYPTION_KEY: encryption.hex(),
            CONF_AUTHENTICATION_KEY: authentication.hex(),
        },
    )
    entry.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        keys = entry.runtime_data.decoder.keys
        assert keys.encryption == encryption
        assert keys.authentication == authentication
        rig = Rig(hass, meter, entry, now)
        frames = meter.frames(now)
        await rig.send(*frames)
        stats = entry.runtime_data.decoder.stats
        assert stats.telegrams == len(frames)
        assert stats.decryption_errors == 0
        assert (
            rig.value("active_power_import")
            == (frames[-1].truth[Quantity.ACTIVE_POWER_IMPORT])
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        meter.close()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, None),
        ({CONF_ENCRYPTION_KEY: ""}, None),
        ({CONF_ENCRYPTION_KEY: "00" * 16}, Keys(bytes(16))),
        (
            {CONF_ENCRYPTION_KEY: "00" * 16, CONF_AUTHENTICATION_KEY: "11" * 16},
            Keys(bytes(16), b"\x11" * 16),
        ),
    ],
)
def test_keys_from_entry_data(data: dict[str, str], expected: Keys | None) -> None:
    """Keys are read from hex in the entry data, authentication optional."""
    assert keys_from(data) == expected


@pytest.mark.parametrize(
    ("vendor", "name"),
    [
        (None, None),
        ("aidon", "Aidon"),
        ("landis_gyr", "Landis+Gyr"),
        ("some_maker", "Some Maker"),
    ],
)
def test_manufacturer_name(vendor: str | None, name: str | None) -> None:
    """Vendors are named the way they write themselves."""
    assert manufacturer_name(vendor) == name


@pytest.mark.parametrize(
    ("meter_id", "masked"),
    [
        (None, None),
        ("", ""),
        ("7359990000000017", "7359************"),
        ("12345678", "********"),
    ],
)
def test_mask_meter_id(meter_id: str | None, masked: str | None) -> None:
    """Meter ids keep only the maker's digits, short ones nothing."""
    assert mask_meter_id(meter_id) == masked
