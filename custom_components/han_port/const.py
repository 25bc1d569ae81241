"""Constants for the HAN Port integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "han_port"
LOGGER: Final = logging.getLogger(__package__)

# Entry data: where the meter is and what it turned out to be.
CONF_PORT: Final = "port"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_ENCRYPTION_KEY: Final = "encryption_key"
CONF_AUTHENTICATION_KEY: Final = "authentication_key"
CONF_VENDOR: Final = "vendor"
CONF_MODEL: Final = "model"

# Options: scale factors for meters behind current transformers, main fuse.
CONF_POWER_SCALE: Final = "power_scale"
CONF_CURRENT_SCALE: Final = "current_scale"
CONF_ENERGY_SCALE: Final = "energy_scale"
CONF_MAIN_FUSE: Final = "main_fuse"

DEFAULT_MAIN_FUSE: Final = 125  # amperes; the largest residential main fuse
PARITIES: Final = ("E", "N", "O")
BAUDRATES: Final = (2400, 9600, 115200)

RECENT_FRAMES: Final = 30
NO_DATA_ISSUE_SECONDS: Final = 600
ERROR_WINDOW_SECONDS: Final = 60
