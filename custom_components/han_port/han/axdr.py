"""A-XDR decoding of DLMS/COSEM data (IEC 62056-6-2).

Values map to plain Python: structures become tuples, arrays lists, octet-strings
``bytes``, visible/UTF-8 strings ``str``, numbers ``int``/``float``. Keeping the
tree this plain lets the meter profiles pattern-match it cheaply; a HAN frame is
decoded on every push, so the decoder avoids per-item objects and dispatches on
the tag with a table of small functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from struct import Struct

from .errors import ApduError

type Value = (
    None
    | bool
    | int
    | float
    | bytes
    | str
    | tuple[Value, ...]
    | list[Value]
    | DateTimeValue
)

MAX_DEPTH = 12

_FLOAT32 = Struct(">f")
_FLOAT64 = Struct(">d")


@dataclass(frozen=True, slots=True)
class DateTimeValue:
    """A DLMS date-time (tag 0x19, or a 12-byte octet-string interpreted as one)."""

    raw: bytes

    def to_datetime(self) -> datetime | None:
        """Return the clock as datetime; aware when the meter states its UTC deviation.

        Unspecified fields (0xFF/0xFFFF) that cannot be defaulted give ``None``
        rather than a guessed time.
        """
        return parse_datetime(self.raw)


def parse_datetime(raw: bytes) -> datetime | None:
    """Interpret 12 bytes of DLMS date-time; see ``DateTimeValue.to_datetime``."""
    if len(raw) != 12:
        return None
    year = (raw[0] << 8) | raw[1]
    month, day, hour, minute, second = raw[2], raw[3], raw[5], raw[6], raw[7]
    if year in {0, 0xFFFF} or month > 12 or day > 31 or month == 0 or day == 0:
        return None
    if hour == 0xFF or minute == 0xFF:
        return None
    if second == 0xFF:
        second = 0
    hundredths = raw[8] if raw[8] < 100 else 0
    deviation = int.from_bytes(raw[9:11], signed=True)
    try:
        if deviation == -0x8000 or not -720 <= deviation <= 840:
            return datetime(year, month, day, hour, minute, second, hundredths * 10000)  # noqa: DTZ001
        # DLMS deviation is UTC minus local time in minutes: CET is -60.
        tz = UTC if deviation == 0 else timezone(timedelta(minutes=-deviation))
        return datetime(
            year, month, day, hour, minute, second, hundredths * 10000, tzinfo=tz
        )
    except ValueError:
        return None


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    """Read an A-XDR/BER length at ``pos``; return (length, position after it)."""
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    size = first & 0x7F
    if size == 0 or size > 4:
        raise ApduError(f"unsupported length encoding 0x{first:02x}")
    end = pos + 1 + size
    if end > len(data):
        raise ApduError("truncated length")
    return int.from_bytes(data[pos + 1 : end]), end


type _Decoder = Callable[[bytes, int, int], tuple[Value, int]]


def _fixed(size: int, signed: bool) -> _Decoder:
    def decode(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
        end = pos + size
        if end > len(data):
            raise ApduError("truncated integer")
        return int.from_bytes(data[pos:end], signed=signed), end

    return decode


def _octets(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise ApduError("truncated octet-string")
    return data[pos:end], end


def _visible(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise ApduError("truncated string")
    return data[pos:end].decode("latin-1"), end


def _utf8(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise ApduError("truncated string")
    return data[pos:end].decode("utf-8", "replace"), end


def _structure(data: bytes, pos: int, depth: int) -> tuple[Value, int]:
    count, pos = read_length(data, pos)
    items, pos = _sequence(data, pos, count, depth)
    return tuple(items), pos


def _array(data: bytes, pos: int, depth: int) -> tuple[Value, int]:
    count, pos = read_length(data, pos)
    return _sequence(data, pos, count, depth)


def _sequence(data: bytes, pos: int, count: int, depth: int) -> tuple[list[Value], int]:
    if depth >= MAX_DEPTH:
        raise ApduError("data nested too deeply")
    # Every element needs at least one byte: reject absurd counts before looping.
    if count > len(data) - pos:
        raise ApduError("element count exceeds data")
    items: list[Value] = []
    append = items.append
    decoders = _DECODERS
    depth += 1
    for _ in range(count):
        if pos >= len(data):
            raise ApduError("truncated structure")
        decoder = decoders[data[pos]]
        if decoder is None:
            raise ApduError(f"unsupported data tag 0x{data[pos]:02x}")
        value, pos = decoder(data, pos + 1, depth)
        append(value)
    return items, pos


def _null(_data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    return None, pos


def _boolean(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    if pos >= len(data):
        raise ApduError("truncated boolean")
    return data[pos] != 0, pos + 1


def _bit_string(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    bits, pos = read_length(data, pos)
    end = pos + (bits + 7) // 8
    if end > len(data):
        raise ApduError("truncated bit-string")
    return data[pos:end], end


def _bcd(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    if pos >= len(data):
        raise ApduError("truncated bcd")
    return data[pos], pos + 1


def _float(codec: Struct) -> _Decoder:
    def decode(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
        end = pos + codec.size
        if end > len(data):
            raise ApduError("truncated float")
        return codec.unpack_from(data, pos)[0], end

    return decode


def _date_time(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
    end = pos + 12
    if end > len(data):
        raise ApduError("truncated date-time")
    return DateTimeValue(data[pos:end]), end


def _fixed_octets(size: int) -> _Decoder:
    def decode(data: bytes, pos: int, _depth: int) -> tuple[Value, int]:
        end = pos + size
        if end > len(data):
            raise ApduError("truncated date/time")
        return data[pos:end], end

    return decode


_DECODERS: list[_Decoder | None] = [None] * 256
_DECODERS[0x00] = _null
_DECODERS[0x01] = _array
_DECODERS[0x02] = _structure
_DECODERS[0x03] = _boolean
_DECODERS[0x04] = _bit_string
_DECODERS[0x05] = _fixed(4, signed=True)
_DECODERS[0x06] = _fixed(4, signed=False)
_DECODERS[0x09] = _octets
_DECODERS[0x0A] = _visible
_DECODERS[0x0C] = _utf8
_DECODERS[0x0D] = _bcd
_DECODERS[0x0F] = _fixed(1, signed=True)
_DECODERS[0x10] = _fixed(2, signed=True)
_DECODERS[0x11] = _fixed(1, signed=False)
_DECODERS[0x12] = _fixed(2, signed=False)
_DECODERS[0x14] = _fixed(8, signed=True)
_DECODERS[0x15] = _fixed(8, signed=False)
_DECODERS[0x16] = _fixed(1, signed=False)
_DECODERS[0x17] = _float(_FLOAT32)
_DECODERS[0x18] = _float(_FLOAT64)
_DECODERS[0x19] = _date_time
_DECODERS[0x1A] = _fixed_octets(5)
_DECODERS[0x1B] = _fixed_octets(4)


def decode_value(data: bytes, pos: int = 0) -> tuple[Value, int]:
    """Decode one tagged A-XDR value at ``pos``; return it and the position after it.

    Raises ``ApduError`` for truncated or unsupported data, never ``IndexError``.
    """
    try:
        decoder = _DECODERS[data[pos]]
        if decoder is None:
            raise ApduError(f"unsupported data tag 0x{data[pos]:02x}")
        return decoder(data, pos + 1, 0)
    except IndexError as err:
        raise ApduError("truncated data") from err


def decode_values(data: bytes, pos: int = 0) -> list[Value]:
    """Decode consecutive tagged values until the data ends (some meters send several)."""
    values: list[Value] = []
    end = len(data)
    while pos < end:
        value, pos = decode_value(data, pos)
        values.append(value)
    return values
