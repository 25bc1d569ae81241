"""Frame encoder: the exact inverse of the decoder layers (A-XDR, APDU, HDLC, M-Bus).

Tests and the meter simulator build byte-exact meter frames with it, so every
decoder layer can be checked against frames whose content is known exactly.
Python ints do not say which DLMS integer type a meter used, so numbers are
wrapped in small typed classes; everything else maps as the decoder maps it
back (tuple = structure, list = array, bytes = octet-string, str = visible-string).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from struct import pack
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .apdu import BLOCK_TRANSFER, DATA_NOTIFICATION, GLO_CIPHERING, TAG_LENGTH
from .axdr import DateTimeValue
from .crc import crc16_x25
from .hdlc import FLAG, FORMAT_TYPE_3, SEGMENTED
from .mbus import CI_FINAL, START, STOP

LLC = b"\xe6\xe7\x00"
MAX_HDLC_LENGTH = 0x7FF
MBUS_MAX_DATA = 245  # APDU bytes per long frame, as Austrian meters split them
SC_ENCRYPTED = 0x20
SC_AUTHENTICATED_ENCRYPTED = 0x30
DST_ACTIVE = 0x80
DEVIATION_UNSPECIFIED = -0x8000


@dataclass(frozen=True, slots=True)
class _Integer:
    """A DLMS integer of a fixed type; subclasses set the tag and the width."""

    TAG: ClassVar[int]
    SIZE: ClassVar[int]
    SIGNED: ClassVar[bool]

    value: int

    def __post_init__(self) -> None:
        """Refuse values the type cannot hold instead of silently wrapping them."""
        bits = self.SIZE * 8
        low, high = (
            (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
            if self.SIGNED
            else (0, (1 << bits) - 1)
        )
        if not low <= self.value <= high:
            raise ValueError(f"{self.value} does not fit {type(self).__name__}")

    def encode(self) -> bytes:
        """Return tag and big-endian value."""
        return bytes((self.TAG,)) + self.value.to_bytes(self.SIZE, signed=self.SIGNED)


class I32(_Integer):
    """double-long (0x05)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x05, 4, True


class U32(_Integer):
    """double-long-unsigned (0x06)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x06, 4, False


class I8(_Integer):
    """integer (0x0F): DLMS scalers are sent as this."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x0F, 1, True


class I16(_Integer):
    """long (0x10)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x10, 2, True


class U8(_Integer):
    """unsigned (0x11)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x11, 1, False


class U16(_Integer):
    """long-unsigned (0x12)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x12, 2, False


class I64(_Integer):
    """long64 (0x14)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x14, 8, True


class U64(_Integer):
    """long64-unsigned (0x15)."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x15, 8, False


class Enum(_Integer):
    """enum (0x16): DLMS units are sent as this."""

    __slots__ = ()
    TAG, SIZE, SIGNED = 0x16, 1, False


INTEGER_TYPES: dict[int, type[_Integer]] = {
    cls.TAG: cls for cls in (I32, U32, I8, I16, U8, U16, I64, U64, Enum)
}


@dataclass(frozen=True, slots=True)
class Float32:
    """float32 (0x17)."""

    value: float


@dataclass(frozen=True, slots=True)
class Float64:
    """float64 (0x18)."""

    value: float


@dataclass(frozen=True, slots=True)
class DateTime:
    """A DLMS date-time as HAN meters send it: a 12-byte octet-string.

    ``deviation`` is in DLMS sign (UTC minus local time in minutes, so CET is
    -60); ``None`` writes 0x8000, "not specified", which most Nordic meters
    send. ``sunday`` is the day-of-week number written for Sunday: DLMS says 7,
    Aidon writes 0. ``hundredths`` ``None`` writes 0xFF (not specified).
    """

    value: datetime
    deviation: int | None = None
    status: int = 0x00
    sunday: int = 7
    hundredths: int | None = None

    @classmethod
    def in_zone(
        cls,
        instant: datetime,
        zone: ZoneInfo,
        *,
        deviation: bool = True,
        dst_flag: bool = True,
    ) -> DateTime:
        """Return the local wall clock of ``instant`` in ``zone`` with deviation and DST bit.

        ``deviation``/``dst_flag`` False leave those fields unspecified/clear, as
        meters that only send their wall clock do.
        """
        local = instant.astimezone(zone)
        offset = local.utcoffset() or timedelta(0)
        in_dst = bool(local.dst())
        return cls(
            local.replace(tzinfo=None),
            deviation=-int(offset.total_seconds()) // 60 if deviation else None,
            status=DST_ACTIVE if dst_flag and in_dst else 0x00,
        )

    def raw(self) -> bytes:
        """Return the 12 bytes: year, month, day, weekday, h, m, s, hundredths, deviation, status."""
        when = self.value
        weekday = when.isoweekday()
        if weekday == 7:
            weekday = self.sunday
        hundredths = 0xFF if self.hundredths is None else self.hundredths
        deviation = DEVIATION_UNSPECIFIED if self.deviation is None else self.deviation
        return (
            when.year.to_bytes(2)
            + bytes(
                (
                    when.month,
                    when.day,
                    weekday,
                    when.hour,
                    when.minute,
                    when.second,
                    hundredths,
                )
            )
            + deviation.to_bytes(2, signed=True)
            + bytes((self.status,))
        )


type Encodable = (
    None
    | bool
    | bytes
    | str
    | _Integer
    | Float32
    | Float64
    | DateTime
    | DateTimeValue
    | tuple[Encodable, ...]
    | list[Encodable]
)


def encode_length(length: int) -> bytes:
    """Encode an A-XDR/BER length: short form below 128, else 0x8N and N bytes."""
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size)


def encode_value(value: Encodable) -> bytes:
    """Encode one value with its tag; the inverse of ``axdr.decode_value``.

    Plain ints are refused because the DLMS type (width and sign) is part of
    the wire format; wrap them in ``U32``, ``I16`` and so on.
    """
    match value:
        case None:
            return b"\x00"
        case bool():
            return b"\x03\xff" if value else b"\x03\x00"
        case _Integer():
            return value.encode()
        case bytes():
            return b"\x09" + encode_length(len(value)) + value
        case str():
            data = value.encode("latin-1")
            return b"\x0a" + encode_length(len(data)) + data
        case tuple():
            return (
                b"\x02" + encode_length(len(value)) + b"".join(map(encode_value, value))
            )
        case list():
            return (
                b"\x01" + encode_length(len(value)) + b"".join(map(encode_value, value))
            )
        case DateTime():
            return b"\x09\x0c" + value.raw()
        case DateTimeValue():
            return b"\x19" + value.raw
        case Float32():
            return b"\x17" + pack(">f", value.value)
        case Float64():
            return b"\x18" + pack(">d", value.value)
    raise TypeError(f"cannot encode {type(value).__name__} without a DLMS type")


def data_notification(
    body: Encodable,
    *,
    invoke_id: int,
    timestamp: DateTime | bytes | None = None,
    timestamp_style: Literal["tagged", "bare"] = "tagged",
    encoded_body: bytes | None = None,
) -> bytes:
    """Build a data-notification APDU (tag 0x0F).

    Meters write the optional push time three ways: absent (00, Aidon), as a
    tagged octet-string (09 0C, Kaifa) or as a bare length (0C, Kamstrup);
    ``timestamp`` ``None`` gives the first. ``encoded_body`` replaces ``body``
    for the rare meter that sends several top-level values.
    """
    if timestamp is None:
        header = b"\x00"
    else:
        raw = timestamp.raw() if isinstance(timestamp, DateTime) else timestamp
        header = (
            (b"\x09" if timestamp_style == "tagged" else b"")
            + encode_length(len(raw))
            + raw
        )
    payload = encode_value(body) if encoded_body is None else encoded_body
    return bytes((DATA_NOTIFICATION,)) + invoke_id.to_bytes(4) + header + payload


def with_llc(apdu: bytes) -> bytes:
    """Prefix the LLC header (E6 E7 00) that HDLC carries before the APDU."""
    return LLC + apdu


def hdlc_frames(
    information: bytes,
    *,
    destination: bytes = b"\x41",
    source: bytes = b"\x08\x83",
    control: int = 0x13,
    max_information: int | None = None,
) -> list[bytes]:
    """Wrap an information field in HDLC type-3 frames with HCS and FCS.

    Addresses are given as on the wire (last byte odd). With ``max_information``
    the field is split and every frame but the last has the segmentation bit.
    """
    size = max_information or max(len(information), 1)
    parts = [
        information[pos : pos + size] for pos in range(0, len(information), size)
    ] or [b""]
    frames = []
    for index, part in enumerate(parts):
        header_length = 2 + len(destination) + len(source) + 1
        length = header_length + (2 + len(part) if part else 0) + 2
        if length > MAX_HDLC_LENGTH:
            raise ValueError("HDLC frame too long; set max_information")
        segmented = SEGMENTED if index < len(parts) - 1 else 0
        head = bytes((FORMAT_TYPE_3 | segmented | (length >> 8), length & 0xFF))
        content = head + destination + source + bytes((control,))
        if part:
            content += crc16_x25(content).to_bytes(2, "little") + part
        content += crc16_x25(content).to_bytes(2, "little")
        frames.append(bytes((FLAG,)) + content + bytes((FLAG,)))
    return frames


def mbus_frames(
    apdu: bytes,
    *,
    control: int = 0x53,
    address: int = 0xFF,
    max_data: int = MBUS_MAX_DATA,
    stsap: int = 0x01,
    dtsap: int = 0x67,
) -> list[bytes]:
    """Split an APDU over M-Bus long frames (68 L L 68 C A CI TSAPs data CS 16).

    The CI counts segments in its low nibble and sets 0x10 on the last; the
    defaults are the bytes Austrian meters send (C 0x53, A 0xFF, TSAP 01 67).
    """
    parts = [apdu[pos : pos + max_data] for pos in range(0, len(apdu), max_data)] or [
        b""
    ]
    frames = []
    for index, part in enumerate(parts):
        ci = (index & 0x0F) | (CI_FINAL if index == len(parts) - 1 else 0)
        body = bytes((control, address, ci, stsap, dtsap)) + part
        if len(body) > 0xFF:
            raise ValueError("M-Bus segment too long; lower max_data")
        frames.append(
            bytes((START, len(body), len(body), START))
            + body
            + bytes((sum(body) & 0xFF, STOP))
        )
    return frames


def glo_cipher(
    apdu: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
) -> bytes:
    """Encrypt an APDU as general-glo-ciphering (0xDB), DLMS security suite 0.

    With an authentication key the APDU is authenticated too (SC 0x30, AAD =
    SC + key, 12-byte GCM tag appended); without, SC 0x20 is the same GCM
    keystream with no tag, i.e. AES-CTR starting at counter 2.
    """
    if len(system_title) != 8:
        raise ValueError("the system title must be 8 bytes")
    invocation = invocation_counter.to_bytes(4)
    iv = system_title + invocation
    if authentication_key is None:
        security = SC_ENCRYPTED
        counter = Cipher(
            algorithms.AES(encryption_key), modes.CTR(iv + b"\x00\x00\x00\x02")
        )
        encryptor = counter.encryptor()
        sealed = encryptor.update(apdu) + encryptor.finalize()
    else:
        security = SC_AUTHENTICATED_ENCRYPTED
        gcm = Cipher(algorithms.AES(encryption_key), modes.GCM(iv)).encryptor()
        gcm.authenticate_additional_data(bytes((security,)) + authentication_key)
        sealed = gcm.update(apdu) + gcm.finalize() + gcm.tag[:TAG_LENGTH]
    content = bytes((security,)) + invocation + sealed
    return (
        bytes((GLO_CIPHERING, len(system_title)))
        + system_title
        + encode_length(len(content))
        + content
    )


def block_transfer(apdu: bytes, block_size: int) -> list[bytes]:
    """Split an APDU into general-block-transfer APDUs (0xE0), numbered from 1.

    Each carries control (0x80 on the last block), block number, acknowledged
    block (0: pushes are not acknowledged), length and data.
    """
    parts = [apdu[pos : pos + block_size] for pos in range(0, len(apdu), block_size)]
    blocks = []
    for number, part in enumerate(parts, start=1):
        control = 0x80 if number == len(parts) else 0x00
        blocks.append(
            bytes((BLOCK_TRANSFER, control))
            + number.to_bytes(2)
            + b"\x00\x00"
            + encode_length(len(part))
            + part
        )
    return blocks
