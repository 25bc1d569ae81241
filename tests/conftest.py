"""Fixtures shared by the HAN Port tests."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port.const import CONF_PORT, DOMAIN


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components in every test."""


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """Return a config entry for a meter on a local serial port."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="/dev/ttyUSB0",
        unique_id="/dev/ttyUSB0",
        data={CONF_PORT: "/dev/ttyUSB0"},
    )


@pytest.fixture
def short_slots() -> Iterator[None]:
    """Refresh the derived values once a second instead of every ten.

    Tests on a real port run on the real clock, where ``next_slot`` then
    waits at most a second for values that are due only in a new slot.
    """
    with patch("custom_components.han_port.coordinator.DERIVED_SECONDS", 1):
        yield
