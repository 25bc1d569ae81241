"""Tests for the HAN Port config flow."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import CONF_PORT, DOMAIN


async def test_user_step_creates_entry(hass: HomeAssistant) -> None:
    """Submitting a port creates an entry named after it."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert not result["errors"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: " /dev/ttyUSB0 "}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "/dev/ttyUSB0"
    assert result["data"] == {CONF_PORT: "/dev/ttyUSB0"}
    assert result["result"].unique_id == "/dev/ttyUSB0"


async def test_user_step_aborts_on_configured_port(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """A port that already has an entry is not configured twice."""
    mock_config_entry.add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/dev/ttyUSB0"}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
