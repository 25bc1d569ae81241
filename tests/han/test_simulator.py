"""Tests of the meter simulator: real-meter shapes, cadence, clocks across DST and exact energy."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from custom_components.han_port.han import apdu, axdr, hdlc, mbus, profiles
from custom_components.han_port.han.model import FrameFormat, Quantity
from custom_components.han_port.han.simulator import (
    SUPPORTED_VENDORS,
    Household,
    MeterSimulator,
    SimulatedFrame,
)

from .corpus import CORPUS, load

START = datetime(2026, 1, 5, 11, 59, 50, tzinfo=UTC)
KEY = bytes(range(16))
AUTH = bytes(range(16, 32))

needs_corpus = pytest.mark.skipif(
    not CORPUS.exists(), reason="shared HAN corpus not present"
)


def _signature(wire: bytes) -> tuple[Any, ...]:
    """Describe a frame's shape: link bytes, LLC, invoke id, header style, types, OBIS, scalers."""
    frame = hdlc.parse_hdlc(wire)
    data = frame.information[3:]
    marker = data[5]
    pos = {0x00: 6, 0x09: 19, 0x0C: 18}[marker]
    shape: list[Any] = []

    def walk(pos: int) -> int:
        tag = data[pos]
        if tag in (0x01, 0x02):
            count, pos = axdr.read_length(data, pos + 1)
            if (
                tag == 0x02
                and count == 2
                and data[pos] == 0x0F
                and data[pos + 2] == 0x16
            ):
                shape.append(("scaler/unit", data[pos + 1], data[pos + 3]))
                return pos + 4
            shape.append((tag, count))
            for _ in range(count):
                pos = walk(pos)
            return pos
        value, end = axdr.decode_value(data, pos)
        if tag == 0x09 and isinstance(value, bytes) and len(value) == 6:
            shape.append(("obis", value))
        elif isinstance(value, (str, bytes)) and value in {
            "AIDON_V0001",
            "Kamstrup_V0001",
            b"KFM_001",
        }:
            shape.append(("list id", value))
        else:
            shape.append((tag, len(value) if isinstance(value, bytes) else None))
        return end

    assert walk(pos) == len(data)
    return (
        frame.destination,
        frame.source,
        frame.control,
        frame.information[:3],
        data[:6],
        *shape,
    )


def _first(sim: MeterSimulator, list_type: int, end: datetime) -> SimulatedFrame:
    return next(
        frame for frame in sim.frames_until(end) if frame.list_type == list_type
    )


CASES = [
    ("aidon", 3, "TN", 1, "aidon-hassams-aidon-mini"),
    ("aidon", 3, "TN", 2, "aidon-hassams-aidon-short"),
    ("aidon", 3, "IT", 2, "aidon-issue-amshan-homeassistant-47-1"),
    ("aidon", 1, "IT", 2, "aidon-spec-aidon-han-interface-description-v11a-id--ex1"),
    ("aidon", 3, "TN", 3, "aidon-hassams-aidon-hourly"),
    ("kaifa", 3, "IT", 1, "kaifa-hassams-kaifa-ma304h3e-short"),
    ("kaifa", 3, "IT", 2, "kaifa-hassams-kaifa-ma304h3e-long"),
    ("kaifa", 3, "TN", 2, "kaifa-hassams-kaifa-ma304h4-long"),
    ("kaifa", 1, "IT", 2, "kaifa-hassams-kaifa-1ph-short"),
    ("kaifa", 3, "IT", 3, "kaifa-hassams-kaifa-hourly"),
    ("kaifa", 1, "IT", 3, "kaifa-hassams-kaifa-1ph-hourly"),
    ("kamstrup", 3, "TN", 2, "kamstrup-hassams-kamstrup"),
    ("kamstrup", 1, "IT", 2, "kamstrup-amsreader-frames-kamstrup-1p-1"),
    ("kamstrup", 3, "TN", 3, "kamstrup-hassams-kamstrup-hourly"),
    ("kamstrup", 1, "IT", 3, "kamstrup-amsreader-frames-kamstrup-1p-3"),
]


def _truth_matches(frame: SimulatedFrame) -> None:
    """Check that the decoder reads exactly the truth from the simulated bytes."""
    notification = apdu.decode_apdu(hdlc.parse_hdlc(frame.data).information)
    telegram = profiles.build_telegram(notification, FrameFormat.HDLC)
    readings = telegram.by_quantity()
    for quantity, want in frame.truth.items():
        if quantity is Quantity.LIST_VERSION:
            assert telegram.list_version == want
            continue
        expected = pytest.approx(want) if isinstance(want, float) else want
        assert readings[quantity].value == expected, quantity
    assert telegram.push_time == frame.push_time


@needs_corpus
@pytest.mark.parametrize(
    ("vendor", "phases", "network", "list_type", "entry_id"), CASES
)
def test_shape_matches_real_meter(
    vendor: str, phases: int, network: str, list_type: int, entry_id: str
) -> None:
    """Addresses, LLC, header, list id, OBIS order, DLMS types and scalers are the real meter's."""
    sim = MeterSimulator(vendor, start=START, phases=phases, network=network, seed=3)  # type: ignore[arg-type]
    frame = _first(sim, list_type, START + timedelta(minutes=1))
    real = bytes.fromhex(
        next(e for e in load("frames.jsonl") if e["id"] == entry_id)["hex"]
    )
    assert _signature(frame.data) == _signature(real)
    assert len(frame.data) == len(real)
    _truth_matches(frame)


@pytest.mark.parametrize(
    ("vendor", "counts", "interval"),
    [
        ("aidon", {1: 1080, 2: 359, 3: 1}, 2.5),
        ("kaifa", {1: 1440, 2: 359, 3: 1}, 2.0),
        ("kamstrup", {2: 360, 3: 1}, 10.0),
    ],
)
def test_cadence_over_an_hour(
    vendor: str, counts: dict[int, int], interval: float
) -> None:
    """List 1/2 intervals and one List 3 shortly after the full hour."""
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    sim = MeterSimulator(vendor, start=start, seed=1)
    frames = list(sim.frames_until(start + timedelta(hours=1)))
    assert Counter(frame.list_type for frame in frames) == counts
    for list_type, shortest in ((min(counts), interval), (2, 10.0)):
        times = [frame.time for frame in frames if frame.list_type == list_type]
        gaps = {(b - a).total_seconds() for a, b in pairwise(times)}
        assert min(gaps) == shortest
    (hourly,) = (frame for frame in frames if frame.list_type == 3)
    assert hourly.time == start + timedelta(seconds=5 if vendor == "kamstrup" else 10)
    for frame in frames:
        assert hdlc.parse_hdlc(frame.data).information[:3] == b"\xe6\xe7\x00"


def _list3_clocks(
    vendor: str, start: datetime, *, strict: bool
) -> list[tuple[str, bytes]]:
    """Return (stated clock, weekday + deviation + status bytes) of the List 3 of three hours."""
    result = []
    for hour in range(3):
        begin = start + timedelta(hours=hour)
        sim = MeterSimulator(vendor, start=begin, seed=2, strict_clock=strict)
        frame = _first(sim, 3, begin + timedelta(seconds=11))
        clock = frame.truth[Quantity.METER_CLOCK]
        assert isinstance(clock, datetime)
        body = apdu.decode_apdu(hdlc.parse_hdlc(frame.data).information).body[0]
        raw = next(
            v for v in axdr_leaves(body) if isinstance(v, bytes) and len(v) == 12
        )
        result.append((clock.isoformat(), raw[4:5] + raw[9:]))
    return result


def axdr_leaves(value: axdr.Value) -> list[axdr.Value]:
    """Flatten an A-XDR tree."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in axdr_leaves(item)]
    return [value]


def test_list3_clock_across_dst_strict() -> None:
    """DLMS clocks: local hh:00 with deviation -60/-120 and the DST bit, both DST changes."""
    spring = _list3_clocks(
        "aidon", datetime(2026, 3, 29, 0, 0, tzinfo=UTC), strict=True
    )
    assert [c for c, _ in spring] == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    assert [raw[1:].hex() for _, raw in spring] == ["ffc400", "ff8880", "ff8880"]
    autumn = _list3_clocks(
        "kamstrup", datetime(2026, 10, 25, 0, 0, tzinfo=UTC), strict=True
    )
    assert [c for c, _ in autumn] == [
        "2026-10-25T02:00:05+02:00",
        "2026-10-25T02:00:05+01:00",
        "2026-10-25T03:00:05+01:00",
    ]


def test_list3_clock_vendor_conventions() -> None:
    """By default each vendor writes its clock as the real meters do."""
    aidon = _list3_clocks(
        "aidon", datetime(2026, 10, 25, 0, 0, tzinfo=UTC), strict=False
    )
    # Aidon: local wall clock, deviation 0, no DST bit, Sunday written as 0.
    assert [c for c, _ in aidon] == [
        "2026-10-25T02:00:00+00:00",
        "2026-10-25T02:00:00+00:00",
        "2026-10-25T03:00:00+00:00",
    ]
    assert {raw.hex() for _, raw in aidon} == {"00000000"}
    kamstrup = _list3_clocks(
        "kamstrup", datetime(2026, 10, 25, 0, 0, tzinfo=UTC), strict=False
    )
    # Kamstrup: deviation unspecified, DST bit set in summer time.
    assert [raw.hex() for _, raw in kamstrup] == ["07800080", "07800000", "07800000"]
    assert kamstrup[0][0] == "2026-10-25T02:00:05"
    kaifa = _list3_clocks("kaifa", datetime(2026, 7, 1, 0, 0, tzinfo=UTC), strict=False)
    assert kaifa[0] == ("2026-07-01T02:00:10", bytes.fromhex("03800000"))


def test_energy_integrates_power_exactly() -> None:
    """Registers are the truncated exact integral of the second-by-second power."""
    start = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    sim = MeterSimulator("kaifa", start=start, seed=7, solar_peak_w=6000)
    frames = list(sim.frames_until(start + timedelta(hours=1, seconds=11)))
    hourly = [frame for frame in frames if frame.list_type == 3]
    assert len(hourly) == 2
    first_ms, last_ms = (int(frame.time.timestamp() * 1000) for frame in hourly)
    twin = Household(start=start, seed=7, solar_peak_w=6000)
    twin.advance_to(first_ms)
    imported = exported = 0
    for second_ms in range(first_ms, last_ms, 1000):
        imported += max(twin.sample.active, 0) * 1000
        exported += max(-twin.sample.active, 0) * 1000
        twin.advance_to(second_ms + 1000)
    assert twin.time_ms == last_ms
    for quantity, counted in (
        (Quantity.ACTIVE_ENERGY_IMPORT, imported),
        (Quantity.ACTIVE_ENERGY_EXPORT, exported),
    ):
        delta = hourly[1].energy[quantity] - hourly[0].energy[quantity]
        assert delta * 3_600_000 == counted
    for frame in hourly:
        for quantity, exact in frame.energy.items():
            assert frame.truth[quantity] == int(exact)  # Kaifa registers count whole Wh
    assert exported > 0  # midsummer noon with solar exports
    for frame in frames:
        assert frame.truth[Quantity.ACTIVE_POWER_IMPORT] >= 0  # type: ignore[operator]
        if frame.list_type > 1:
            for phase in ("voltage_l1", "voltage_l3"):
                assert 222 <= frame.truth[Quantity(phase)] <= 238  # type: ignore[operator]


def test_register_resolution_and_truth_decode() -> None:
    """Aidon and Kamstrup registers step in 10 Wh; every list decodes to its truth."""
    start = datetime(2026, 1, 5, 12, 59, 0, tzinfo=UTC)
    for vendor in SUPPORTED_VENDORS:
        sim = MeterSimulator(vendor, start=start, seed=11, network="TN")
        for frame in sim.frames_until(start + timedelta(minutes=1, seconds=15)):
            _truth_matches(frame)
            if frame.list_type == 3 and vendor != "kaifa":
                register = frame.truth[Quantity.ACTIVE_ENERGY_IMPORT]
                assert (
                    register
                    == int(frame.energy[Quantity.ACTIVE_ENERGY_IMPORT]) // 10 * 10
                )


def test_deterministic_and_resumable() -> None:
    """The same seed gives the same bytes, however the iteration is split."""
    end = START + timedelta(seconds=40)
    whole = [
        f.data for f in MeterSimulator("aidon", start=START, seed=5).frames_until(end)
    ]
    split_sim = MeterSimulator("aidon", start=START, seed=5)
    split = [f.data for f in split_sim.frames_until(START + timedelta(seconds=20))]
    split += [f.data for f in split_sim.frames_until(end)]
    assert whole == split
    other = [
        f.data for f in MeterSimulator("aidon", start=START, seed=6).frames_until(end)
    ]
    assert other != whole


@pytest.mark.parametrize("auth", [None, AUTH])
def test_encrypted_and_mbus_variants(auth: bytes | None) -> None:
    """Encrypted pushes decrypt to the plain simulator's APDU; M-Bus segments reassemble."""
    end = START + timedelta(seconds=15)
    plain = list(MeterSimulator("kaifa", start=START, seed=4).frames_until(end))
    secret = MeterSimulator(
        "kaifa",
        start=START,
        seed=4,
        encryption_key=KEY,
        authentication_key=auth,
        framing="mbus",
    )
    for clear, ciphered in zip(plain, secret.frames_until(end), strict=True):
        segments = [mbus.parse_mbus(part) for part in ciphered.frames]
        assert segments[-1].final and b"".join(ciphered.frames) == ciphered.data
        payload = b"".join(segment.payload for segment in segments)
        notification = apdu.decode_apdu(payload, apdu.Keys(KEY, auth))
        assert notification.plaintext == hdlc.parse_hdlc(clear.data).information[3:]
        assert notification.system_title == secret.system_title
        assert ciphered.truth == clear.truth


def test_rejects_bad_arguments() -> None:
    """Unknown vendors, naive start times and two-phase meters are refused."""
    with pytest.raises(ValueError, match="unsupported vendor"):
        MeterSimulator("landis", start=START)
    with pytest.raises(ValueError, match="aware"):
        MeterSimulator("aidon", start=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="phases"):
        Household(start=START, phases=2)
