"""Tests of the P1 (DSMR ASCII) telegram parser, synthetic and against the shared corpus."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
import json
import math
from pathlib import Path
from typing import Any

import pytest

from custom_components.han_port.han.crc import crc16_arc
from custom_components.han_port.han.errors import ChecksumError, FrameError
from custom_components.han_port.han.model import FrameFormat, Quantity
from custom_components.han_port.han.p1 import build_p1, parse_p1

LINES = [
    "1-3:0.2.8(50)",
    "0-0:1.0.0(240102030405W)",
    "0-0:96.1.1(4B384547303034303436333935353037)",
    "1-0:1.8.1(000123.456*kWh)",
    "1-0:1.8.2(000010.001*kWh)",
    "1-0:2.8.1(000000.000*kWh)",
    "1-0:1.7.0(01.193*kW)",
    "1-0:3.7.0(00.010*kvar)",
    "1-0:4.8.0(000001.500*kVArh)",
    "1-0:9.7.0(1.5*kVA)",
    "1-0:32.7.0(230.1*V)",
    "1-0:31.7.0(004*A)",
    "1-0:14.7.0(50.00*Hz)",
    "1-0:13.7.0(0.998)",
    "0-0:96.14.0(0002)",
]


def _parse(lines: list[str], **kwargs: Any) -> Any:
    return parse_p1(build_p1("/ISK5\\2M550T-1012", lines, **kwargs))


def test_build_p1_layout_and_crc() -> None:
    """The encoder writes header, blank line, objects, '!' and an uppercase CRC."""
    data = build_p1("KFM5KAIFA-METER", ["1-0:1.7.0(00.100*kW)"])
    body = b"/KFM5KAIFA-METER\r\n\r\n1-0:1.7.0(00.100*kW)\r\n!"
    assert data == body + f"{crc16_arc(body):04X}".encode() + b"\r\n"
    assert build_p1("/A", [], crc=False, line_end="\n") == b"/A\n\n!\n"


def test_valid_telegram() -> None:
    """A full DSMR 5 style telegram: fields, SI units and quantities."""
    telegram = _parse(LINES)
    assert telegram.format is FrameFormat.P1
    assert telegram.verified
    assert telegram.vendor == "iskraemeco"
    assert telegram.model == "M550T-1012"
    assert telegram.meter_id == "K8EG004046395507"
    assert telegram.list_version == "50"
    assert telegram.list_type == 3
    assert telegram.meter_time == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))
    )
    values = {key: (r.value, r.unit) for key, r in telegram.readings.items()}
    assert values["1.0.1.8.1.255"] == (123456, "Wh")
    assert values["1.0.1.8.2.255"] == (10001, "Wh")
    assert values["1.0.1.7.0.255"] == (1193, "W")
    assert values["1.0.3.7.0.255"] == (10, "var")
    assert values["1.0.4.8.0.255"] == (1500, "varh")
    assert values["1.0.9.7.0.255"] == (1500, "VA")
    assert values["1.0.32.7.0.255"] == (230.1, "V")
    assert values["1.0.31.7.0.255"] == (4, "A")
    assert values["1.0.14.7.0.255"] == (50, "Hz")
    assert values["1.0.13.7.0.255"] == (0.998, "")
    assert values["0.0.96.14.0.255"] == (2, None)
    assert values["1.3.0.2.8.255"] == ("50", None)
    assert type(values["1.0.1.8.1.255"][0]) is int
    assert telegram.get(Quantity.ACTIVE_ENERGY_IMPORT_T1) == 123456
    assert telegram.get(Quantity.ACTIVE_ENERGY_IMPORT_T2) == 10001
    assert telegram.get(Quantity.ACTIVE_ENERGY_EXPORT_T1) == 0
    assert telegram.get(Quantity.METER_CLOCK) == telegram.meter_time
    assert telegram.readings["0.0.1.0.0.255"].unit is None


def test_wrong_crc_raises() -> None:
    """A CRC that does not match the bytes is a checksum error, not a guess."""
    data = bytearray(build_p1("/KFM5KAIFA-METER", LINES))
    data[data.index(b"123.456")] = ord("9")
    with pytest.raises(ChecksumError):
        parse_p1(bytes(data))


def test_no_crc_is_unverified() -> None:
    """DSMR 2.2/3 telegrams carry no CRC: parsed, but flagged unverified."""
    telegram = _parse(LINES, crc=False)
    assert not telegram.verified
    assert telegram.readings["1.0.1.7.0.255"].value == 1193


def test_lf_only_and_unpadded_crc() -> None:
    """LF-only line ends parse; a CRC printed without zero padding still verifies."""
    assert _parse(LINES, line_end="\n").verified
    for index in range(200):
        lines = [f"1-0:1.7.0({index:05d}*W)"]
        body = build_p1("/NWA-WARMTELINK", lines, crc=False)[:-2]
        crc = crc16_arc(body)
        if crc < 0x1000:
            telegram = parse_p1(body + f"{crc:X}\r\n".encode())
            assert telegram.verified
            assert telegram.vendor == "nwa"
            assert telegram.model == "WARMTELINK"
            break
    else:  # pragma: no cover - the loop always finds a small CRC
        pytest.fail("no CRC below 0x1000 found")


def test_tolerates_leading_and_trailing_junk() -> None:
    """Stray line ends before '/' and gateway lines after the CRC are ignored."""
    data = (
        b"\r\n"
        + build_p1("/ESY5Q3DA1004 V3.04", LINES)
        + b"  25818685\r\nDE000003\r\n\xff\xff"
    )
    telegram = parse_p1(data)
    assert telegram.verified
    assert telegram.vendor == "easymeter"
    assert telegram.model == "Q3DA1004 V3.04"
    unterminated = build_p1("/ESY5Q3DA1004", LINES)[:-2]
    assert parse_p1(unterminated).verified


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        b"1-0:1.7.0(01.193*kW)\r\n!\r\n",
        b"/KFM5KAIFA-METER\r\n\r\n1-0:1.7.0(01.193*kW)\r\n",
        b"/KFM5KAIFA-METER\r\n\r\n1-0:1.7.0(01.193*kW)\r\n!XYZ1\r\n",
        b"/KFM5KAIFA-METER\r\n\r\n1-0:1.7.0(01.193*kW)\r\n!12345\r\n",
    ],
)
def test_malformed_raises_frame_error(data: bytes) -> None:
    """Missing '/' or '!' or a CRC field that is not hex is a frame error."""
    with pytest.raises(FrameError) as info:
        parse_p1(data)
    assert not isinstance(info.value, ChecksumError)


def test_timestamps() -> None:
    """W is CET (+01:00), S is CEST (+02:00), no letter stays naive, nonsense stays text."""
    summer = _parse(["0-0:1.0.0(240702030405S)"]).meter_time
    assert summer == datetime(2024, 7, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert summer.utcoffset() == timedelta(hours=2)
    naive = _parse(["0-0:1.0.0(240702030405)"]).meter_time
    assert naive == datetime(2024, 7, 2, 3, 4, 5)
    long_form = _parse(["0-0:1.0.0(20240111 09:35:00)"]).meter_time
    assert long_form == datetime(2024, 1, 11, 9, 35)
    bad = _parse(["0-0:1.0.0(241399999999W)"])
    assert bad.meter_time is None
    assert bad.readings["0.0.1.0.0.255"].value == "241399999999W"
    assert _parse(["0-0:1.0.0(soon)"]).meter_time is None


def test_identifiers_and_text() -> None:
    """Hex-encoded ASCII is decoded only when it really is printable hex."""
    telegram = _parse(
        [
            "0-0:96.1.0(96815390)",
            "0-0:96.13.0(48656C6C6F)",
            "0-0:96.13.1(ABC)",
            "1-0:0.0.0(00012)",
            "0-1:96.1.0(3232323241424344313233343536373839)",
        ]
    )
    values = {key: r.value for key, r in telegram.readings.items()}
    assert values["0.0.96.1.0.255"] == "96815390"
    assert values["0.0.96.13.0.255"] == "Hello"
    assert values["0.0.96.13.1.255"] == "ABC"
    assert values["1.0.0.0.0.255"] == "00012"
    assert values["0.1.96.1.0.255"] == "2222ABCD123456789"
    assert telegram.meter_id == "96815390"
    # An M-Bus device's id must not pass for the meter's.
    assert telegram.readings["0.1.96.1.0.255"].quantity is None


@pytest.mark.parametrize(
    ("lines", "meter_id"),
    [
        (["0-0:96.1.1()", "1-0:0.0.0(1336001560)"], "1336001560"),
        (["0-0:42.0.0(53414733303832323030303032313630)"], "SAG3082200002160"),
        (["1-0:96.1.0(12345)"], "12345"),
        (["0-1:96.1.1(4B38)"], None),
    ],
)
def test_meter_id_fallbacks(lines: list[str], meter_id: str | None) -> None:
    """The meter id comes from the first non-empty identifier DSMR and vendors use."""
    assert _parse(lines).meter_id == meter_id


def test_gas_and_multi_group_lines() -> None:
    """M-Bus values keep the value and unit, DSMR 2.2 gas joins its next line, logs are skipped."""
    telegram = _parse(
        [
            "0-1:24.2.1(101209112500W)(12785.123*m3)",
            "0-2:24.2.1(700101010000W)(00000000)",
            "0-3:24.2.1(260215200523W)(240.860*GJ)",
            "1-0:1.6.0(200509134558S)(02.589*kW)",
            "1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)",
            "1-0:99.97.0(0)(0-0:96.7.19)",
            "0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)",
            "0-1:24.3.0(121209120000)(00)(60)(1)(0-1:24.2.1)(m3)",
            "(00000.000)",
            "0-2:24.3.0(121209120000)(00)(60)(1)(0-2:24.2.1)(m3)",
            "(01234.560)",
            "0-3:24.3.0(121209120000)(00)(60)(1)",
        ]
    )
    values = {
        key: (r.value, r.unit, r.quantity) for key, r in telegram.readings.items()
    }
    assert values["0.1.24.2.1.255"] == (12785.123, "m3", None)
    assert values["0.2.24.2.1.255"] == (0, None, None)
    assert values["0.3.24.2.1.255"] == (240.86, "GJ", None)
    assert values["1.0.1.6.0.255"] == (2589, "W", None)
    assert values["0.1.24.3.0.255"] == (0, "m3", None)
    assert values["0.2.24.3.0.255"] == (1234.56, "m3", None)
    assert "1.0.99.97.0.255" not in values
    assert "0.0.98.1.0.255" not in values
    assert "0.3.24.3.0.255" not in values


def test_odd_lines_never_crash() -> None:
    """Malformed codes, stray groups, suffixes and repeated codes are handled."""
    telegram = _parse(
        [
            "(orphan)",
            "1-0:4:24.7.0(0000.000*kVAr)",
            "garbage",
            "1-0:1.8.0*255(00032549.5061662*kWh)",
            "0-0:96.1.255*255(1ESY1336001560)",
            "1-0:2.8.0.255(1.5*kWh)",
            "1-0:1.7.0(-00.250*kW)",
            "1-0:2.7.0(abc*kW)",
            "1-0:21.7.0(12*A)",
            "1-0:31.7.0(0.1*mA)",
            "0-0:17.0.0(16500)",
            "0-0:17.0.0(1)",
            "1-0:32.7.0(0.1)",
        ]
    )
    values = {
        key: (r.value, r.unit, r.quantity) for key, r in telegram.readings.items()
    }
    assert values["1.0.1.8.0.255"] == (
        32549506.1662,
        "Wh",
        Quantity.ACTIVE_ENERGY_IMPORT,
    )
    assert values["0.0.96.1.255.255"] == ("1ESY1336001560", None, None)
    assert values["1.0.2.8.0.255"] == (1500, "Wh", Quantity.ACTIVE_ENERGY_EXPORT)
    assert values["1.0.1.7.0.255"] == (-250, "W", Quantity.ACTIVE_POWER_IMPORT)
    assert values["1.0.2.7.0.255"] == ("abc*kW", None, Quantity.ACTIVE_POWER_EXPORT)
    assert values["1.0.21.7.0.255"] == (12, "A", None)  # unit contradicts the code
    assert values["1.0.31.7.0.255"] == (0.1, "mA", None)
    assert values["0.0.17.0.0.255"] == (16500, None, None)  # first occurrence wins
    assert values["1.0.32.7.0.255"] == (0.1, "V", Quantity.VOLTAGE_L1)
    assert len(telegram.readings) == 9


def test_decimal_values_have_no_binary_noise() -> None:
    """Scaling is exact decimal arithmetic: 0.3 kW is 300 W, 0.0003 kW is 0.3 W."""
    telegram = _parse(
        ["1-0:1.7.0(0.0003*kW)", "1-0:2.7.0(0.1*W)", "1-0:1.8.0(0.3*kWh)"]
    )
    assert telegram.readings["1.0.1.7.0.255"].value == 0.3
    assert telegram.readings["1.0.2.7.0.255"].value == 0.1
    assert telegram.readings["1.0.1.8.0.255"].value == 300


@pytest.mark.parametrize(
    ("header", "vendor", "model"),
    [
        ("/KFM5KAIFA-METER", "kaifa", "KAIFA-METER"),
        ("/ISk5\\2MT382-1000", "iskraemeco", "MT382-1000"),
        ("/ISk5\x02MIE5T-200", "iskraemeco", "MIE5T-200"),
        ("/KAM5", "kamstrup", None),
        ("/LGF5E360", "landis_gyr", "E360"),
        ("/XMX5LGBBFFB231314239", "landis_gyr", "LGBBFFB231314239"),
        ("/ELL5\\253833635_A", "elster", "53833635_A"),
        ("/FLU5\\253769484_A", "fluvius", "53769484_A"),
        ("/EST5\\253710000_A", "sagemcom", "53710000_A"),
        ("/Sag5SAG-METER", "sagemcom", "SAG-METER"),
        ("/EGM5G15", "elgama", "G15"),
        ("/NES5:83335-3E", "nes", "83335-3E"),
        ("/ABC5METER", "abc", "METER"),
        ("/A", None, None),
        ("/12", None, None),
    ],
)
def test_header(header: str, vendor: str | None, model: str | None) -> None:
    """The manufacturer flag names the vendor; the rest of the line is the model."""
    telegram = parse_p1(build_p1(header, ["1-0:1.7.0(1*W)"]))
    assert (telegram.vendor, telegram.model) == (vendor, model)


# Conformance against real telegrams ---------------------------------------

CORPUS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "han-corpus"
    / "frames.jsonl"
)
_TO_SI = {
    "kW": ("W", 1000),
    "kWh": ("Wh", 1000),
    "kvar": ("var", 1000),
    "kvarh": ("varh", 1000),
}
# Entries that are not complete telegrams, with the reason.
UNPARSEABLE = {
    "kaifa-amsreader-gh986-1": "garbled ciphered capture behind a P1 header, no '!' line",
    "sagemcom-amsreader-gh264-1": "the capture ends before the '!' line",
}
# Telegrams whose CRC verifies although the corpus records none.
UNPADDED_CRC = {"p1-dsmrparser-unpadded-crc"}


def _entries() -> list[dict[str, Any]]:
    if not CORPUS.is_file():
        return []
    with CORPUS.open(encoding="utf-8") as file:
        entries = [json.loads(line) for line in file if line.strip()]
    return [entry for entry in entries if entry["format"] == "p1_ascii"]


ENTRIES = _entries()


@pytest.mark.skipif(not ENTRIES, reason="../shared/han-corpus absent")
@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["id"] for entry in ENTRIES])
def test_corpus_entry(entry: dict[str, Any]) -> None:
    """Every real telegram parses, its CRC is checked and asserted values match."""
    data = entry["text"].encode("latin-1")
    if entry["id"] in UNPARSEABLE:
        with pytest.raises(FrameError):
            parse_p1(data)
        return
    if entry.get("p1_crc_ok") is False:
        with pytest.raises(ChecksumError):
            parse_p1(data)
        return
    telegram = parse_p1(data)
    assert telegram.verified == (
        bool(entry.get("p1_crc_present")) or entry["id"] in UNPADDED_CRC
    )
    assert telegram.readings
    if entry.get("vendor") not in {None, "unknown"}:
        assert telegram.vendor == entry["vendor"]
    for key, spec in (entry.get("expected") or {}).items():
        want = spec["value"]
        if key == "meter_id":
            assert telegram.meter_id == str(want)
            continue
        reading = telegram.readings[key]
        unit = spec.get("unit")
        if unit in _TO_SI:
            unit, factor = _TO_SI[unit]
            want *= factor
        assert reading.unit == unit, key
        assert isinstance(reading.value, (int, float)), key
        assert math.isclose(reading.value, want, rel_tol=1e-6), key


@pytest.mark.skipif(not ENTRIES, reason="../shared/han-corpus absent")
def test_corpus_unparseable_list_is_current() -> None:
    """The entries listed as unparseable exist and have no '!' line."""
    by_id = {entry["id"]: entry for entry in ENTRIES}
    for entry_id in UNPARSEABLE | dict.fromkeys(UNPADDED_CRC, ""):
        assert entry_id in by_id
    for entry_id in UNPARSEABLE:
        assert "\n!" not in by_id[entry_id]["text"]
