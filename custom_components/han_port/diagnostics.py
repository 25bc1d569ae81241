"""Diagnostics download: enough for a bug report without debug logging.

The meter id identifies a household, so it is masked everywhere, including
inside the raw frames (which then fail their checksums; the rest is intact):
as text, as the hex-encoded text of DSMR P1 telegrams, and as the serial
number in the system title of encrypted meters.
"""

from __future__ import annotations

from dataclasses import asdict
import re
from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .connection import redact_url
from .const import CONF_AUTHENTICATION_KEY, CONF_ENCRYPTION_KEY, CONF_PORT
from .coordinator import HanConfigEntry, HanCoordinator, mask_meter_id
from .han.model import Quantity

TO_REDACT = {CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY}


# A ciphered APDU's system title: the maker's three-letter flag, then five
# bytes that carry the meter's serial number.
_SYSTEM_TITLE: Final = re.compile(rb"([\xdb\xdc]\x08[A-Z]{3})[\x00-\xff]{5}")


def mask_frame(frame: bytes, meter_id: str, *identifiers: str) -> str:
    """Return a frame as hex with the meter id (and other identifiers) masked.

    Each is masked as text (DLMS strings, P1 lines) and as hex-encoded text
    (DSMR 4+ P1 ids); the serial in a system title is masked whatever it is.
    """
    for text in dict.fromkeys((meter_id, *identifiers)):
        if not text:
            continue
        plain, hidden = text.encode(), (mask_meter_id(text) or "").encode()
        for before, after in (
            (plain, hidden),
            (plain.hex().upper().encode(), hidden.hex().upper().encode()),
            (plain.hex().encode(), hidden.hex().encode()),
        ):
            frame = frame.replace(before, after)
    frame = _SYSTEM_TITLE.sub(lambda match: match[1] + b"*" * 5, frame)
    return frame.hex()


def _values(coordinator: HanCoordinator) -> dict[str, Any]:
    hidden = {Quantity.METER_ID, Quantity.METER_NUMBER}
    return {
        str(quantity): (value.isoformat() if hasattr(value, "isoformat") else value)
        for quantity, value in sorted(coordinator.values.items())
        if quantity not in hidden
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HanConfigEntry
) -> dict[str, Any]:
    """Return configuration, statistics and the latest frames of one meter."""
    coordinator = entry.runtime_data
    meter_id = coordinator.meter_id
    data = dict(entry.data)
    data[CONF_PORT] = redact_url(data[CONF_PORT])
    listener = coordinator.listener
    guard = coordinator.guard
    identifiers = [
        value
        for quantity in (Quantity.METER_ID, Quantity.METER_NUMBER)
        if isinstance(value := coordinator.values.get(quantity), str)
    ]
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(data, TO_REDACT),
            "options": dict(entry.options),
        },
        "meter": {
            "meter_id": mask_meter_id(meter_id),
            "vendor": coordinator.vendor,
            "model": coordinator.model,
            "list_version": coordinator.list_version,
            "meter_clock": coordinator.meter_clock.isoformat()
            if coordinator.meter_clock
            else None,
            "values": _values(coordinator),
        },
        "connection": {
            "port": coordinator.port_label,
            "line": coordinator.settings.line,
            "connected": listener.connected,
            "available": coordinator.available,
            "watchdog_timeout": listener.watchdog_timeout,
            "last_telegram": coordinator.last_telegram.isoformat()
            if coordinator.last_telegram
            else None,
            **asdict(listener.stats),
        },
        "decoder": {
            **asdict(coordinator.decoder.stats),
            "last_error": repr(coordinator.decoder.last_error)
            if coordinator.decoder.last_error
            else None,
        },
        "registers": {
            "accepted": guard.accepted,
            "rejected": {
                str(reason): count for reason, count in guard.rejected.items()
            },
            "last_rejection": coordinator.last_rejection.detail
            if coordinator.last_rejection
            else None,
            "main_fuse": guard.main_fuse,
            "statistics_rows_written": coordinator.statistics.rows_written,
        },
        "recent_frames": [
            mask_frame(frame, meter_id, *identifiers)
            for frame in coordinator.decoder.recent_frames
        ],
    }
