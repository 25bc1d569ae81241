"""Config flow for HAN Port."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

# Home Assistant validates with probatio since 2026.10 and types its flow
# forms with it; older releases use voluptuous, which has the same API.
try:
    import probatio as vol
except ImportError:  # pragma: no cover - Home Assistant before 2026.10
    import voluptuous as vol  # type: ignore[no-redef]

from .const import CONF_PORT, DOMAIN

STEP_USER_DATA_SCHEMA = vol.Schema({vol.Required(CONF_PORT): str})


class HanPortConfigFlow(ConfigFlow, domain=DOMAIN):
    """Ask for the serial port or network URL the meter's HAN adapter is on."""

    VERSION = 1

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle the step started by the user."""
        if user_input is not None:
            port = user_input[CONF_PORT].strip()
            # One entry per port: two readers on one port would split its bytes.
            await self.async_set_unique_id(port)
            self._abort_if_unique_id_configured()
            return self.async_create_entry(title=port, data={CONF_PORT: port})

        return self.async_show_form(step_id="user", data_schema=STEP_USER_DATA_SCHEMA)
