"""Tests for the probe: listening on a real pseudo-terminal through serialx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
import os
import time

import pytest

from custom_components.han_port import probe as probe_module
from custom_components.han_port.connection import PortSettings, open_port
from custom_components.han_port.han.apdu import Keys
from custom_components.han_port.han.simulator import MeterSimulator
from custom_components.han_port.probe import PortUnavailable, ProbeResult, probe

from .meter import PtyMeter, later

START = datetime(2026, 1, 15, 12, 0, 1, tzinfo=UTC)  # just after a List 2 push
AIDON_ID = "7359990000000017"
KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AUTH = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")


@pytest.fixture
def make_meter() -> Iterator[Callable[..., PtyMeter]]:
    """Return a factory of simulated meters behind pseudo-terminals; all closed after."""
    meters: list[PtyMeter] = []

    def make(vendor: str = "aidon", **kwargs: object) -> PtyMeter:
        meter = PtyMeter(MeterSimulator(vendor, start=START, seed=1, **kwargs))
        meters.append(meter)
        return meter

    yield make
    for meter in meters:
        meter.close()


def list1(meter: PtyMeter) -> bytes:
    """Return the Aidon pushes of the next 9 s: three List 1 (no meter id)."""
    frames = meter.frames(later(START, 9))
    assert [frame.list_type for frame in frames] == [1, 1, 1]
    return b"".join(frame.data for frame in frames)


def list2(meter: PtyMeter) -> bytes:
    """Return the next Aidon List 2 push (it carries the meter id)."""
    frame = next(f for f in meter.frames(later(START, 30)) if f.list_type == 2)
    return frame.data


def garble(data: bytes) -> bytes:
    """Flip one payload byte so the frame fails its checksum, as wrong parity does."""
    return data[:20] + bytes([data[20] ^ 0xFF]) + data[21:]


def push_on_open(
    monkeypatch: pytest.MonkeyPatch, meter: PtyMeter, pushes: list[bytes]
) -> list[PortSettings]:
    """Open the port for real and write the next of ``pushes`` once it is open.

    serialx flushes the input queue when it opens a port, so bytes written to
    the pseudo-terminal before that are lost, as on a real UART. Returns the
    settings the probe opened the port with, in order.
    """
    opened: list[PortSettings] = []

    async def open_and_push(
        settings: PortSettings,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[Exception | None], None],
    ) -> asyncio.BaseTransport:
        transport = await open_port(settings, on_data, on_lost)
        opened.append(settings)
        if pushes and (data := pushes.pop(0)):
            meter.write(data)
        return transport

    monkeypatch.setattr(probe_module, "open_port", open_and_push)
    return opened


async def test_bytes_written_before_opening_are_flushed(
    make_meter: Callable[..., PtyMeter],
) -> None:
    """Pushes sent before the port is open are discarded: nothing is heard."""
    meter = make_meter()
    meter.write(list2(meter))

    result = await probe(meter.port, ((2400, "E"),), listen=0.2, identify=0.4)

    assert result == ProbeResult()


async def test_identifies_meter_on_first_candidate(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """A List 2 ends listening at once: settings, telegram and meter id are known."""
    meter = make_meter()
    opened = push_on_open(monkeypatch, meter, [list2(meter)])

    began = time.monotonic()
    result = await probe(meter.port, listen=5, identify=10)

    assert time.monotonic() - began < 2
    assert opened == [PortSettings(meter.port, 2400, "E")]
    assert result.settings == PortSettings(meter.port, 2400, "E")
    assert result.frames == 1
    assert result.checksum_errors == 0
    assert result.identified is not None
    assert result.identified.meter_id == AIDON_ID
    assert result.describe() == {
        "vendor": "aidon",
        "model": "6540",
        "meter_id": AIDON_ID,
        "list_version": "AIDON_V0001",
        "lists": "2",
        "format": "HDLC",
        "line": "2400 8E1",
    }


async def test_garbled_candidate_is_passed_over(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """Checksum errors only (wrong parity) move on to the next candidate."""
    meter = make_meter()
    frame = list2(meter)
    opened = push_on_open(monkeypatch, meter, [garble(frame) * 2, frame])

    result = await probe(meter.port, listen=0.3, identify=0.6)

    assert opened == [
        PortSettings(meter.port, 2400, "E"),
        PortSettings(meter.port, 2400, "N"),
    ]
    assert result.settings == PortSettings(meter.port, 2400, "N")
    assert result.checksum_errors == 0
    assert result.identified is not None


async def test_nothing_valid_keeps_candidate_with_most_checksum_errors(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """With no valid frame anywhere, the most garbled candidate's result is returned."""
    meter = make_meter()
    bad = garble(list2(meter))
    opened = push_on_open(monkeypatch, meter, [b"", bad * 3, bad])

    result = await probe(meter.port, listen=0.2, identify=0.4)

    assert len(opened) == 3
    assert result.settings is None
    assert result.frames == 0
    assert result.checksum_errors == 3
    assert result.identified is None
    assert result.describe() == {"lists": ""}


async def test_connection_lost_ends_listening(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """A port that goes away stops the wait early; what was heard is kept."""
    meter = make_meter()
    push_on_open(monkeypatch, meter, [list1(meter)])

    async def pull_the_plug() -> None:
        await asyncio.sleep(0.3)
        os.close(meter.master)
        meter.master = -1  # PtyMeter.close must not close a reused descriptor

    unplug = asyncio.create_task(pull_the_plug())
    began = time.monotonic()
    result = await probe(meter.port, ((2400, "E"),), listen=10, identify=20)
    await unplug

    assert time.monotonic() - began < 5
    assert result.settings == PortSettings(meter.port, 2400, "E")
    assert result.frames == 3
    assert result.identified is None


async def test_valid_frames_without_id_extend_listening(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """Valid frames but no meter id: listening goes on to the identify time."""
    meter = make_meter()
    push_on_open(monkeypatch, meter, [list1(meter)])

    began = time.monotonic()
    result = await probe(meter.port, listen=0.2, identify=0.8)
    elapsed = time.monotonic() - began

    assert 0.8 <= elapsed < 3
    assert result.settings == PortSettings(meter.port, 2400, "E")
    assert result.frames == 3
    assert result.identified is None
    assert result.describe()["lists"] == "1"


async def test_meter_id_during_extension_ends_listening(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """A List 2 arriving after the listen time, within identify, is caught at once."""
    meter = make_meter()
    push_on_open(monkeypatch, meter, [list1(meter)])
    frame = list2(meter)

    async def push_list2() -> None:
        await asyncio.sleep(0.5)
        meter.write(frame)

    pusher = asyncio.create_task(push_list2())
    began = time.monotonic()
    result = await probe(meter.port, ((2400, "E"),), listen=0.2, identify=10)
    await pusher

    assert 0.5 <= time.monotonic() - began < 5
    assert result.frames == 4
    assert result.identified is not None
    assert result.identified.meter_id == AIDON_ID


async def test_silence_gives_up_after_listen_time(
    make_meter: Callable[..., PtyMeter],
) -> None:
    """No frame at all: each candidate is given up after the listen time, not identify."""
    meter = make_meter()

    began = time.monotonic()
    result = await probe(meter.port, listen=0.2, identify=5)

    assert 0.6 <= time.monotonic() - began < 3
    assert result == ProbeResult()


async def test_reads_timing_constants_at_call_time(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """LISTEN_SECONDS and IDENTIFY_SECONDS are used when no times are passed."""
    meter = make_meter()
    push_on_open(monkeypatch, meter, [list1(meter)])
    monkeypatch.setattr(probe_module, "LISTEN_SECONDS", 0.1)
    monkeypatch.setattr(probe_module, "IDENTIFY_SECONDS", 0.4)

    began = time.monotonic()
    result = await probe(meter.port, ((2400, "E"),))

    assert 0.4 <= time.monotonic() - began < 3
    assert result.frames == 3


async def test_encrypted_meter_needs_key(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """An encrypted frame without keys stops listening with needs_key."""
    meter = make_meter(encryption_key=KEY, authentication_key=AUTH)
    push_on_open(monkeypatch, meter, [list1(meter)])

    result = await probe(meter.port, listen=5, identify=10)

    assert result.settings == PortSettings(meter.port, 2400, "E")
    assert result.needs_key
    assert not result.wrong_key
    assert result.telegrams == []


async def test_encrypted_meter_wrong_key(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """A key that does not decrypt stops listening with wrong_key."""
    meter = make_meter(encryption_key=KEY, authentication_key=AUTH)
    push_on_open(monkeypatch, meter, [list1(meter)])

    result = await probe(meter.port, keys=Keys(AUTH, AUTH), listen=5, identify=10)

    assert result.settings == PortSettings(meter.port, 2400, "E")
    assert result.wrong_key
    assert not result.needs_key


async def test_encrypted_meter_right_key(
    monkeypatch: pytest.MonkeyPatch, make_meter: Callable[..., PtyMeter]
) -> None:
    """The right keys decrypt the frames and identify the meter."""
    meter = make_meter(encryption_key=KEY, authentication_key=AUTH)
    push_on_open(monkeypatch, meter, [list2(meter)])

    result = await probe(meter.port, keys=Keys(KEY, AUTH), listen=5, identify=10)

    assert not result.needs_key
    assert not result.wrong_key
    assert result.identified is not None
    assert result.identified.meter_id == AIDON_ID
    assert result.identified.encrypted


async def test_missing_port_is_unavailable() -> None:
    """A port that cannot be opened raises PortUnavailable naming the cause."""
    with pytest.raises(PortUnavailable, match=r"^FileNotFoundError: "):
        await probe("/dev/nonexistent-han", listen=0.1, identify=0.2)
