"""Meter profiles: turn a decoded data-notification into normalized readings.

Meters push the same information in four shapes:

* OBIS-tagged items, nested (Aidon, Landis+Gyr E350, Kaifa AT: structures of
  OBIS code, value and an optional scaler/unit pair) or flat (Kamstrup, Kaifa SE,
  Sagemcom: OBIS code and value side by side in one structure);
* a capture-object list followed by the values in the same order (Landis+Gyr E450);
* positional lists without any OBIS code (Kaifa ``KFM_001``, Iskraemeco);
* anything else, which still yields the meter clock from the APDU header.

One generic walker handles the first two; positional layouts and the scalers a
vendor leaves implicit are data tables, so a new meter is a table row, not code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .apdu import Notification
from .axdr import DateTimeValue, Value, parse_datetime
from .model import (
    FrameFormat,
    Quantity,
    Reading,
    Telegram,
    classify_list,
    format_obis,
    quantity_for,
)

type Obis = tuple[int, int, int, int, int, int]

# DLMS unit enumeration (IEC 62056-6-2) for the units a HAN list carries.
UNITS: dict[int, str] = {
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    35: "V",
    44: "Hz",
    56: "%",
    255: "",
}

_TEXT_QUANTITIES = frozenset(
    {
        Quantity.METER_ID,
        Quantity.METER_MODEL,
        Quantity.LIST_VERSION,
        Quantity.METER_NUMBER,
    }
)


@dataclass(frozen=True, slots=True)
class Item:
    """One value as the meter sent it, before scaling."""

    obis: Obis
    value: Value
    scaler: int | None = None
    unit: int | None = None


# Scalers (powers of ten) that vendors apply without sending them, by SI unit of
# the quantity; power factor is keyed by "".
_IMPLIED_SCALERS: dict[str, dict[str, int]] = {
    "kaifa": {"A": -3, "V": -1, "Wh": 0, "varh": 0, "W": 0, "var": 0, "": -3},
    "kamstrup": {"A": -2, "V": 0, "Wh": 1, "varh": 1, "W": 0, "var": 0, "": -2},
    "landis_gyr": {"A": -2, "V": 0, "Wh": 0, "varh": 0, "W": 0, "var": 0, "": -3},
    "iskraemeco": {"A": -2, "V": -1, "Wh": 0, "varh": 0, "W": 0, "var": 0, "": -3},
    "sagemcom": {"A": -2, "V": -1, "Wh": 0, "varh": 0, "W": 0, "var": 0, "": -3},
}
_DEFAULT_SCALERS: dict[str, int] = {"": -3}


def _o(text: str) -> Obis:
    a, b, c, d, e, f = (int(part) for part in text.split("."))
    return (a, b, c, d, e, f)


_LIST_ID = _o("1.1.0.2.129.255")
_METER_ID = _o("0.0.96.1.0.255")
_MODEL = _o("0.0.96.1.7.255")
_CLOCK = _o("0.0.1.0.0.255")
_P_IMP, _P_EXP = _o("1.0.1.7.0.255"), _o("1.0.2.7.0.255")
_Q_IMP, _Q_EXP = _o("1.0.3.7.0.255"), _o("1.0.4.7.0.255")
_I1, _I2, _I3 = _o("1.0.31.7.0.255"), _o("1.0.51.7.0.255"), _o("1.0.71.7.0.255")
_U1, _U2, _U3 = _o("1.0.32.7.0.255"), _o("1.0.52.7.0.255"), _o("1.0.72.7.0.255")
_A_IMP, _A_EXP = _o("1.0.1.8.0.255"), _o("1.0.2.8.0.255")
_R_IMP, _R_EXP = _o("1.0.3.8.0.255"), _o("1.0.4.8.0.255")
_P_IMP_L = (_o("1.0.21.7.0.255"), _o("1.0.41.7.0.255"), _o("1.0.61.7.0.255"))
_P_EXP_L = (_o("1.0.22.7.0.255"), _o("1.0.42.7.0.255"), _o("1.0.62.7.0.255"))
_A_IMP_T1, _A_IMP_T2 = _o("1.0.1.8.1.255"), _o("1.0.1.8.2.255")
_NAME = _o("0.0.42.0.0.255")

# Positional layouts by vendor and type signature of the values (see
# ``_signature``: s text, i number, t clock, b other octets). ``None`` skips a
# position whose meaning no public document gives.
_KAIFA_IDS = "sss" + "i" * 4
_KAIFA_1P = (_LIST_ID, _METER_ID, _MODEL, _P_IMP, _P_EXP, _Q_IMP, _Q_EXP, _I1, _U1)
_KAIFA_3P = (
    *(_LIST_ID, _METER_ID, _MODEL, _P_IMP, _P_EXP, _Q_IMP, _Q_EXP),
    *(_I1, _I2, _I3, _U1, _U2, _U3),
)
_KAIFA_HOURLY = (_CLOCK, _A_IMP, _A_EXP, _R_IMP, _R_EXP)
_ISK_NAME = (_NAME, _METER_ID)
_POSITIONAL: dict[tuple[str, str], tuple[Obis | None, ...]] = {
    ("kaifa", "i"): (_P_IMP,),
    ("kaifa", _KAIFA_IDS + "ii"): _KAIFA_1P,
    ("kaifa", _KAIFA_IDS + "i" * 6): _KAIFA_3P,
    ("kaifa", _KAIFA_IDS + "iit" + "i" * 4): _KAIFA_1P + _KAIFA_HOURLY,
    ("kaifa", _KAIFA_IDS + "i" * 6 + "t" + "i" * 4): _KAIFA_3P + _KAIFA_HOURLY,
    # Iskraemeco AM550 (Slovenia): logical device name, push list id, values.
    ("iskraemeco", "ss" + "i" * 16): (
        *(*_ISK_NAME, _P_IMP, _P_EXP, _Q_IMP, _Q_EXP),
        *(_U1, _U2, _U3, _I1, _I2, _I3, *_P_IMP_L, *_P_EXP_L),
    ),
    ("iskraemeco", "ss" + "i" * 10): (
        *(*_ISK_NAME, _U1, _U2, _U3, _I1, _I2, _I3),
        *(_P_IMP, _P_EXP, _Q_IMP, _Q_EXP),
    ),
    ("iskraemeco", "ss" + "i" * 8): (
        *(*_ISK_NAME, _P_IMP, _P_EXP, _Q_IMP, _Q_EXP, _U1, _I1),
        *(_P_IMP_L[0], _P_EXP_L[0]),
    ),
    ("iskraemeco", "ss" + "i" * 7): (
        *(*_ISK_NAME, _P_IMP, _P_EXP, _Q_IMP, _Q_EXP, _U1, None, None),
    ),
    # Iskraemeco 15-minute list: totals followed by their tariff parts (the
    # sums check out on every capture), then two registers no document names.
    ("iskraemeco", "ssib" + "i" * 8): (
        *(*_ISK_NAME, None, None, _A_IMP, _A_IMP_T1, _A_IMP_T2),
        *(_A_EXP, _o("1.0.2.8.1.255"), _o("1.0.2.8.2.255"), None, None),
    ),
    ("iskraemeco", "s" + "i" * 8): (
        *(_NAME, _P_IMP, _P_EXP, _A_IMP, _A_IMP_T1, _A_IMP_T2, None, None, None),
    ),
}

# Strings that name the vendor when they appear as list id, model or title prefix.
_VENDOR_MARKERS: tuple[tuple[str, str], ...] = (
    ("AIDON", "aidon"),
    ("KAMSTRUP", "kamstrup"),
    ("KFM", "kaifa"),
    ("KAIFA", "kaifa"),
    ("EMBRIQ", "landis_gyr"),
    ("LGZ", "landis_gyr"),
    ("ISK", "iskraemeco"),
    ("SAG", "sagemcom"),
)
# GS1 company prefixes that open Nordic meter ids.
_METER_ID_PREFIXES: tuple[tuple[str, str], ...] = (
    ("7359992", "aidon"),
    ("6970631", "kaifa"),
    ("7340157", "kaifa"),
    ("5706567", "kamstrup"),
    ("5705705", "kamstrup"),
)


def vendor_from_text(text: str) -> str | None:
    """Recognise a vendor in a list id, model string, meter id or system title."""
    upper = text.upper()
    for marker, vendor in _VENDOR_MARKERS:
        if upper.startswith(marker) or marker in upper[:16]:
            return vendor
    for prefix, vendor in _METER_ID_PREFIXES:
        if text.startswith(prefix):
            return vendor
    return None


def _is_obis(value: Value) -> bool:
    return type(value) is bytes and len(value) == 6 and value[0] <= 1 and value[5] == 0xFF


def _is_scaler_unit(value: Value) -> bool:
    if type(value) is not tuple or len(value) != 2:
        return False
    scaler, unit = value
    return type(scaler) is int and type(unit) is int and -20 <= scaler <= 20 and unit in UNITS


def _is_capture_object(value: Value) -> bool:
    return (
        type(value) is tuple
        and len(value) == 4
        and type(value[0]) is int
        and _is_obis(value[1])
        and type(value[2]) is int
    )


def _flatten(values: Iterable[Value], out: list[Value]) -> None:
    """Flatten structures and arrays, keeping scaler/unit pairs and capture objects whole."""
    for value in values:
        if type(value) is tuple:
            if _is_scaler_unit(value) or _is_capture_object(value):
                out.append(value)
            else:
                _flatten(value, out)
        elif type(value) is list:
            _flatten(value, out)
        else:
            out.append(value)


def _as_obis(raw: bytes) -> Obis:
    return (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5])


def _capture_node(values: Sequence[Value]) -> Sequence[Value] | None:
    """Find the structure that opens with a capture-object list (Landis+Gyr E450)."""
    for value in values:
        if isinstance(value, (tuple, list)) and value:
            head = value[0]
            if isinstance(head, list) and head and all(map(_is_capture_object, head)):
                return value
            if (found := _capture_node(value)) is not None:
                return found
    return None


def extract_items(body: Sequence[Value]) -> tuple[list[Item], list[Value]]:
    """Pair OBIS codes with their values; return the items and the unpaired leaves."""
    if (node := _capture_node(body)) is not None:
        return _pair_captures(node)  # only Landis+Gyr pushes capture lists
    tokens: list[Value] = []
    _flatten(body, tokens)
    items: list[Item] = []
    leftovers: list[Value] = []
    count = len(tokens)
    index = 0
    while index < count:
        token = tokens[index]
        if _is_obis(token) and index + 1 < count and not _is_obis(tokens[index + 1]):
            assert isinstance(token, bytes)
            value = tokens[index + 1]
            index += 2
            scaler: int | None = None
            unit: int | None = None
            if index < count and _is_scaler_unit(following := tokens[index]):
                assert isinstance(following, tuple)
                scaler, unit = following
                index += 1
            items.append(Item(_as_obis(token), value, scaler, unit))
        else:
            leftovers.append(token)
            index += 1
    return items, leftovers


def _pair_captures(node: Sequence[Value]) -> tuple[list[Item], list[Value]]:
    """Pair a capture-object list with the values that follow it, in order.

    A push setup (class 40) may capture its own object list (attribute 2): that
    value is the capture list itself, which the meter does not repeat.
    """
    captures = node[0]
    assert isinstance(captures, list)
    values = list(node[1:])
    first = captures[0]
    assert isinstance(first, tuple)
    if first[0] == 40 and first[2] == 2:
        values.insert(0, captures)
    items: list[Item] = []
    for capture, value in zip(captures, values, strict=False):
        assert isinstance(capture, tuple)
        raw = capture[1]
        assert isinstance(raw, bytes)
        if capture[0] != 40:
            items.append(Item(_as_obis(raw), value))
    return items, values[len(captures) :]


def _signature(leaves: list[Value]) -> str:
    chars = []
    for value in leaves:
        if isinstance(value, bool) or value is None:
            chars.append("-")
        elif isinstance(value, (int, float)):
            chars.append("i")
        elif isinstance(value, DateTimeValue) or (
            isinstance(value, bytes) and len(value) == 12 and parse_datetime(value)
        ):
            chars.append("t")
        elif isinstance(value, str) or (isinstance(value, bytes) and value.isascii()):
            chars.append("s")
        else:
            chars.append("b")
    return "".join(chars)


def _positional(vendor: str | None, leaves: list[Value]) -> list[Item]:
    layout = _POSITIONAL.get((vendor or "", _signature(leaves)))
    if layout is None and vendor is None and len(leaves) == 1:
        layout = (_P_IMP,)  # every Nordic List 1 is active power import alone
    if layout is None:
        return []
    return [Item(obis, value) for obis, value in zip(layout, leaves, strict=True) if obis]


def _text(value: Value) -> str | None:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        text = value.decode("latin-1")
    else:
        return None
    return text.rstrip("\x00 ").strip() or None


def _clock(value: Value) -> datetime | None:
    if isinstance(value, DateTimeValue):
        return value.to_datetime()
    if isinstance(value, bytes) and len(value) == 12:
        return parse_datetime(value)
    return None


def _number(raw: int | float, scaler: int) -> int | float:
    if scaler == 0:
        return raw
    if scaler > 0:
        return raw * 10**scaler
    return round(raw * 10.0**scaler, -scaler)


def _detect_vendor(leaves: Sequence[Value], items: Sequence[Item], hint: str | None) -> str | None:
    if hint:
        return hint
    for value in (*leaves[:4], *(item.value for item in items[:4])):
        text = _text(value) if isinstance(value, (str, bytes)) else None
        if text and (vendor := vendor_from_text(text)):
            return vendor
    return None


def build_telegram(
    notification: Notification,
    frame_format: FrameFormat,
    *,
    vendor_hint: str | None = None,
) -> Telegram:
    """Build the normalized telegram for one data-notification.

    ``vendor_hint`` comes from the link (system title, HDLC address) or from a
    previous telegram of the same meter; it picks implied scalers and layouts.
    """
    items, leftovers = extract_items(notification.body)
    vendor = _detect_vendor(leftovers, items, vendor_hint)
    if vendor is None and _capture_node(notification.body) is not None:
        vendor = "landis_gyr"
    if not items:
        leaves: list[Value] = []
        _flatten(notification.body, leaves)
        items = _positional(vendor, leaves)
        leftovers = []
    telegram = Telegram(format=frame_format, vendor=vendor, encrypted=notification.encrypted)
    scalers = _IMPLIED_SCALERS.get(vendor or "", _DEFAULT_SCALERS)
    readings = telegram.readings
    for item in items:
        key = format_obis(item.obis)
        known = quantity_for(item.obis)
        quantity = known[0] if known else None
        if quantity is Quantity.METER_CLOCK:
            when = _clock(item.value)
            if when is not None:
                readings[key] = Reading(key, when, None, quantity)
                telegram.meter_time = when
            continue
        value = item.value
        if isinstance(value, (str, bytes)):
            text = _text(value)
            if text is not None:
                readings[key] = Reading(key, text, None, quantity)
                _describe(telegram, quantity, text)
            continue
        if type(value) is not int and type(value) is not float:
            continue
        assert isinstance(value, (int, float))
        if quantity in _TEXT_QUANTITIES:
            readings[key] = Reading(key, str(value), None, quantity)
            _describe(telegram, quantity, str(value))
            continue
        si_unit = known[1] if known else (UNITS.get(item.unit, "") if item.unit else None)
        scaler = item.scaler
        if scaler is None:
            scaler = scalers.get(si_unit, 0) if si_unit is not None else 0
        readings[key] = Reading(key, _number(value, scaler), si_unit, quantity)
    if leftovers and items:
        _unlabelled(telegram, leftovers)
    if notification.timestamp is not None:
        telegram.push_time = notification.timestamp.to_datetime()
        if telegram.meter_time is None:
            telegram.meter_time = telegram.push_time
    if telegram.vendor is None:
        for text in (telegram.list_version, telegram.model, telegram.meter_id):
            if text and (found := vendor_from_text(text)):
                telegram.vendor = found
                break
    telegram.list_type = classify_list(readings)
    return telegram


def _describe(telegram: Telegram, quantity: Quantity | None, text: str) -> None:
    if quantity is Quantity.METER_ID:
        telegram.meter_id = text
    elif quantity is Quantity.METER_MODEL:
        telegram.model = text
    elif quantity is Quantity.LIST_VERSION:
        telegram.list_version = text


def _unlabelled(telegram: Telegram, leftovers: list[Value]) -> None:
    """Use values sent without an OBIS code next to OBIS-tagged ones.

    Kamstrup opens with its list id, Austrian lists with the meter clock and end
    with the meter number; these are recognised by type and position.
    """
    readings = telegram.readings
    first = leftovers[0]
    if telegram.list_version is None and isinstance(first, (str, bytes)):
        text = _text(first)
        if text and text.isprintable() and " " not in text and len(text) <= 32:
            telegram.list_version = text
            if telegram.vendor is None:
                telegram.vendor = vendor_from_text(text)
    if telegram.meter_time is None:
        for value in leftovers:
            if (when := _clock(value)) is not None:
                key = format_obis(_CLOCK)
                readings[key] = Reading(key, when, None, Quantity.METER_CLOCK)
                telegram.meter_time = when
                break
    last = leftovers[-1]
    if telegram.meter_id is None and len(leftovers) > 1 and isinstance(last, (str, bytes)):
        text = _text(last)
        if text and text.isalnum():
            key = format_obis(_METER_ID)
            readings[key] = Reading(key, text, None, Quantity.METER_ID)
            telegram.meter_id = text
