"""Unit tests of the protocol layers: checksums, A-XDR, HDLC, M-Bus and APDUs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import pytest

from custom_components.han_port.han import apdu, axdr, hdlc, mbus
from custom_components.han_port.han.crc import crc16_arc, crc16_x25
from custom_components.han_port.han.errors import (
    ApduError,
    ChecksumError,
    DecryptionError,
    FrameError,
    MissingKeyError,
)

KEY = bytes(range(16))
AUTH = bytes(range(16, 32))
TITLE = b"KFM\x00\x00\x00\x00\x01"


def test_crc_check_values() -> None:
    """Both CRCs give the catalogue check values for "123456789"."""
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_arc(b"123456789") == 0xBB3D
    assert crc16_x25(bytearray(b"123456789")) == 0x906E


# A-XDR -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"\x00", None),
        (b"\x03\x01", True),
        (b"\x05\xff\xff\xff\xfe", -2),
        (b"\x06\x00\x00\x01\x00", 256),
        (b"\x0f\xff", -1),
        (b"\x10\xff\x38", -200),
        (b"\x11\xfa", 250),
        (b"\x12\x01\x02", 258),
        (b"\x14" + (-5).to_bytes(8, signed=True), -5),
        (b"\x15" + (5).to_bytes(8), 5),
        (b"\x16\x1b", 27),
        (b"\x17\x3f\x80\x00\x00", 1.0),
        (b"\x18\x3f\xf0\x00\x00\x00\x00\x00\x00", 1.0),
        (b"\x09\x02\xab\xcd", b"\xab\xcd"),
        (b"\x0a\x03abc", "abc"),
        (b"\x0c\x02\xc3\xa6", "æ"),
        (b"\x04\x0a\xff\xc0", b"\xff\xc0"),
        (b"\x0d\x12", 0x12),
        (b"\x1a\x07\xea\x0b\x17\xff", b"\x07\xea\x0b\x17\xff"),
        (b"\x1b\x0c\x00\x00\xff", b"\x0c\x00\x00\xff"),
        (b"\x02\x02\x11\x01\x01\x01\x11\x02", (1, [2])),
        (b"\x09\x81\x01\x41", b"A"),
    ],
)
def test_axdr_values(data: bytes, value: object) -> None:
    """Every tag a meter pushes decodes to plain Python."""
    decoded, end = axdr.decode_value(data)
    assert decoded == value
    assert end == len(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x06\x00\x00",
        b"\x09\x05ab",
        b"\x0a\x05ab",
        b"\x0c\x05ab",
        b"\x02\x03\x11\x01",
        b"\x02\x05",
        b"\x03",
        b"\x04\x10\x00",
        b"\x0d",
        b"\x17\x00",
        b"\x19\x07\xea",
        b"\x1a\x00",
        b"\x07",
        b"\x09\x85\x00\x00\x00\x00\x01",
        b"\x09\x80",
        b"\x09\x82\x01",
        b"\x02\x01" * 20 + b"\x00",
        b"\x02\x01\x07",
    ],
)
def test_axdr_rejects_broken_data(data: bytes) -> None:
    """Truncated, unknown or absurd data is an ``ApduError``, never an IndexError."""
    with pytest.raises(ApduError):
        axdr.decode_values(data)


def test_datetime_forms() -> None:
    """DLMS clocks: with deviation, unspecified deviation, and unusable ones."""
    oslo_winter = bytes.fromhex("07ea0b170112000000ffc400")
    assert axdr.parse_datetime(oslo_winter) == datetime(
        2026, 11, 23, 18, 0, tzinfo=timezone(timedelta(hours=1))
    )
    utc = bytes.fromhex("07ea0b1701120000000000ff")
    assert axdr.parse_datetime(utc) == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    naive = bytes.fromhex("07ea0b1701120000ff800000")
    assert axdr.parse_datetime(naive) == datetime(2026, 11, 23, 18, 0)  # noqa: DTZ001
    assert axdr.parse_datetime(bytes.fromhex("07ea0b17011200ffff800000")) == datetime(  # noqa: DTZ001
        2026, 11, 23, 18, 0
    )
    assert axdr.parse_datetime(bytes.fromhex("ffff0b1701120000ff800000")) is None
    assert axdr.parse_datetime(bytes.fromhex("07ea0d1701120000ff800000")) is None
    assert axdr.parse_datetime(bytes.fromhex("07ea0b1701ff0000ff800000")) is None
    assert (
        axdr.parse_datetime(bytes.fromhex("07ea021e01120000ff800000")) is None
    )  # 30 Feb
    assert axdr.parse_datetime(b"short") is None
    value, _ = axdr.decode_value(b"\x19" + oslo_winter)
    assert isinstance(value, axdr.DateTimeValue)
    assert value.to_datetime() == axdr.parse_datetime(oslo_winter)


# HDLC --------------------------------------------------------------------


def _hdlc(information: bytes, *, segmented: bool = False) -> bytes:
    header = bytes((0x41, 0x08, 0x83, 0x13))
    length = 2 + len(header) + 2 + len(information) + 2
    fmt = (0xA8 if segmented else 0xA0) | (length >> 8)
    head = bytes((fmt, length & 0xFF)) + header
    head += crc16_x25(head).to_bytes(2, "little")
    body = head + information
    return b"\x7e" + body + crc16_x25(body).to_bytes(2, "little") + b"\x7e"


def test_hdlc_roundtrip_and_errors() -> None:
    """HCS and FCS are both enforced; the closing flag is optional."""
    frame = _hdlc(b"\xe6\xe7\x00\x0f\x40\x00\x00\x00\x00\x01\x00")
    parsed = hdlc.parse_hdlc(frame)
    assert parsed.information.startswith(b"\xe6\xe7\x00")
    assert parsed.destination == b"\x41"
    assert parsed.source == b"\x08\x83"
    assert parsed.control == 0x13
    assert not parsed.segmented
    assert hdlc.parse_hdlc(frame[:-1]).information == parsed.information
    assert hdlc.parse_hdlc(_hdlc(b"abc", segmented=True)).segmented
    bad_fcs = frame[:-3] + bytes((frame[-3] ^ 1,)) + frame[-2:]
    with pytest.raises(ChecksumError):
        hdlc.parse_hdlc(bad_fcs)
    bad_hcs = bytearray(frame)
    bad_hcs[7] ^= 0xFF
    fcs = crc16_x25(bytes(bad_hcs[1:-3])).to_bytes(2, "little")
    with pytest.raises(ChecksumError, match="HCS"):
        hdlc.parse_hdlc(bytes(bad_hcs[:-3]) + fcs + b"\x7e")
    with pytest.raises(FrameError):
        hdlc.parse_hdlc(b"\x00\xa0\x09")
    with pytest.raises(FrameError):
        hdlc.parse_hdlc(b"\x7e\x00\x09")
    with pytest.raises(FrameError):
        hdlc.parse_hdlc(frame[:10])


def test_hdlc_header_checks() -> None:
    """The early header check tells good, bad and incomplete headers apart."""
    frame = _hdlc(b"\x0f\x00\x00\x00\x01\x00\x11\x01")
    assert hdlc.check_header(frame, 0, len(frame)) == 9
    assert hdlc.check_header(frame, 0, 5) is None
    broken = bytearray(frame)
    broken[7] ^= 1
    assert hdlc.check_header(broken, 0, len(broken)) == 0
    no_end = bytearray(frame)
    no_end[3:7] = b"\x40\x40\x40\x40"
    assert hdlc.check_header(no_end, 0, len(no_end)) == 0
    assert hdlc.declared_length(0x50, 0x10) is None
    assert hdlc.declared_length(0xA0, 0x02) is None
    # A frame without information field has no HCS to check.
    short = bytes((0xA0, 0x07, 0x41, 0x03, 0x13))
    bare = b"\x7e" + short + crc16_x25(short).to_bytes(2, "little") + b"\x7e"
    assert hdlc.check_header(bare, 0, len(bare)) == 6
    assert hdlc.parse_hdlc(bare).information == b""
    with pytest.raises(FrameError):
        weird = bytes((0xA0, 0x07, 0x40, 0x40, 0x40))
        hdlc.parse_hdlc(
            b"\x7e" + weird + crc16_x25(weird).to_bytes(2, "little") + b"\x7e"
        )


# M-Bus -------------------------------------------------------------------


def _mbus(data: bytes, ci: int, length_field: int | None = None) -> bytes:
    body = bytes((0x53, 0xFF, ci)) + data
    size = len(body) if length_field is None else length_field
    return bytes((0x68, size, size, 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))


def test_mbus_frames() -> None:
    """Long frames are checked by length, stop byte and checksum."""
    frame = mbus.parse_mbus(_mbus(b"\x67\x67payload", 0x11))
    assert frame.is_dlms_segment
    assert frame.final
    assert frame.sequence == 1
    assert frame.payload == b"payload"
    plain = mbus.parse_mbus(_mbus(b"xy", 0x72))
    assert not plain.is_dlms_segment
    assert plain.payload == b"xy"
    raw = _mbus(b"\x67\x67payload", 0x00)
    with pytest.raises(ChecksumError):
        mbus.parse_mbus(raw[:-2] + bytes((raw[-2] ^ 1,)) + raw[-1:])
    with pytest.raises(FrameError):
        mbus.parse_mbus(raw[:-1] + b"\x00")
    with pytest.raises(FrameError):
        mbus.parse_mbus(raw[:8])
    with pytest.raises(FrameError):
        mbus.parse_mbus(raw[:-3])
    with pytest.raises(FrameError):
        mbus.parse_mbus(b"\x68\x05\x06\x68" + raw[4:])


def test_mbus_wrapped_length() -> None:
    """A 257-byte Sagemcom segment announces length 0x01 and is still read."""
    data = bytes(range(254))
    frame = _mbus(data, 0x00, length_field=1)
    assert len(frame) == 257 + 6
    assert mbus.parse_mbus(frame).data == data


# APDU --------------------------------------------------------------------

NOTIFICATION = bytes.fromhex("0f00000001" + "00" + "020209060100010700ff06000004d2")


def _cipher(plain: bytes, *, auth: bool, key: bytes = KEY) -> bytes:
    counter = (7).to_bytes(4)
    control = 0x30 if auth else 0x20
    aad = bytes((control,)) + AUTH if auth else None
    sealed = AESGCM(key).encrypt(TITLE + counter, plain, aad)
    body = sealed[:-16] + (sealed[-16:-4] if auth else b"")
    payload = bytes((control,)) + counter + body
    return b"\xdb\x08" + TITLE + bytes((len(payload),)) + payload


def test_notification_headers() -> None:
    """The date-time header may be absent, tagged, bare or a date-time value."""
    stamp = bytes.fromhex("07ea0b1701120000ff800000")
    body = bytes.fromhex("020209060100010700ff06000004d2")
    for header in (b"\x00", b"\x09\x0c" + stamp, b"\x0c" + stamp, b"\x19" + stamp):
        notification = apdu.decode_apdu(
            b"\xe6\xe7\x00\x0f\x00\x00\x00\x01" + header + body
        )
        assert notification.body == [(b"\x01\x00\x01\x07\x00\xff", 1234)]
        if header != b"\x00":
            assert notification.timestamp is not None
    with pytest.raises(ApduError):
        apdu.decode_apdu(b"\x0f\x00\x00\x00\x01\x00")
    with pytest.raises(ApduError):
        apdu.decode_apdu(b"\x0f\x00")
    with pytest.raises(ApduError):
        apdu.decode_apdu(b"\x0f\x00\x00\x00\x01\x09\x0c\x07")
    with pytest.raises(ApduError):
        apdu.decode_apdu(b"")
    with pytest.raises(ApduError, match="unsupported"):
        apdu.decode_apdu(b"\xc4\x01")
    with pytest.raises(ApduError, match="reassembled"):
        apdu.decode_apdu(b"\xe0\x80\x00\x01\x00\x00\x01\x00")


@pytest.mark.parametrize("auth", [False, True])
def test_decryption(auth: bool) -> None:
    """GCM with and without authentication key opens to the notification."""
    ciphered = _cipher(NOTIFICATION, auth=auth)
    keys = apdu.Keys(KEY, AUTH if auth else None)
    notification = apdu.decode_apdu(ciphered, keys)
    assert notification.encrypted
    assert notification.system_title == TITLE
    assert notification.plaintext == NOTIFICATION
    assert notification.body == [(b"\x01\x00\x01\x07\x00\xff", 1234)]
    if auth:
        # Authenticated data opens with the encryption key alone, too.
        assert apdu.decode_apdu(ciphered, apdu.Keys(KEY)).body == notification.body


def test_wrong_or_missing_key_is_typed() -> None:
    """No key, a wrong key or a wrong authentication key never gives values."""
    ciphered = _cipher(NOTIFICATION, auth=True)
    with pytest.raises(MissingKeyError):
        apdu.decode_apdu(ciphered)
    with pytest.raises(DecryptionError):
        apdu.decode_apdu(ciphered, apdu.Keys(bytes(16), AUTH))
    with pytest.raises(DecryptionError):
        apdu.decode_apdu(ciphered, apdu.Keys(KEY, bytes(16)))
    with pytest.raises(DecryptionError):
        apdu.decode_apdu(_cipher(NOTIFICATION, auth=False), apdu.Keys(bytes(16)))
    with pytest.raises(ApduError):
        apdu.decode_apdu(b"\xdb\x08" + TITLE + b"\x30\x10\x00", apdu.Keys(KEY))
    with pytest.raises(ApduError, match="security control"):
        apdu.decode_apdu(
            b"\xdb\x08" + TITLE + b"\x05\x10\x00\x00\x00\x07", apdu.Keys(KEY)
        )
    with pytest.raises(ApduError, match="tag"):
        apdu.decode_apdu(
            b"\xdb\x08" + TITLE + b"\x07\x30\x00\x00\x00\x07\x01\x02", apdu.Keys(KEY)
        )


def test_relayed_plaintext_behind_cipher_header() -> None:
    """A gateway that decrypted in place leaves a readable notification."""
    payload = b"\x20\x00\x00\x00\x07" + NOTIFICATION
    relayed = b"\xdb\x08" + TITLE + bytes((len(payload),)) + payload
    notification = apdu.decode_apdu(relayed)
    assert not notification.encrypted
    assert notification.system_title == TITLE


def test_keys() -> None:
    """Keys are checked when configured, not per frame."""
    keys = apdu.Keys.from_hex(
        "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f", KEY.hex()
    )
    assert keys.encryption == KEY
    assert keys.authentication == KEY
    with pytest.raises(ValueError, match="16 bytes"):
        apdu.Keys(b"short")
    with pytest.raises(ValueError, match="16 bytes"):
        apdu.Keys(KEY, b"short")
    with pytest.raises(ValueError, match="hexadecimal"):
        apdu.Keys.from_hex("zz")


def test_block_transfer() -> None:
    """General-block-transfer reassembles in order and refuses gaps and floods."""
    assembler = apdu.BlockAssembler()
    first = b"\xe0\x40\x00\x01\x00\x00\x03abc"
    last = b"\xe0\xc0\x00\x02\x00\x00\x02de"
    assert assembler.feed(first) is None
    assert assembler.feed(last) == b"abcde"
    with pytest.raises(ApduError, match="order"):
        assembler.feed(b"\xe0\x40\x00\x05\x00\x00\x01x")
    with pytest.raises(ApduError):
        assembler.feed(b"\xe0\x40")
    with pytest.raises(ApduError):
        assembler.feed(b"\xe0\x40\x00\x01\x00\x00\x05ab")
    block = b"\xe0\x40\x00\x01\x00\x00\x82\x80\x00" + bytes(0x8000)
    assert assembler.feed(block) is None
    assert assembler.feed(block.replace(b"\x00\x01", b"\x00\x02", 1)) is None
    with pytest.raises(ApduError, match="too large"):
        assembler.feed(block.replace(b"\x00\x01", b"\x00\x03", 1))
