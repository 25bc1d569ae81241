"""What the decoder hands out: telegrams of normalized readings.

Every layer below (HDLC, M-Bus, P1, A-XDR, vendor profiles) ends in these types,
so the Home Assistant side and the tariff engine never see wire details.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class FrameFormat(StrEnum):
    """The link framing a telegram arrived in."""

    HDLC = "hdlc"
    MBUS = "mbus"
    P1 = "p1"
    DLMS = "dlms"  # a bare LLC PDU or APDU without link framing


class Quantity(StrEnum):
    """Meter quantities in the meter-neutral vocabulary used by the integration."""

    ACTIVE_POWER_IMPORT = "active_power_import"
    ACTIVE_POWER_EXPORT = "active_power_export"
    REACTIVE_POWER_IMPORT = "reactive_power_import"
    REACTIVE_POWER_EXPORT = "reactive_power_export"
    APPARENT_POWER_IMPORT = "apparent_power_import"
    APPARENT_POWER_EXPORT = "apparent_power_export"
    ACTIVE_POWER_IMPORT_L1 = "active_power_import_l1"
    ACTIVE_POWER_IMPORT_L2 = "active_power_import_l2"
    ACTIVE_POWER_IMPORT_L3 = "active_power_import_l3"
    ACTIVE_POWER_EXPORT_L1 = "active_power_export_l1"
    ACTIVE_POWER_EXPORT_L2 = "active_power_export_l2"
    ACTIVE_POWER_EXPORT_L3 = "active_power_export_l3"
    REACTIVE_POWER_IMPORT_L1 = "reactive_power_import_l1"
    REACTIVE_POWER_IMPORT_L2 = "reactive_power_import_l2"
    REACTIVE_POWER_IMPORT_L3 = "reactive_power_import_l3"
    REACTIVE_POWER_EXPORT_L1 = "reactive_power_export_l1"
    REACTIVE_POWER_EXPORT_L2 = "reactive_power_export_l2"
    REACTIVE_POWER_EXPORT_L3 = "reactive_power_export_l3"
    CURRENT_L1 = "current_l1"
    CURRENT_L2 = "current_l2"
    CURRENT_L3 = "current_l3"
    CURRENT_NEUTRAL = "current_neutral"
    VOLTAGE_L1 = "voltage_l1"
    VOLTAGE_L2 = "voltage_l2"
    VOLTAGE_L3 = "voltage_l3"
    POWER_FACTOR = "power_factor"
    POWER_FACTOR_L1 = "power_factor_l1"
    POWER_FACTOR_L2 = "power_factor_l2"
    POWER_FACTOR_L3 = "power_factor_l3"
    FREQUENCY = "frequency"
    ACTIVE_ENERGY_IMPORT = "active_energy_import"
    ACTIVE_ENERGY_IMPORT_T1 = "active_energy_import_t1"
    ACTIVE_ENERGY_IMPORT_T2 = "active_energy_import_t2"
    ACTIVE_ENERGY_IMPORT_T3 = "active_energy_import_t3"
    ACTIVE_ENERGY_IMPORT_T4 = "active_energy_import_t4"
    ACTIVE_ENERGY_EXPORT = "active_energy_export"
    ACTIVE_ENERGY_EXPORT_T1 = "active_energy_export_t1"
    ACTIVE_ENERGY_EXPORT_T2 = "active_energy_export_t2"
    ACTIVE_ENERGY_EXPORT_T3 = "active_energy_export_t3"
    ACTIVE_ENERGY_EXPORT_T4 = "active_energy_export_t4"
    ACTIVE_ENERGY_IMPORT_L1 = "active_energy_import_l1"
    ACTIVE_ENERGY_IMPORT_L2 = "active_energy_import_l2"
    ACTIVE_ENERGY_IMPORT_L3 = "active_energy_import_l3"
    ACTIVE_ENERGY_EXPORT_L1 = "active_energy_export_l1"
    ACTIVE_ENERGY_EXPORT_L2 = "active_energy_export_l2"
    ACTIVE_ENERGY_EXPORT_L3 = "active_energy_export_l3"
    REACTIVE_ENERGY_IMPORT = "reactive_energy_import"
    REACTIVE_ENERGY_EXPORT = "reactive_energy_export"
    METER_CLOCK = "meter_clock"
    METER_ID = "meter_id"
    METER_MODEL = "meter_model"
    LIST_VERSION = "list_version"
    METER_NUMBER = "meter_number"


# OBIS groups C.D.E (ignoring the medium A and channel B, which vendors vary) to
# quantity and SI unit. Tariff and phase variants are generated below.
_BASE: dict[tuple[int, int, int], tuple[Quantity, str]] = {
    (1, 7, 0): (Quantity.ACTIVE_POWER_IMPORT, "W"),
    (2, 7, 0): (Quantity.ACTIVE_POWER_EXPORT, "W"),
    (3, 7, 0): (Quantity.REACTIVE_POWER_IMPORT, "var"),
    (4, 7, 0): (Quantity.REACTIVE_POWER_EXPORT, "var"),
    (9, 7, 0): (Quantity.APPARENT_POWER_IMPORT, "VA"),
    (10, 7, 0): (Quantity.APPARENT_POWER_EXPORT, "VA"),
    (21, 7, 0): (Quantity.ACTIVE_POWER_IMPORT_L1, "W"),
    (41, 7, 0): (Quantity.ACTIVE_POWER_IMPORT_L2, "W"),
    (61, 7, 0): (Quantity.ACTIVE_POWER_IMPORT_L3, "W"),
    (22, 7, 0): (Quantity.ACTIVE_POWER_EXPORT_L1, "W"),
    (42, 7, 0): (Quantity.ACTIVE_POWER_EXPORT_L2, "W"),
    (62, 7, 0): (Quantity.ACTIVE_POWER_EXPORT_L3, "W"),
    (23, 7, 0): (Quantity.REACTIVE_POWER_IMPORT_L1, "var"),
    (43, 7, 0): (Quantity.REACTIVE_POWER_IMPORT_L2, "var"),
    (63, 7, 0): (Quantity.REACTIVE_POWER_IMPORT_L3, "var"),
    (24, 7, 0): (Quantity.REACTIVE_POWER_EXPORT_L1, "var"),
    (44, 7, 0): (Quantity.REACTIVE_POWER_EXPORT_L2, "var"),
    (64, 7, 0): (Quantity.REACTIVE_POWER_EXPORT_L3, "var"),
    (31, 7, 0): (Quantity.CURRENT_L1, "A"),
    (51, 7, 0): (Quantity.CURRENT_L2, "A"),
    (71, 7, 0): (Quantity.CURRENT_L3, "A"),
    (91, 7, 0): (Quantity.CURRENT_NEUTRAL, "A"),
    (32, 7, 0): (Quantity.VOLTAGE_L1, "V"),
    (52, 7, 0): (Quantity.VOLTAGE_L2, "V"),
    (72, 7, 0): (Quantity.VOLTAGE_L3, "V"),
    (13, 7, 0): (Quantity.POWER_FACTOR, ""),
    (33, 7, 0): (Quantity.POWER_FACTOR_L1, ""),
    (53, 7, 0): (Quantity.POWER_FACTOR_L2, ""),
    (73, 7, 0): (Quantity.POWER_FACTOR_L3, ""),
    (14, 7, 0): (Quantity.FREQUENCY, "Hz"),
    (1, 8, 0): (Quantity.ACTIVE_ENERGY_IMPORT, "Wh"),
    (2, 8, 0): (Quantity.ACTIVE_ENERGY_EXPORT, "Wh"),
    (3, 8, 0): (Quantity.REACTIVE_ENERGY_IMPORT, "varh"),
    (4, 8, 0): (Quantity.REACTIVE_ENERGY_EXPORT, "varh"),
    (21, 8, 0): (Quantity.ACTIVE_ENERGY_IMPORT_L1, "Wh"),
    (41, 8, 0): (Quantity.ACTIVE_ENERGY_IMPORT_L2, "Wh"),
    (61, 8, 0): (Quantity.ACTIVE_ENERGY_IMPORT_L3, "Wh"),
    (22, 8, 0): (Quantity.ACTIVE_ENERGY_EXPORT_L1, "Wh"),
    (42, 8, 0): (Quantity.ACTIVE_ENERGY_EXPORT_L2, "Wh"),
    (62, 8, 0): (Quantity.ACTIVE_ENERGY_EXPORT_L3, "Wh"),
}
for _tariff in range(1, 5):
    _BASE[(1, 8, _tariff)] = (Quantity(f"active_energy_import_t{_tariff}"), "Wh")
    _BASE[(2, 8, _tariff)] = (Quantity(f"active_energy_export_t{_tariff}"), "Wh")

# Abstract objects (A = 0) and Nordic list identifiers (any A) by C.D.E.
_ABSTRACT: dict[tuple[int, int, int], Quantity] = {
    (1, 0, 0): Quantity.METER_CLOCK,
    (96, 1, 0): Quantity.METER_ID,
    (96, 1, 1): Quantity.METER_ID,  # P1 equipment identifier
    (96, 1, 7): Quantity.METER_MODEL,
    (0, 2, 129): Quantity.LIST_VERSION,
}

# Electricity-medium (A = 1) identifiers some vendors use instead of A = 0 ones.
_IDENTIFIERS: dict[tuple[int, int, int], Quantity] = {
    (0, 0, 5): Quantity.METER_ID,  # Kamstrup: meter id (GS1 number)
    (96, 1, 1): Quantity.METER_MODEL,  # Kamstrup: meter type
    (0, 0, 1): Quantity.METER_NUMBER,  # Kamstrup DK: customer meter number
    (0, 0, 0): Quantity.METER_ID,  # P1: equipment identifier on the electricity channel
    (96, 1, 0): Quantity.METER_ID,
}
_ABSTRACT[(42, 0, 0)] = Quantity.METER_NUMBER  # COSEM logical device name

ENERGY_QUANTITIES = frozenset(q for q, unit in _BASE.values() if unit in {"Wh", "varh"})


def quantity_for(
    obis: tuple[int, int, int, int, int, int],
) -> tuple[Quantity, str] | None:
    """Return the quantity and SI unit an OBIS code stands for, if we know it."""
    a, _b, c, d, e, _f = obis
    if a == 0 or (c, d, e) == (0, 2, 129):
        quantity = _ABSTRACT.get((c, d, e))
        return (quantity, "") if quantity is not None else None
    found = _BASE.get((c, d, e))
    if found is None and (identifier := _IDENTIFIERS.get((c, d, e))) is not None:
        return identifier, ""
    return found


def format_obis(obis: tuple[int, int, int, int, int, int]) -> str:
    """Render an OBIS code the way the JSON output and the conformance data key it."""
    return "{}.{}.{}.{}.{}.{}".format(*obis)


class Reading(NamedTuple):
    """One value from a telegram with scaler applied and unit normalized to SI.

    ``unit`` is ``None`` for text and clock values. Power factor has unit ``""``
    (a plain ratio) so that the JSON output can still say it is numeric. A
    named tuple, because a busy meter creates thousands of these a minute.
    """

    obis: str
    value: float | int | str | datetime
    unit: str | None = None
    quantity: Quantity | None = None


@dataclass(slots=True)
class Telegram:
    """One complete message from the meter, whatever framing carried it.

    ``list_type`` follows the Nordic convention by content: 3 when cumulative
    energy registers are present, 2 when phase voltages or currents are, else 1.
    ``verified`` is False only for P1 telegrams that carry no CRC at all.
    ``meter_time`` is the meter clock sent in the list, else the push time from
    the APDU header (``push_time``), which some meters send instead.
    """

    format: FrameFormat
    vendor: str | None = None
    model: str | None = None
    meter_id: str | None = None
    list_version: str | None = None
    meter_time: datetime | None = None
    readings: dict[str, Reading] = field(default_factory=dict)
    push_time: datetime | None = None
    list_type: int | None = None
    verified: bool = True
    encrypted: bool = False
    # ``values_by_quantity``, when the decoder made it along with the readings.
    quantities: dict[Quantity, Any] | None = field(
        default=None, repr=False, compare=False
    )

    def by_quantity(self) -> dict[Quantity, Reading]:
        """Index the readings by quantity; the first reading of a quantity wins."""
        result: dict[Quantity, Reading] = {}
        for reading in self.readings.values():
            if reading.quantity is not None and reading.quantity not in result:
                result[reading.quantity] = reading
        return result

    def values_by_quantity(self) -> dict[Quantity, Any]:
        """Return each quantity's value as ``by_quantity`` finds it (do not change it).

        A layout the decoder knows yields this dict along with the readings,
        so a push is not indexed a second time.
        """
        quantities = self.quantities
        if quantities is None:
            quantities = self.quantities = {
                quantity: reading.value
                for quantity, reading in self.by_quantity().items()
            }
        return quantities

    def get(self, quantity: Quantity) -> float | int | str | datetime | None:
        """Return the value of a quantity, or None when the telegram lacks it."""
        for reading in self.readings.values():
            if reading.quantity is quantity:
                return reading.value
        return None

    def to_json(self) -> dict[str, Any]:
        """Return the documented JSON shape of a telegram (CLI and tests)."""
        values: dict[str, dict[str, Any]] = {}
        for key, reading in self.readings.items():
            value = reading.value
            entry: dict[str, Any] = {
                "value": value.isoformat() if isinstance(value, datetime) else value
            }
            if reading.unit is not None:
                entry["unit"] = reading.unit
            values[key] = entry
        return {
            "format": str(self.format),
            "vendor": self.vendor,
            "model": self.model,
            "meter_id": self.meter_id,
            "list": self.list_type,
            "list_version": self.list_version,
            "meter_time": self.meter_time.isoformat() if self.meter_time else None,
            "push_time": self.push_time.isoformat() if self.push_time else None,
            "verified": self.verified,
            "encrypted": self.encrypted,
            "values": values,
        }


def classify_list(readings: dict[str, Reading] | Iterable[Quantity | None]) -> int:
    """Classify a Nordic list by content (see ``Telegram.list_type``)."""
    has_phase = False
    quantities = (
        (reading.quantity for reading in readings.values())
        if isinstance(readings, dict)
        else readings
    )
    for quantity in quantities:
        if quantity in ENERGY_QUANTITIES:
            return 3
        if quantity is not None and quantity.startswith(("voltage_", "current_")):
            has_phase = True
    return 2 if has_phase else 1
