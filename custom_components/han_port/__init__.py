"""The HAN Port integration: local push readings from AMS smart meters."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import HanConfigEntry, HanCoordinator, saved_state
from .cost import tariff_store
from .services import async_setup_services
from .tariff import load_shipped_data

PLATFORMS: list[Platform] = [Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions and read the shipped tariff data.

    The grid companies, taxes and schemes are files: read once here, in a
    worker thread, entries and the options flow never wait on the disk.
    """
    async_setup_services(hass)
    await hass.async_add_executor_job(load_shipped_data)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HanConfigEntry) -> bool:
    """Open the meter's port and create its sensors.

    Returns True: Home Assistant before 2026.11 treats anything else as a
    failed setup.
    """
    coordinator = HanCoordinator(hass, entry)
    await coordinator.async_start()
    entry.runtime_data = coordinator
    entry.async_on_unload(coordinator.async_stop)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HanConfigEntry) -> bool:
    """Unload the sensors; the port is closed by the unload callback."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: HanConfigEntry) -> None:
    """Delete the saved register state and priced month of a removed meter."""
    await saved_state(hass, entry.entry_id).async_remove()
    await tariff_store(hass, entry.entry_id).async_remove()
