"""The HAN Port integration: local push readings from AMS smart meters."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up HAN Port from a config entry.

    Home Assistant treats anything but True as a failed setup.
    """
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload a config entry; nothing is held open yet."""
    return True
