"""Meter profiles and the compiled-layout fast path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custom_components.han_port.han import layout, profiles
from custom_components.han_port.han.apdu import Notification, decode_apdu
from custom_components.han_port.han.axdr import DateTimeValue
from custom_components.han_port.han.errors import ApduError
from custom_components.han_port.han.model import (
    FrameFormat,
    Quantity,
    Telegram,
    classify_list,
    quantity_for,
)
from custom_components.han_port.han.simulator import SUPPORTED_VENDORS, MeterSimulator
from custom_components.han_port.han.stream import StreamDecoder

from . import corpus

OBIS_P = b"\x01\x00\x01\x07\x00\xff"
OBIS_U1 = b"\x01\x00\x20\x07\x00\xff"
OBIS_A = b"\x01\x00\x01\x08\x00\xff"
OBIS_CLOCK = b"\x00\x00\x01\x00\x00\xff"
STAMP = bytes.fromhex("07ea0b170112000000ffc400")
CET = timezone(timedelta(hours=1))


def _telegram(body: list[Any], vendor: str | None = None) -> Telegram:
    notification = Notification(invoke_id=1, timestamp=None, body=body)
    return profiles.build_telegram(notification, FrameFormat.DLMS, vendor_hint=vendor)


def test_nested_items_with_scalers() -> None:
    """Aidon-style structures: OBIS, value and scaler/unit."""
    telegram = _telegram(
        [
            [
                (b"\x01\x01\x00\x02\x81\xff", "AIDON_V0001"),
                (OBIS_P, 1234, (0, 27)),
                (OBIS_U1, 2301, (-1, 35)),
                (OBIS_A, 1234567, (1, 30)),
                (OBIS_CLOCK, STAMP),
            ]
        ]
    )
    assert telegram.vendor == "aidon"
    assert telegram.list_version == "AIDON_V0001"
    assert telegram.get(Quantity.ACTIVE_POWER_IMPORT) == 1234
    assert telegram.get(Quantity.VOLTAGE_L1) == 230.1
    assert telegram.get(Quantity.ACTIVE_ENERGY_IMPORT) == 12345670
    assert telegram.meter_time == datetime(2026, 11, 23, 18, 0, tzinfo=CET)
    assert telegram.list_type == 3
    assert telegram.by_quantity()[Quantity.VOLTAGE_L1].unit == "V"


def test_flat_pairs_with_implied_scalers() -> None:
    """Kamstrup: flat OBIS/value pairs, scalers implied by the vendor."""
    telegram = _telegram(
        [
            (
                "Kamstrup_V0001",
                b"\x01\x01\x00\x00\x05\xff",
                "5706567000000000",
                b"\x01\x01\x60\x01\x01\xff",
                "6841131BN243101040",
                b"\x01\x01\x1f\x07\x00\xff",
                189,
                b"\x01\x01\x01\x08\x00\xff",
                8582328,
                b"\x01\x01\x0d\x07\x00\xff",
                99,
                None,
            )
        ]
    )
    assert telegram.vendor == "kamstrup"
    assert telegram.meter_id == "5706567000000000"
    assert telegram.model == "6841131BN243101040"
    assert telegram.list_version == "Kamstrup_V0001"
    assert telegram.get(Quantity.CURRENT_L1) == 1.89
    assert telegram.get(Quantity.ACTIVE_ENERGY_IMPORT) == 85823280
    assert telegram.get(Quantity.POWER_FACTOR) == 0.99


def test_positional_kaifa_lists() -> None:
    """Kaifa KFM_001 lists carry no OBIS codes; positions give the meaning."""
    list2 = [
        (
            *(b"KFM_001", b"6970631400000000", b"MA304H3E", 1000, 0, 0, 100),
            *(1200, 1300, 1400, 2300, 2310, 2320),
        )
    ]
    telegram = _telegram(list2)
    assert telegram.vendor == "kaifa"
    assert telegram.meter_id == "6970631400000000"
    assert telegram.get(Quantity.CURRENT_L2) == 1.3
    assert telegram.get(Quantity.VOLTAGE_L3) == 232.0
    assert telegram.list_type == 2
    list1 = _telegram([(5852,)], vendor="kaifa")
    assert list1.get(Quantity.ACTIVE_POWER_IMPORT) == 5852
    assert list1.list_type == 1


def test_unknown_positional_list_has_no_guessed_values() -> None:
    """A list without OBIS codes and without a known layout gives no readings."""
    telegram = _telegram([(1, 2, 3)])
    assert telegram.readings == {}


def test_capture_object_list() -> None:
    """Landis+Gyr E450 sends capture objects, then the values in that order."""
    captures = [
        (40, b"\x00\x08\x19\x09\x00\xff", 2, 0),
        (40, b"\x00\x08\x19\x09\x00\xff", 1, 0),
        (1, b"\x00\x00\x60\x01\x00\xff", 2, 0),
        (3, OBIS_P, 2, 0),
        (3, b"\x01\x00\x1f\x07\x00\xff", 2, 0),
    ]
    telegram = _telegram(
        [(captures, b"\x00\x08\x19\x09\x00\xff", b"63316890", 331, 49)]
    )
    assert telegram.vendor == "landis_gyr"
    assert telegram.meter_id == "63316890"
    assert telegram.get(Quantity.ACTIVE_POWER_IMPORT) == 331
    assert telegram.get(Quantity.CURRENT_L1) == 0.49


def test_unlabelled_clock_and_meter_number() -> None:
    """Austrian lists open with the clock and end with the meter number."""
    telegram = _telegram(
        [
            (
                DateTimeValue(STAMP),
                OBIS_A,
                12937,
                (0, 30),
                OBIS_P,
                5,
                (0, 27),
                b"181220000009",
            )
        ]
    )
    assert telegram.meter_time == datetime(2026, 11, 23, 18, 0, tzinfo=CET)
    assert telegram.meter_id == "181220000009"
    assert telegram.get(Quantity.ACTIVE_ENERGY_IMPORT) == 12937


def test_vendor_from_text() -> None:
    """List ids, models and GS1 meter-id prefixes name the vendor."""
    assert profiles.vendor_from_text("KFM_001") == "kaifa"
    assert profiles.vendor_from_text("7359992890497997") == "aidon"
    assert profiles.vendor_from_text("EMBRIQ_V1_1") == "landis_gyr"
    assert profiles.vendor_from_text("nothing") is None


def test_quantities_and_classification() -> None:
    """OBIS codes map to quantities regardless of the channel group."""
    assert quantity_for((1, 1, 31, 7, 0, 255)) == (Quantity.CURRENT_L1, "A")
    assert quantity_for((1, 1, 0, 0, 5, 255)) == (Quantity.METER_ID, "")
    assert quantity_for((0, 0, 96, 1, 7, 255)) == (Quantity.METER_MODEL, "")
    assert quantity_for((1, 0, 1, 8, 2, 255)) == (
        Quantity.ACTIVE_ENERGY_IMPORT_T2,
        "Wh",
    )
    assert quantity_for((0, 0, 99, 9, 9, 255)) is None
    assert classify_list([Quantity.ACTIVE_POWER_IMPORT]) == 1
    assert classify_list([Quantity.VOLTAGE_L1]) == 2
    assert classify_list([Quantity.ACTIVE_ENERGY_IMPORT]) == 3


def test_telegram_json_and_lookup() -> None:
    """The JSON shape carries every documented key."""
    telegram = _telegram([[(OBIS_P, 1234, (0, 27)), (OBIS_CLOCK, STAMP)]])
    data = telegram.to_json()
    assert set(data) >= {
        "format",
        "vendor",
        "model",
        "meter_id",
        "list",
        "meter_time",
        "values",
    }
    assert data["values"]["1.0.1.7.0.255"] == {"value": 1234, "unit": "W"}
    assert data["values"]["0.0.1.0.0.255"] == {"value": "2026-11-23T18:00:00+01:00"}
    assert telegram.get(Quantity.VOLTAGE_L1) is None


# Fast path ---------------------------------------------------------------

APDU = bytes.fromhex(
    "0f00000001" + "0c" + STAMP.hex() + "0203"
    "020309060100010700ff06000004d202020f00161b"
    "020309060100200700ff12090002020fff1623"
    "0202090600000100" + "00ff090c" + STAMP.hex()
)


def test_layout_matches_general_decoder() -> None:
    """A reused layout gives exactly what the general decoder gives."""
    cache = layout.LayoutCache()
    general = profiles.build_telegram(decode_apdu(APDU), FrameFormat.HDLC)
    first = cache.decode(APDU, FrameFormat.HDLC, None)
    second = cache.decode(APDU, FrameFormat.HDLC, None)
    assert cache.hits == 1
    assert first.to_json() == general.to_json() == second.to_json()
    changed = APDU.replace(bytes.fromhex("060000 04d2"), bytes.fromhex("06000004d3"))
    third = cache.decode(changed, FrameFormat.HDLC, None)
    assert cache.hits == 2
    assert third.get(Quantity.ACTIVE_POWER_IMPORT) == 1235


def test_layout_pins_what_the_plan_relied_on() -> None:
    """A different OBIS code or scaler in the same layout is decoded afresh."""
    cache = layout.LayoutCache()
    cache.decode(APDU, FrameFormat.HDLC, None)
    other_scaler = APDU.replace(bytes.fromhex("0fff1623"), bytes.fromhex("0ffe1623"))
    telegram = cache.decode(other_scaler, FrameFormat.HDLC, None)
    assert cache.hits == 0
    assert telegram.get(Quantity.VOLTAGE_L1) == 23.04


def test_layout_scanner_declines_unusual_shapes() -> None:
    """Shapes the scanner does not handle fall back to the general decoder."""
    utf8 = bytes.fromhex("0f0000000100020209060100010700ff0c024142")
    with pytest.raises(ApduError):
        layout.scan(utf8)
    assert layout.LayoutCache().decode(utf8, FrameFormat.HDLC, None).readings
    for broken in (
        b"\x0f\x00",
        b"\x0f\x00\x00\x00\x01\x07\x00",
        b"\x0f\x00\x00\x00\x01\x00\x02\x02",
    ):
        with pytest.raises((ApduError, IndexError)):
            layout.scan(broken)


def test_layout_cache_is_bounded() -> None:
    """Unboundedly many layouts never grow the cache past its limit."""
    cache = layout.LayoutCache()
    for size in range(1, layout.MAX_LAYOUTS + 10):
        apdu = (
            bytes.fromhex("0f0000000100")
            + b"\x09"
            + bytes((size,))
            + bytes(size)
            + b"\x11\x01"
        )
        cache.decode(apdu, FrameFormat.HDLC, None)
    assert sum(len(items) for items in cache._layouts.values()) == layout.MAX_LAYOUTS


def _indexed(telegram: Telegram) -> dict[Quantity, Any]:
    return {
        quantity: reading.value for quantity, reading in telegram.by_quantity().items()
    }


@pytest.mark.parametrize("vendor", SUPPORTED_VENDORS)
def test_values_by_quantity_come_with_the_readings(vendor: str) -> None:
    """Every path of a layout indexes the values as ``by_quantity`` does.

    The first push (scanned), the next ones (a loop over the plan) and those
    after ``COMPILE_AFTER`` (generated code) of each list.
    """
    start = datetime(2026, 3, 2, 9, 59, 50, tzinfo=UTC)
    simulator = MeterSimulator(vendor, start=start, seed=3)
    firsts: dict[int, bytes] = {}
    for frame in simulator.frames_until(start + timedelta(minutes=1)):
        firsts.setdefault(frame.list_type, frame.data)
    assert {2, 3} <= firsts.keys()  # Kamstrup sends no List 1
    decoder = StreamDecoder()
    for data in firsts.values():
        for push in range(profiles.COMPILE_AFTER + 2):
            (telegram,) = decoder.feed(data + b"\x7e")
            made = telegram.quantities  # before values_by_quantity fills it in
            assert made is not None, (vendor, push)
            assert made == _indexed(telegram), (vendor, push)
            assert made, vendor
            assert telegram.values_by_quantity() is made
            decoder.reset()


def test_values_by_quantity_of_a_list_that_repeats_a_key() -> None:
    """The same OBIS code twice: the reading left under the key counts."""
    repeated = APDU.replace(
        bytes.fromhex("0100200700ff"), bytes.fromhex("0100010700ff")
    ).replace(bytes.fromhex("12090002020fff1623"), bytes.fromhex("12090002020f001623"))
    cache = layout.LayoutCache()
    for _push in range(profiles.COMPILE_AFTER + 2):
        telegram = cache.decode(repeated, FrameFormat.HDLC, None)
        assert telegram.quantities is None
        assert telegram.values_by_quantity() == _indexed(telegram)
        assert telegram.values_by_quantity()[Quantity.ACTIVE_POWER_IMPORT] == 2304


@pytest.mark.skipif(not corpus.CORPUS.is_dir(), reason="../shared/han-corpus absent")
def test_fast_path_equals_general_path_on_corpus() -> None:
    """Every corpus frame decodes identically the first and the second time."""
    compared = 0
    for entry in corpus.load("frames.jsonl"):
        if entry["format"] == "p1_ascii":
            continue
        decoder = StreamDecoder(corpus.keys_of(entry))
        data = corpus.frame_bytes(entry) + b"\x7e"
        first = [t.to_json() for t in decoder.feed(data)]
        telegrams = decoder.feed(data)
        for telegram in telegrams:
            if telegram.quantities is not None:  # as made by the decoder
                assert telegram.quantities == _indexed(telegram), entry["id"]
        second = [t.to_json() for t in telegrams]
        assert first == second, entry["id"]
        compared += bool(first)
    assert compared > 100
