"""P1 telegrams: the ASCII readout of IEC 62056-21 mode D as DSMR, ESMR and e-MUCS use it.

A telegram is a header line ``/XXX5model``, a blank line, one ``A-B:C.D.E(value)``
line per object and a closing ``!`` with an optional CRC-16/ARC in hex. Meters
and gateways differ in the details, so parsing is lenient where the data stays
unambiguous (CRC without zero padding, LF-only line ends, stray lines before the
header or after the CRC, ``*F`` suffixes) and strict where it guards the values:
a CRC that is present must match.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
import re
from typing import Final, Literal, NamedTuple

from .crc import crc16_arc
from .errors import ChecksumError, FrameError
from .model import (
    FrameFormat,
    Quantity,
    Reading,
    Telegram,
    classify_list,
    format_obis,
    quantity_for,
)

# Manufacturer flags (the three letters after '/') to the vendor names used by
# the rest of the integration. Unknown flags fall back to the flag in lowercase.
_VENDORS: Final[dict[str, str]] = {
    "ADN": "aidon",
    "AID": "aidon",
    "EBZ": "ebz",
    "EGM": "elgama",
    "ELG": "elgama",
    "ELL": "elster",
    "ESY": "easymeter",
    "EST": "sagemcom",  # Sagemcom T210-D (Austria, Luxembourg)
    "FLU": "fluvius",
    "ISK": "iskraemeco",
    "KAM": "kamstrup",
    "KFM": "kaifa",
    "KMP": "kamstrup",
    "LGF": "landis_gyr",
    "LGZ": "landis_gyr",
    "NES": "nes",
    "SAG": "sagemcom",
    "XMX": "landis_gyr",  # Landis+Gyr E350 in the Netherlands
}

# Units as meters spell them (compared case-insensitively) to SI unit and the
# power of ten that takes the value there. Other units (m3, GJ, s) stay as sent.
_UNITS: Final[dict[str, tuple[str, int]]] = {
    "w": ("W", 0),
    "kw": ("W", 3),
    "wh": ("Wh", 0),
    "kwh": ("Wh", 3),
    "var": ("var", 0),
    "kvar": ("var", 3),
    "varh": ("varh", 0),
    "kvarh": ("varh", 3),
    "va": ("VA", 0),
    "kva": ("VA", 3),
    "vah": ("VAh", 0),
    "kvah": ("VAh", 3),
    "v": ("V", 0),
    "a": ("A", 0),
    "hz": ("Hz", 0),
}

# DSMR sends local time and marks it W (CET) or S (CEST).
_OFFSETS: Final[dict[str, timezone]] = {
    "W": timezone(timedelta(hours=1)),
    "S": timezone(timedelta(hours=2)),
}

# Meter-id objects in order of preference (equipment id first, as DSMR defines it).
_METER_ID_KEYS: Final = (
    "0.0.96.1.1.255",
    "0.0.96.1.0.255",
    "1.0.0.0.0.255",
    "0.0.42.0.0.255",
    "1.0.96.1.0.255",
)
_VERSION_KEY: Final = "1.3.0.2.8.255"

_LINE = re.compile(r"(\d+)-(\d+):(\d+)\.(\d+)\.(\d+)(?:[*.](\d+))?((?:\([^()]*\))+)")
_GROUP = re.compile(r"\(([^()]*)\)")
_NUMBER = re.compile(r"([-+]?)(\d+)(?:\.(\d+))?")
_HEX_TEXT = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_CRC = re.compile(r"[0-9A-Fa-f]{1,4}")
_STAMP = re.compile(r"\d{12}[WS]?")
_CLOCK = re.compile(r"(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)([WS]?)")
_CLOCK_LONG = re.compile(
    r"(\d{4})(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)"
)  # seen from NES meters
_OBIS_REF = re.compile(r"\d+-\d+:\d+\.\d+\.\d+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

type _Kind = Literal["number", "text", "hex", "clock"]


class _Object(NamedTuple):
    """What a P1 object code means, worked out once per distinct code."""

    key: str
    quantity: Quantity | None
    unit: str | None
    kind: _Kind


@lru_cache(maxsize=512)
def _object(a: str, b: str, c: str, d: str, e: str, f: str | None) -> _Object:
    """Resolve an object code; cached because a meter repeats the same codes forever."""
    obis = (int(a), int(b), int(c), int(d), int(e), 255 if f is None else int(f))
    known = quantity_for(obis)
    # A = 0 objects on channel B > 0 belong to M-Bus devices (gas, water, heat),
    # whose identifiers must not pass for the electricity meter's.
    if known is not None and obis[0] == 0 and obis[1] != 0:
        known = None
    quantity, unit = known if known is not None else (None, None)
    cd = (obis[2], obis[3])
    kind: _Kind = "number"
    if obis[0] == 0 and obis[1] == 0 and obis[2:5] == (1, 0, 0):
        kind = "clock"
    elif cd in {(96, 1), (96, 13), (42, 0)}:
        kind = "hex"  # DSMR 4+ sends these as hex-encoded ASCII
    elif cd in {(0, 0), (0, 2)}:
        kind = "text"  # ids and versions whose leading zeros matter
    return _Object(format_obis(obis), quantity, unit, kind)


def parse_p1(data: bytes) -> Telegram:
    """Decode one P1 telegram from '/' through '!' and its optional CRC line.

    Raises ``FrameError`` when the header or the '!' line is missing or the CRC
    field is not hex, and ``ChecksumError`` when a CRC is present but wrong.
    Anything after the CRC line is ignored, as some gateways append lines.
    """
    start = 0
    while start < len(data) and data[start] in b"\r\n\t \x00":
        start += 1
    if data[start : start + 1] != b"/":
        raise FrameError("P1 telegram does not start with '/'")
    bang = data.find(b"\n!", start)
    if bang < 0:
        raise FrameError("P1 telegram has no '!' end line")
    bang += 1
    line_end = data.find(b"\n", bang)
    tail = (
        data[bang + 1 : len(data) if line_end < 0 else line_end]
        .decode("latin-1")
        .strip()
    )
    if tail:
        if _CRC.fullmatch(tail) is None:
            raise FrameError(f"P1 CRC field {tail!r} is not hex")
        calculated = crc16_arc(data[start : bang + 1])
        if calculated != int(tail, 16):
            raise ChecksumError(f"P1 CRC {tail} does not match {calculated:04X}")

    lines = data[start:bang].decode("latin-1").split("\n")
    vendor, model = _header(lines[0])
    readings = _readings(lines)
    meter_id = None
    for key in _METER_ID_KEYS:
        reading = readings.get(key)
        if reading is not None and isinstance(reading.value, str) and reading.value:
            meter_id = reading.value
            break
    version = readings.get(_VERSION_KEY)
    clock = readings.get("0.0.1.0.0.255")
    return Telegram(
        format=FrameFormat.P1,
        vendor=vendor,
        model=model,
        meter_id=meter_id,
        list_version=None if version is None else str(version.value),
        meter_time=clock.value
        if clock is not None and isinstance(clock.value, datetime)
        else None,
        readings=readings,
        list_type=classify_list(readings),
        verified=bool(tail),
    )


def _header(line: str) -> tuple[str | None, str | None]:
    r"""Split ``/XXX5model`` into vendor and model.

    The model is what follows the flag and the baud-rate digit, without the
    ``\X`` enhanced-identification escape and control bytes, e.g. ``KAIFA-METER``
    for ``/KFM5KAIFA-METER`` and ``MT382-1000`` for ``/ISk5\2MT382-1000``.
    """
    line = _CONTROL.sub("", line).strip()
    flag = line[1:4]
    vendor = (
        _VENDORS.get(flag.upper(), flag.lower())
        if len(flag) == 3 and flag.isalpha()
        else None
    )
    rest = line[4:]
    if rest[:1].isdigit():
        rest = rest[1:]
    if rest[:1] == "\\":
        rest = rest[2:]
    model = rest.lstrip(":- ")
    return vendor, model or None


def _readings(lines: list[str]) -> dict[str, Reading]:
    """Parse the object lines; the first line with a given code wins.

    A line is parsed once the next one shows it is complete. The text ends with
    the line end before '!', so the last element is empty and flushes the rest.
    """
    readings: dict[str, Reading] = {}
    pending = ""
    for raw in lines[1:]:
        line = raw.strip()
        if line.startswith("("):
            pending += line  # DSMR 2.2/3 put the gas value on a line of its own
            continue
        if pending:
            _add(pending, readings)
        pending = line
    return readings


def _add(line: str, readings: dict[str, Reading]) -> None:
    """Turn one logical object line into a reading; skip what carries no single value."""
    match = _LINE.fullmatch(line)
    if match is None:
        return
    obj = _object(*match.group(1, 2, 3, 4, 5, 6))
    if obj.key in readings:
        return
    groups = _GROUP.findall(match.group(7))
    unit = None
    if len(groups) == 1:
        raw = groups[0]
    elif len(groups) == 2 and _STAMP.fullmatch(groups[0]):
        raw = groups[1]  # (capture time)(value): M-Bus devices, maximum demand
    elif len(groups) >= 4 and _OBIS_REF.fullmatch(groups[-3]):
        raw, unit = (
            groups[-1],
            groups[-2],
        )  # DSMR 2.2/3 profile: ...(object)(unit)(value)
    else:
        return  # logs and histories (power failures, monthly peaks)
    readings[obj.key] = _reading(obj, raw, unit)


def _reading(obj: _Object, raw: str, unit: str | None) -> Reading:
    """Interpret a value by what its object code says it holds."""
    if obj.kind == "clock":
        clock = _clock(raw)
        return Reading(obj.key, clock if clock is not None else raw, None, obj.quantity)
    if obj.kind == "hex":
        return Reading(obj.key, _text(raw), None, obj.quantity)
    if obj.kind == "text":
        return Reading(obj.key, raw, None, obj.quantity)
    text, star, sent_unit = raw.partition("*")
    if star:
        unit = sent_unit.strip()
    number = _NUMBER.fullmatch(text.strip())
    if number is None:
        return Reading(obj.key, raw, None, obj.quantity)
    exponent = 0
    if unit:
        unit, exponent = _UNITS.get(unit.lower(), (unit, 0))
    sign, whole, fraction = number.groups()
    fraction = fraction or ""
    mantissa = int(whole + fraction)
    if sign == "-":
        mantissa = -mantissa
    exponent -= len(fraction)
    value: int | float
    if exponent >= 0:
        value = mantissa * 10**exponent
    else:
        # One correctly rounded division: no binary noise such as 0.30000000000000004.
        divisor = 10**-exponent
        value = mantissa // divisor if mantissa % divisor == 0 else mantissa / divisor
    quantity = obj.quantity
    if not unit:
        unit = obj.unit
    elif obj.unit is not None and unit != obj.unit:
        quantity = None  # the unit contradicts the code: do not guess which is right
    return Reading(obj.key, value, unit, quantity)


def _text(raw: str) -> str:
    """Decode hex-encoded ASCII (DSMR 4+ ids and messages); keep anything else as sent."""
    if _HEX_TEXT.fullmatch(raw) is None:
        return raw
    decoded = bytes.fromhex(raw)
    if all(0x20 <= byte < 0x7F for byte in decoded):
        return decoded.decode("ascii")
    return raw


def _clock(raw: str) -> datetime | None:
    """Parse ``YYMMDDhhmmssX``: aware when X gives the DST flag, naive without it."""
    match = _CLOCK.fullmatch(raw)
    try:
        if match is not None:
            yy, mo, dd, hh, mi, ss, flag = match.groups()
            return datetime(
                2000 + int(yy),
                int(mo),
                int(dd),
                int(hh),
                int(mi),
                int(ss),
                tzinfo=_OFFSETS.get(flag),
            )
        if (match := _CLOCK_LONG.fullmatch(raw)) is not None:
            year, month, day, hour, minute, second = map(int, match.groups())
            return datetime(year, month, day, hour, minute, second)
    except ValueError:
        pass  # impossible date: keep the text
    return None


def build_p1(
    header: str, lines: list[str], *, crc: bool = True, line_end: str = "\r\n"
) -> bytes:
    """Encode a P1 telegram as a meter sends it, for the simulator and tests.

    ``header`` is the identification line with or without its leading '/';
    ``lines`` are the object lines. The CRC is four uppercase hex digits.
    """
    if not header.startswith("/"):
        header = "/" + header
    text = line_end.join([header, "", *lines, "!"])
    body = text.encode("latin-1")
    if crc:
        body += f"{crc16_arc(body):04X}".encode("ascii")
    return body + line_end.encode("latin-1")
