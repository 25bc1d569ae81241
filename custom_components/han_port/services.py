"""Actions: recompute the month's costs from the recorded hourly statistics."""

from __future__ import annotations

from typing import Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

# Home Assistant validates with probatio since 2026.10; older releases use
# voluptuous, which has the same API.
try:
    import probatio as vol
except ImportError:  # pragma: no cover - Home Assistant before 2026.10
    import voluptuous as vol  # type: ignore[no-redef]

from .const import DOMAIN
from .coordinator import HanConfigEntry
from .han.model import Quantity

SERVICE_RECOMPUTE_MONTH: Final = "recompute_month"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"

_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})


async def _recompute_month(call: ServiceCall) -> ServiceResponse:
    """Rebuild this month's hours, capacity and costs from the import statistic."""
    hass = call.hass
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: HanConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_entry",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    coordinator = entry.runtime_data
    if coordinator.cost is None or "recorder" not in hass.config.components:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_tariff",
            translation_placeholders={"title": entry.title},
        )
    hours = await coordinator.cost.async_recompute(
        coordinator.statistics.ids[Quantity.ACTIVE_ENERGY_IMPORT]
    )
    return {"hours": hours}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RECOMPUTE_MONTH,
        _recompute_month,
        schema=_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
