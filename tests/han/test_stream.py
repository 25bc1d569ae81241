"""The stream decoder against what serial adapters and bridges really deliver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.han_port.han import encoder
from custom_components.han_port.han.apdu import Keys
from custom_components.han_port.han.errors import FrameError, MissingKeyError
from custom_components.han_port.han.layout import LayoutCache
from custom_components.han_port.han.model import Quantity, Telegram
from custom_components.han_port.han.simulator import MeterSimulator
from custom_components.han_port.han.stream import StreamDecoder, decode_frame

from .frames import AIDON_LIST1, AIDON_LIST2, START, p1_telegram, simulated

KEY = bytes(range(16))
AUTH = bytes(range(16, 32))


def _values(telegrams: list[Telegram]) -> list[dict[str, Any]]:
    return [telegram.to_json()["values"] for telegram in telegrams]


def test_one_byte_at_a_time() -> None:
    """Byte-by-byte reads give the same telegrams as whole frames."""
    stream = AIDON_LIST2 + AIDON_LIST1 + b"\x7e"
    decoder = StreamDecoder()
    slow = [t for byte in stream for t in decoder.feed(bytes((byte,)))]
    assert _values(slow) == _values(StreamDecoder().feed(stream))
    assert len(slow) == 2


def test_reader_inserting_cr_before_lf() -> None:
    """A gateway's LF to CRLF translation inside frames is undone."""
    apdu = encoder.data_notification(
        [
            (
                b"\x01\x00\x01\x07\x00\xff",
                encoder.U32(0x0A0A),
                (encoder.I8(0), encoder.Enum(27)),
            )
        ],
        invoke_id=0x40000000,
    )
    frames = [*encoder.hdlc_frames(encoder.with_llc(apdu)), AIDON_LIST1]
    assert b"\n" in frames[0][1:-1]
    translated = b"".join(frame.replace(b"\n", b"\r\n") + b"\r\n" for frame in frames)
    decoder = StreamDecoder()
    telegrams = decoder.feed(translated + b"\x7e")
    assert _values(telegrams) == _values(
        StreamDecoder().feed(b"".join(frames) + b"\x7e")
    )
    assert decoder.stats.repaired_frames == sum(
        b"\n" in frame[1:-1] for frame in frames
    )


def test_dropped_closing_flags() -> None:
    """Frames whose closing flag a reader dropped still decode."""
    stream = AIDON_LIST1[:-1] + AIDON_LIST2[:-1] + AIDON_LIST1
    assert len(StreamDecoder().feed(stream)) == 3
    assert decode_frame(AIDON_LIST1[:-1])[0].list_type == 1


def test_damage_costs_only_the_damaged_frame() -> None:
    """After a broken frame the next valid one decodes."""
    broken = bytearray(AIDON_LIST2)
    broken[40] ^= 0x10
    decoder = StreamDecoder()
    telegrams = decoder.feed(bytes(broken) + AIDON_LIST1 + b"\x7e")
    assert [t.list_type for t in telegrams] == [1]
    assert decoder.stats.checksum_errors == 1


def test_known_header_still_checks_the_frame() -> None:
    """A header seen in a good frame skips its own check; the FCS still decides."""
    decoder = StreamDecoder()
    assert len(decoder.feed(AIDON_LIST1 + AIDON_LIST1)) == 2
    damaged = bytearray(AIDON_LIST1)
    damaged[-5] ^= 0x01  # in the data: the known header matches, the FCS does not
    assert decoder.feed(bytes(damaged) + AIDON_LIST1 + b"\x7e")[0].list_type == 1
    assert decoder.stats.checksum_errors == 1
    # A header that differs from the known one by its HCS is checked again.
    bad_header = bytearray(AIDON_LIST1)
    bad_header[7] ^= 0x01  # the HCS
    assert decoder.feed(bytes(bad_header) + AIDON_LIST1 + b"\x7e")[0].list_type == 1
    assert decoder.stats.checksum_errors == 2
    assert decoder.stats.telegrams == 4


@pytest.mark.parametrize("vendor", ["aidon", "kaifa", "kamstrup"])
def test_known_lists_decode_in_place_as_afresh(vendor: str) -> None:
    """Pushes of a list seen before, read in the buffer, equal a first decode."""
    simulator = MeterSimulator(vendor, start=START, seed=3)
    frames = [
        frame.data for frame in simulator.frames_until(START + timedelta(hours=2))
    ]
    decoder = StreamDecoder()
    in_place = [t for frame in frames for t in decoder.feed(frame)]
    scanning = StreamDecoder()
    afresh: list[Telegram] = []
    for frame in frames:
        scanning._layouts = LayoutCache()  # noqa: SLF001 - no layout to reuse
        afresh += scanning.feed(frame)
    assert in_place == afresh
    assert len(in_place) == len(frames)
    assert decoder._layouts.hits >= 0.99 * len(frames)  # noqa: SLF001


def test_known_header_with_another_list_decodes_afresh() -> None:
    """A frame of a known header whose data has another shape takes the full path."""

    def frame(value: encoder.Encodable) -> bytes:
        apdu = encoder.data_notification(
            [(b"\x01\x00\x01\x07\x00\xff", value, (encoder.I8(0), encoder.Enum(27)))],
            invoke_id=0x40000000,
        )
        return encoder.hdlc_frames(encoder.with_llc(apdu))[0]

    first, other = frame(encoder.U32(1500)), frame(encoder.I32(-1500))
    assert len(first) == len(other)
    assert first[:9] == other[:9]  # the same header, byte for byte
    decoder = StreamDecoder()
    telegrams = decoder.feed(first + other + first + b"\x7e")
    assert [t.get(Quantity.ACTIVE_POWER_IMPORT) for t in telegrams] == [
        1500,
        -1500,
        1500,
    ]
    assert decoder.stats.telegrams == 3


def test_segmented_hdlc_and_block_transfer() -> None:
    """Long lists split over HDLC segments or GBT blocks are reassembled."""
    apdu = encoder.data_notification(
        [
            (
                b"\x01\x00\x01\x07\x00\xff",
                encoder.U32(1234),
                (encoder.I8(0), encoder.Enum(27)),
            )
        ],
        invoke_id=0x40000000,
    )
    segmented = encoder.hdlc_frames(encoder.with_llc(apdu), max_information=12)
    assert len(segmented) > 1
    telegrams = StreamDecoder().feed(b"".join(segmented) + b"\x7e")
    assert telegrams[0].get(Quantity.ACTIVE_POWER_IMPORT) == 1234
    blocks = encoder.block_transfer(apdu, 10)
    frames = b"".join(
        f for block in blocks for f in encoder.hdlc_frames(encoder.with_llc(block))
    )
    assert (
        StreamDecoder().feed(frames + b"\x7e")[0].get(Quantity.ACTIVE_POWER_IMPORT)
        == 1234
    )


@pytest.mark.parametrize("authentication", [None, AUTH])
def test_encrypted_meter(authentication: bytes | None) -> None:
    """Encrypted pushes decode with the key and give a typed error without it."""
    start = START
    simulator = MeterSimulator(
        "kaifa",
        start=start,
        seed=2,
        encryption_key=KEY,
        authentication_key=authentication,
    )
    frames = list(simulator.frames_until(start + timedelta(seconds=12)))
    stream = b"".join(frame.data for frame in frames) + b"\x7e"
    keys = Keys(KEY, authentication)
    telegrams = StreamDecoder(keys).feed(stream)
    assert len(telegrams) == len(frames)
    assert all(telegram.encrypted for telegram in telegrams)
    for telegram, frame in zip(telegrams, frames, strict=True):
        assert (
            telegram.get(Quantity.ACTIVE_POWER_IMPORT)
            == frame.truth[Quantity.ACTIVE_POWER_IMPORT]
        )
    locked = StreamDecoder()
    assert locked.feed(stream) == []
    assert isinstance(locked.last_error, MissingKeyError)
    assert locked.stats.decryption_errors == len(frames)
    wrong = StreamDecoder(Keys(bytes(16), authentication))
    assert wrong.feed(stream) == []
    assert wrong.stats.decryption_errors == len(frames)


def test_mbus_meter_over_a_day_boundary() -> None:
    """An M-Bus meter's segmented pushes decode in order."""
    start = datetime(2026, 3, 28, 22, 59, 55, tzinfo=UTC)
    simulator = MeterSimulator("kaifa", start=start, seed=4, framing="mbus")
    frames = list(simulator.frames_until(start + timedelta(seconds=30)))
    telegrams = StreamDecoder().feed(b"".join(frame.data for frame in frames))
    assert [t.list_type for t in telegrams] == [frame.list_type for frame in frames]


def test_memory_stays_bounded() -> None:
    """Megabytes of junk, and a bogus frame start that never completes, are dropped."""
    decoder = StreamDecoder()
    junk = bytes(range(256)) * 64
    for _ in range(64):
        decoder.feed(junk)
        assert len(decoder._buffer) < 9000
    decoder.feed(b"/ABC5" + b"x" * 9000)
    assert len(decoder._buffer) < 9000
    decoder.reset()
    assert decoder.feed(AIDON_LIST1 + b"\x7e")


def test_decode_frame_errors() -> None:
    """A lone frame reports why it could not be decoded."""
    with pytest.raises(FrameError):
        decode_frame(b"\x7e\xa0")
    with pytest.raises(FrameError):
        decode_frame(AIDON_LIST1[:-4] + b"\x00\x00\x00\x7e")
    assert decode_frame(AIDON_LIST1)[0].list_type == 1


def test_recent_frames_keeps_the_latest_valid_frames() -> None:
    """keep_frames holds the last N checksum-valid frames of every framing, byte for byte."""
    decoder = StreamDecoder(keep_frames=2)
    noise = b"\x00\x7e\x01\x02"
    decoder.feed(noise + AIDON_LIST1 + AIDON_LIST2 + noise + AIDON_LIST1)
    assert list(decoder.recent_frames) == [AIDON_LIST2, AIDON_LIST1]

    mbus = StreamDecoder(keep_frames=5)
    frame = simulated("kaifa", 3, framing="mbus")
    mbus.feed(frame.data)
    assert list(mbus.recent_frames) == list(frame.frames)

    p1 = StreamDecoder(keep_frames=1)
    p1.feed(p1_telegram())
    assert list(p1.recent_frames) == [p1_telegram().rstrip(b"\r\n")]

    off = StreamDecoder()
    off.feed(AIDON_LIST1)
    assert not off.recent_frames
