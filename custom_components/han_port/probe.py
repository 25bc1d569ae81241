"""Finding out what is on a port by listening: line settings, frame format, meter.

No Home Assistant import. A HAN port only talks when the meter pushes, so the
probe opens the port with each candidate line setting in turn and listens.
Checksum-valid frames prove the setting right (wrong parity garbles bytes and
breaks the checksums); then it waits for a telegram that names the meter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass, field
import time
from typing import Final

from .connection import PortSettings, open_port
from .han.apdu import Keys
from .han.errors import DecryptionError, MissingKeyError
from .han.model import Telegram
from .han.stream import StreamDecoder

# (baud rate, parity): Norwegian and Austrian meters 2400 8E1 (Kamstrup 8N1),
# Swedish, Dutch and Belgian P1 ports 115200 8N1.
AUTO_CANDIDATES: Final = ((2400, "E"), (2400, "N"), (115200, "N"))
# List 1 comes every 2-10 s, so a silent candidate is given up after this long.
LISTEN_SECONDS: Final = 12.0
# List 2, which carries the meter id, comes every 10 s (Kamstrup: with List 1).
IDENTIFY_SECONDS: Final = 25.0
# Bound on waiting for a closed port to be released (see ``_listen``).
CLOSE_SECONDS: Final = 5.0


class PortUnavailable(Exception):
    """The port could not be opened (missing, busy, refused, bad URL)."""


@dataclass(slots=True)
class ProbeResult:
    """What listening on a port found."""

    settings: PortSettings | None = None
    telegrams: list[Telegram] = field(default_factory=list)
    frames: int = 0
    checksum_errors: int = 0
    needs_key: bool = False
    wrong_key: bool = False

    @property
    def identified(self) -> Telegram | None:
        """Return the first telegram that names the meter."""
        return next((t for t in self.telegrams if t.meter_id), None)

    def describe(self) -> dict[str, str]:
        """Return what was found, for the confirmation step."""
        merged: dict[str, str] = {}
        for telegram in self.telegrams:
            for key, value in (
                ("vendor", telegram.vendor),
                ("model", telegram.model),
                ("meter_id", telegram.meter_id),
                ("list_version", telegram.list_version),
            ):
                if value and key not in merged:
                    merged[key] = value
        lists = sorted({t.list_type for t in self.telegrams if t.list_type})
        merged["lists"] = ", ".join(str(kind) for kind in lists)
        if self.telegrams:
            merged["format"] = str(self.telegrams[0].format).upper()
        if self.settings is not None:
            merged["line"] = self.settings.line
        return merged


async def probe(
    url: str,
    candidates: Sequence[tuple[int, str]] = AUTO_CANDIDATES,
    *,
    keys: Keys | None = None,
    listen: float | None = None,
    identify: float | None = None,
) -> ProbeResult:
    """Listen on ``url`` with each candidate until a meter identifies itself.

    Raises ``PortUnavailable`` when the port cannot be opened at all. Returns a
    result without ``settings`` when nothing valid was heard.
    """
    listen = LISTEN_SECONDS if listen is None else listen
    identify = IDENTIFY_SECONDS if identify is None else identify
    best = ProbeResult()
    for baudrate, parity in candidates:
        settings = PortSettings(url, baudrate, parity)
        result = await _listen(settings, keys, listen, identify)
        if result.settings is not None:
            return result
        if result.checksum_errors > best.checksum_errors:
            best = result
    return best


async def _listen(
    settings: PortSettings, keys: Keys | None, listen: float, identify: float
) -> ProbeResult:
    decoder = StreamDecoder(keys)
    result = ProbeResult()
    done = asyncio.Event()
    lost = asyncio.Event()

    def received(data: bytes) -> None:
        result.telegrams.extend(decoder.feed(data))
        error = decoder.last_error
        if isinstance(error, MissingKeyError):
            result.needs_key = True
        elif isinstance(error, DecryptionError):
            result.wrong_key = True
        if result.identified is not None or result.needs_key or result.wrong_key:
            done.set()

    def connection_lost(_exc: Exception | None) -> None:
        lost.set()

    try:
        transport = await open_port(settings, received, connection_lost)
    except Exception as err:  # noqa: BLE001 - every way of failing to open means the same to the user
        raise PortUnavailable(f"{type(err).__name__}: {err}") from err
    began = time.monotonic()
    try:
        deadline = listen
        while not done.is_set() and not lost.is_set():
            remaining = deadline - (time.monotonic() - began)
            if remaining <= 0:
                if decoder.stats.frames and deadline < identify:
                    deadline = identify  # the right setting: wait for the meter id
                    continue
                break
            waiter = asyncio.ensure_future(done.wait())
            loser = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait(
                    (waiter, loser),
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()
                loser.cancel()
    finally:
        transport.close()
        # serialx closes the descriptor, and drops its exclusive lock, in the
        # background: reopening at once (the next candidate, or the entry being
        # set up) would fail with "already locked" until connection_lost.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_SECONDS):
                await lost.wait()
    result.frames = decoder.stats.frames
    result.checksum_errors = decoder.stats.checksum_errors
    if decoder.stats.frames:
        result.settings = settings
    return result
