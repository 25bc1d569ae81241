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
# Values worked out from the telegrams (the running hour, the tariff) are
# refreshed once in each such slot of the meter's time, not with every push.
DERIVED_SECONDS: Final = 10
# Bytes in an error window that fit no frame, with nothing decoded: a garbled line.
GARBLED_BYTES: Final = 256

# Options: the tariff (grid company, taxes, scheme, supplier contract).
CONF_GRID_COMPANY: Final = "grid_company"
CONF_TAX_ZONE: Final = "tax_zone"
CONF_SCHEME: Final = "scheme"
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_FIXED_PRICE: Final = "fixed_price"
CONF_MARKUP: Final = "markup"
CONF_MONTHLY_FEE: Final = "monthly_fee"
CONF_DAY_PRICE: Final = "day_price"
CONF_NIGHT_PRICE: Final = "night_price"
CONF_CAPACITY_STEPS: Final = "capacity_steps"

GRID_NONE: Final = "none"
GRID_CUSTOM: Final = "custom"
ZONE_AUTO: Final = "auto"
TARIFF_OPTIONS: Final = (
    CONF_GRID_COMPANY,
    CONF_TAX_ZONE,
    CONF_SCHEME,
    CONF_PRICE_ENTITY,
    CONF_FIXED_PRICE,
    CONF_MARKUP,
    CONF_MONTHLY_FEE,
    CONF_DAY_PRICE,
    CONF_NIGHT_PRICE,
    CONF_CAPACITY_STEPS,
)
