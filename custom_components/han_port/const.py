"""Constants for the HAN Port integration."""

from typing import Final

DOMAIN: Final = "han_port"

CONF_PORT: Final = "port"
