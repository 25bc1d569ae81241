"""A million bytes of garbage and damaged frames into a running entry.

``scripts/fuzz`` proves the decoder on its own; this proves the integration
around it: random bytes and mutated meter frames (bits flipped, bytes
inserted and deleted, frames cut and spliced) go through a real
pseudo-terminal into a loaded entry. Afterwards nothing was logged as an
error, the entry still runs, every value a sensor ever showed was one a
meter frame really stated, and the next valid frame is shown exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import logging
from random import Random
import time

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest

from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame

from .meter import next_slot
from .rig import (
    POWER,
    SAME_UNIT,
    Meter,
    StateLog,
    assert_shows,
    entry_for,
    errors_logged,
    received,
    start_watched,
    state,
    telegrams,
)

_LOGGER = logging.getLogger(__name__)
TOTAL = 1_000_000


def meter_frames(seed: int, minutes: int = 30) -> list[SimulatedFrame]:
    """Return an Aidon's List 1 and List 2 pushes of the last ``minutes``."""
    end = datetime.now(UTC).replace(microsecond=0)
    simulator = MeterSimulator(
        "aidon", start=end - timedelta(minutes=minutes), seed=seed
    )
    return [frame for frame in simulator.frames_until(end) if frame.list_type != 3]


def mutations(rng: Random) -> list[Callable[[bytes, bytes], bytes]]:
    """Return the ways a frame gets damaged on the way (the second is another frame)."""

    def flip(data: bytes, _other: bytes) -> bytes:
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] ^= rng.randint(1, 255)
        return bytes(damaged)

    def insert(data: bytes, _other: bytes) -> bytes:
        at = rng.randrange(1, len(data))
        return data[:at] + rng.randbytes(rng.randint(1, 24)) + data[at:]

    def delete(data: bytes, _other: bytes) -> bytes:
        at = rng.randrange(1, len(data) - 1)
        return data[:at] + data[at + rng.randint(1, 24) :]

    def cut(data: bytes, _other: bytes) -> bytes:
        return data[: rng.randrange(1, len(data) - 1)]

    def splice(data: bytes, other: bytes) -> bytes:
        return data[: rng.randrange(1, len(data))] + other[rng.randrange(len(other)) :]

    return [flip, insert, delete, cut, splice]


def stream(rng: Random, frames: list[SimulatedFrame]) -> tuple[bytes, int]:
    """Return a million bytes of noise, damaged and intact frames; and the intact count."""
    damage = mutations(rng)
    parts: list[bytes] = []
    size = 0
    intact = 0
    while size < TOTAL:
        roll = rng.random()
        frame = rng.choice(frames).data
        if roll < 0.25:
            part = rng.randbytes(rng.randint(1, 1024))
        elif roll < 0.4:
            part = frame
            intact += 1
        else:
            part = rng.choice(damage)(frame, rng.choice(frames).data)
        parts.append(part)
        size += len(part)
    return b"".join(parts), intact


async def test_a_million_bytes_of_garbage(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, short_slots: None
) -> None:
    """No error, still loaded, nothing false shown; the next frame is shown exactly."""
    caplog.set_level(logging.INFO)
    await hass.config.async_set_time_zone("Europe/Oslo")
    rng = Random(20261123)
    frames = meter_frames(seed=3)
    data, intact = stream(rng, frames)
    # The frame after the storm comes from another household, so what it
    # shows can only come from it.
    powers = {frame.truth[POWER] for frame in frames}
    after = next(
        frame
        for frame in meter_frames(seed=11, minutes=5)
        if frame.list_type == 2 and frame.truth[POWER] not in powers
    )
    meter = Meter(MeterSimulator("aidon", start=datetime.now(UTC)))
    entry = entry_for(hass, meter.port)
    history = StateLog()
    coordinator, unlisten = await start_watched(hass, entry, history)
    try:
        started = time.monotonic()
        await meter.flood(data)
        await received(coordinator, len(data), timeout=60)
        await hass.async_block_till_done()
        elapsed = time.monotonic() - started

        stats = coordinator.decoder.stats
        assert not errors_logged(caplog)
        assert entry.state is ConfigEntryState.LOADED
        assert coordinator.listener.connected
        assert coordinator.listener.stats.reconnects == 0
        assert stats.checksum_errors > 1000
        # Noise may hide an intact frame (a false start that needs more bytes
        # swallows its head) and a damaged one may heal (a cut before the
        # closing flag, where the next frame's opening flag serves), so the
        # count is near the intact frames, not equal.
        assert 0.9 * intact <= stats.telegrams <= 1.1 * intact
        for quantity in SAME_UNIT:
            stated = {
                frame.truth[quantity] for frame in frames if quantity in frame.truth
            }
            shown = set(history.numbers(hass, str(quantity))) if stated else set()
            assert shown <= stated, quantity

        count = stats.telegrams + 1
        await next_slot()
        meter.write(after.data)
        await telegrams(coordinator, count)
        await hass.async_block_till_done()
        assert_shows(hass, after)
        # The counters are written once per slot of the derived values' cadence.
        assert state(hass, "checksum_errors") == str(stats.checksum_errors)
        assert state(hass, "frames") == str(stats.frames)
        assert not errors_logged(caplog)
        _LOGGER.info(
            "timing: %d bytes (%d intact frames) through Home Assistant in %.2f s; "
            "%d telegrams, %d checksum and %d frame errors, %d bytes discarded",
            len(data),
            intact,
            elapsed,
            stats.telegrams,
            stats.checksum_errors,
            stats.frame_errors,
            stats.discarded_bytes,
        )
    finally:
        unlisten()
        await hass.config_entries.async_unload(entry.entry_id)
        meter.close()
