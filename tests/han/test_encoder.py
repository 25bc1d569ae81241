"""Tests of the frame encoder: round trips through the decoder and real frames rebuilt byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_port.han import apdu, axdr, hdlc, mbus
from custom_components.han_port.han.encoder import (
    I8,
    I16,
    I32,
    I64,
    INTEGER_TYPES,
    U8,
    U16,
    U32,
    U64,
    DateTime,
    Encodable,
    Enum,
    Float32,
    Float64,
    block_transfer,
    data_notification,
    encode_length,
    encode_value,
    glo_cipher,
    hdlc_frames,
    mbus_frames,
    with_llc,
)

from .corpus import CORPUS, load

KEY = bytes(range(16))
AUTH = bytes(range(16, 32))
TITLE = b"KFM\x00\x01\x02\x03\x04"
OSLO = ZoneInfo("Europe/Oslo")

needs_corpus = pytest.mark.skipif(
    not CORPUS.exists(), reason="shared HAN corpus not present"
)


@pytest.mark.parametrize(
    ("value", "wire", "decoded"),
    [
        (None, "00", None),
        (True, "03ff", True),
        (False, "0300", False),
        (I32(-2), "05fffffffe", -2),
        (U32(4027), "0600000fbb", 4027),
        (I8(-1), "0fff", -1),
        (I16(-5), "10fffb", -5),
        (U8(200), "11c8", 200),
        (U16(2330), "12091a", 2330),
        (I64(-1), "14ffffffffffffffff", -1),
        (U64(1), "150000000000000001", 1),
        (Enum(27), "161b", 27),
        (Float32(1.5), "173fc00000", 1.5),
        (Float64(-2.0), "18c000000000000000", -2.0),
        (b"\x01\x02", "09020102", b"\x01\x02"),
        ("KFM_001", "0a074b464d5f303031", "KFM_001"),
        ((U8(1), None), "0202110100", (1, None)),
        ([U16(1)], "0101120001", [1]),
    ],
)
def test_encode_value_round_trip(
    value: Encodable, wire: str, decoded: axdr.Value
) -> None:
    """Each type has the decoder's tag and comes back as the decoder's Python value."""
    data = encode_value(value)
    assert data.hex() == wire
    assert axdr.decode_value(data) == (decoded, len(data))


def test_long_lengths_and_nesting() -> None:
    """Lengths of 128 and more use the BER long form the decoder reads."""
    assert encode_length(127) == b"\x7f"
    assert encode_length(200) == b"\x81\xc8"
    assert encode_length(300) == b"\x82\x01\x2c"
    text = "x" * 300
    array: list[Encodable] = [U8(n % 256) for n in range(130)]
    assert axdr.decode_value(encode_value(text))[0] == text
    assert axdr.decode_value(encode_value(array))[0] == [n % 256 for n in range(130)]


def test_date_time_values() -> None:
    """A decoder date-time goes back as tag 0x19; a ``DateTime`` as a 12-byte octet-string."""
    raw = DateTime(datetime(2026, 3, 29, 3, 0), deviation=-120, status=0x80).raw()
    assert raw.hex() == "07ea031d07030000ff ff8880".replace(" ", "")
    assert encode_value(axdr.DateTimeValue(raw)) == b"\x19" + raw
    assert encode_value(
        DateTime(datetime(2026, 3, 29, 3, 0), deviation=-120, status=0x80)
    ) == (b"\x09\x0c" + raw)
    stated = axdr.parse_datetime(raw)
    assert stated == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert stated is not None
    assert stated.utcoffset() == timedelta(hours=2)
    sunday = DateTime(
        datetime(2025, 12, 14, 16, 0), deviation=0, sunday=0, hundredths=5
    ).raw()
    assert sunday.hex() == "07e90c0e0010000005000000"


def test_date_time_in_zone_across_dst() -> None:
    """Deviation and the DST bit follow Europe/Oslo; both can be left out as meters do."""
    winter = DateTime.in_zone(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), OSLO)
    summer = DateTime.in_zone(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), OSLO)
    assert (winter.value.hour, winter.deviation, winter.status) == (1, -60, 0x00)
    assert (summer.value.hour, summer.deviation, summer.status) == (3, -120, 0x80)
    plain = DateTime.in_zone(
        datetime(2026, 7, 1, tzinfo=UTC), OSLO, deviation=False, dst_flag=False
    )
    assert (plain.deviation, plain.status) == (None, 0x00)
    assert plain.raw()[9:].hex() == "800000"


def test_plain_ints_and_overflow_are_refused() -> None:
    """The DLMS type is part of the wire format, so it must be stated and respected."""
    with pytest.raises(TypeError):
        encode_value(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit"):
        U8(256)
    with pytest.raises(ValueError, match="does not fit"):
        I8(-129)
    assert set(INTEGER_TYPES) == {0x05, 0x06, 0x0F, 0x10, 0x11, 0x12, 0x14, 0x15, 0x16}


@pytest.mark.parametrize("style", ["tagged", "bare"])
def test_data_notification_round_trip(style: str) -> None:
    """All three push-time styles decode to the same notification."""
    clock = DateTime(datetime(2020, 2, 3, 16, 0, 10))
    data = data_notification(
        (U32(119),),
        invoke_id=0x40000000,
        timestamp=clock,
        timestamp_style=style,  # type: ignore[arg-type]
    )
    notification = apdu.decode_apdu(with_llc(data))
    assert notification.invoke_id == 0x40000000
    assert notification.timestamp == axdr.DateTimeValue(clock.raw())
    assert notification.body == [(119,)]
    bare = data_notification(
        [U16(1)], invoke_id=7, timestamp=clock.raw(), timestamp_style="bare"
    )
    assert bare[5] == 0x0C
    absent = data_notification(
        None, invoke_id=1, encoded_body=encode_value(U8(1)) + encode_value(U8(2))
    )
    decoded = apdu.decode_apdu(absent)
    assert (decoded.timestamp, decoded.body) == (None, [1, 2])


def test_hdlc_frames_round_trip_and_segmentation() -> None:
    """HCS and FCS verify; segments carry the S bit on all but the last."""
    information = with_llc(bytes(range(256)) * 2)
    (single,) = hdlc_frames(information)
    frame = hdlc.parse_hdlc(single)
    assert (frame.destination, frame.source, frame.control) == (
        b"\x41",
        b"\x08\x83",
        0x13,
    )
    assert frame.information == information and not frame.segmented
    assert hdlc.declared_length(single[1], single[2]) == len(single)
    parts = hdlc_frames(
        information,
        destination=b"\x01",
        source=b"\x02\x01",
        control=0x10,
        max_information=200,
    )
    decoded = [hdlc.parse_hdlc(part) for part in parts]
    assert [part.segmented for part in decoded] == [True, True, False]
    assert b"".join(part.information for part in decoded) == information
    (empty,) = hdlc_frames(b"")
    assert hdlc.parse_hdlc(empty).information == b""
    with pytest.raises(ValueError, match="too long"):
        hdlc_frames(bytes(3000))


def test_mbus_frames_round_trip() -> None:
    """Segments count in the CI, the last has 0x10, and the APDU reassembles."""
    payload = bytes(range(256)) + bytes(4)
    frames = mbus_frames(payload)
    decoded = [mbus.parse_mbus(frame) for frame in frames]
    assert [frame.ci for frame in decoded] == [0x00, 0x11]
    assert all(frame.control == 0x53 and frame.address == 0xFF for frame in decoded)
    assert b"".join(frame.payload for frame in decoded) == payload
    assert decoded[0].data[:2] == b"\x01\x67"
    (short,) = mbus_frames(b"\x0f")
    assert mbus.parse_mbus(short).ci == 0x10
    with pytest.raises(ValueError, match="too long"):
        mbus_frames(payload, max_data=251)


@pytest.mark.parametrize("auth", [None, AUTH])
def test_glo_cipher_round_trip(auth: bytes | None) -> None:
    """Both security suites decrypt with the decoder, the authenticated one with its tag."""
    plain = data_notification((U32(1),), invoke_id=1)
    ciphered = glo_cipher(
        plain,
        system_title=TITLE,
        invocation_counter=0x23,
        encryption_key=KEY,
        authentication_key=auth,
    )
    assert ciphered[11] == (0x30 if auth else 0x20)
    assert len(ciphered) == 2 + 8 + 1 + 5 + len(plain) + (12 if auth else 0)
    notification = apdu.decode_apdu(ciphered, apdu.Keys(KEY, auth))
    assert notification.plaintext == plain and notification.system_title == TITLE
    with pytest.raises(ValueError, match="system title"):
        glo_cipher(plain, system_title=b"KFM", invocation_counter=1, encryption_key=KEY)


def test_block_transfer_round_trip() -> None:
    """General-block-transfer APDUs reassemble in the decoder's assembler."""
    inner = data_notification([U32(n) for n in range(60)], invoke_id=1)
    blocks = block_transfer(inner, 100)
    assembler = apdu.BlockAssembler()
    results = [assembler.feed(block) for block in blocks]
    assert results[:-1] == [None] * (len(blocks) - 1)
    assert results[-1] == inner
    assert [block[1] for block in blocks] == [0x00] * (len(blocks) - 1) + [0x80]


def _typed(value: axdr.Value, data: bytes, pos: int) -> tuple[Encodable, int]:
    """Give a decoded value back the DLMS type its original bytes had."""
    tag = data[pos]
    if tag in (0x01, 0x02):
        count, pos = axdr.read_length(data, pos + 1)
        assert isinstance(value, (list, tuple)) and len(value) == count
        items: list[Encodable] = []
        for item in value:
            typed, pos = _typed(item, data, pos)
            items.append(typed)
        return (items if tag == 0x01 else tuple(items)), pos
    _, end = axdr.decode_value(data, pos)
    if tag in INTEGER_TYPES:
        assert isinstance(value, int)
        return INTEGER_TYPES[tag](value), end
    if tag in (0x17, 0x18):
        assert isinstance(value, float)
        return (Float32(value) if tag == 0x17 else Float64(value)), end
    assert isinstance(value, (bytes, str, bool, axdr.DateTimeValue)) or value is None
    return value, end


def _reencode(entry_id: str) -> tuple[bytes, bytes]:
    entry = next(e for e in load("frames.jsonl") if e["id"] == entry_id)
    original = bytes.fromhex(entry["hex"])
    frame = hdlc.parse_hdlc(original)
    llc, data = frame.information[:3], frame.information[3:]
    notification = apdu.decode_apdu(frame.information)
    marker = data[5]
    body_start = {0x00: 6, 0x09: 19, 0x0C: 18}[marker]
    body, end = _typed(notification.body[0], data, body_start)
    assert end == len(data)
    timestamp = notification.timestamp.raw if notification.timestamp else None
    rebuilt = data_notification(
        body,
        invoke_id=notification.invoke_id,
        timestamp=timestamp,
        timestamp_style="tagged" if marker == 0x09 else "bare",
    )
    assert llc == b"\xe6\xe7\x00"
    (wire,) = hdlc_frames(
        with_llc(rebuilt),
        destination=frame.destination,
        source=frame.source,
        control=frame.control,
    )
    return wire, original


@needs_corpus
@pytest.mark.parametrize(
    "entry_id",
    [
        "aidon-hassams-aidon-hourly",
        "aidon-hassams-aidon-mini",
        "aidon-issue-amshan-homeassistant-47-1",
        "kaifa-hassams-kaifa-hourly",
        "kaifa-hassams-kaifa-ma304h3e-short",
        "kaifa-hassams-kaifa-1ph-short",
        "kamstrup-hassams-kamstrup",
        "kamstrup-hassams-kamstrup-hourly",
        "kamstrup-amsreader-frames-kamstrup-1p-3",
    ],
)
def test_real_frames_rebuilt_byte_for_byte(entry_id: str) -> None:
    """Decoding a real frame and encoding the tree again gives the original bytes."""
    wire, original = _reencode(entry_id)
    assert wire == original


@needs_corpus
def test_netz_noe_example_reencrypted() -> None:
    """The brochure's plaintext, encrypted with its published key, gives the published frames."""
    entry = next(
        e
        for e in load("frames.jsonl")
        if e["id"] == "kaifa-netznoe-ma309-encrypted-example"
    )
    security = entry["security"]
    ciphered = glo_cipher(
        bytes.fromhex(entry["decrypted_apdu_hex"]),
        system_title=bytes.fromhex(security["system_title"]),
        invocation_counter=int(security["invocation_counter"], 16),
        encryption_key=bytes.fromhex(entry["keys"]["encryption_key"]),
    )
    assert b"".join(mbus_frames(ciphered)) == bytes.fromhex(entry["hex"])


def test_clock_stated_with_offset() -> None:
    """A clock written from an aware time decodes to the same instant."""
    instant = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    clock = DateTime.in_zone(instant, OSLO)
    stated = axdr.parse_datetime(clock.raw())
    assert stated == instant
    assert stated is not None and stated.tzinfo == timezone(timedelta(hours=1))
