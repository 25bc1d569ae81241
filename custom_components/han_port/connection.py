"""One HAN port kept open: serialx transport, reconnect with back-off, data watchdog.

No Home Assistant import: the listener is plain asyncio around serialx, so the
same code serves the integration, the config flow's probe and the CLI. A meter
pushes on its own; the only sign of a dead USB adapter, a TCP bridge that
stays connected but forwards nothing, or a cable pulled at the meter is that
valid frames stop. The watchdog therefore watches decoded telegrams, not bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import logging
from statistics import median
import time
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import serialx

from .han.model import FrameFormat, Telegram
from .han.stream import StreamDecoder

_LOGGER = logging.getLogger(__name__)

# What opening a port can raise: a missing device (FileNotFoundError), a port
# held by another program (EBUSY), refused or timed-out TCP, bad settings and
# malformed URLs.
OPEN_ERRORS: Final = (OSError, TimeoutError, serialx.SerialException, ValueError)

WATCHDOG_SECONDS: Final = 30.0
BACKOFF_MIN_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 60.0
OPEN_TIMEOUT_SECONDS: Final = 15.0
RELEASE_SECONDS: Final = 5.0

_CLOSED: Final = "closed"
_SECRET_QUERY_KEYS: Final = frozenset({"key", "password", "noise_psk", "psk"})


def redact_url(url: str) -> str:
    """Hide secrets an ESPHome or network URL may carry (query keys, password)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:**REDACTED**@{host}" if ":" in userinfo else netloc
    query = urlencode(
        [
            (key, "**REDACTED**" if key.lower() in _SECRET_QUERY_KEYS else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@dataclass(frozen=True, slots=True)
class PortSettings:
    """Where the meter is and how its UART is set up (8 data bits, 1 stop bit)."""

    url: str
    baudrate: int = 2400
    parity: str = "E"

    @property
    def line(self) -> str:
        """Return the settings the way serial tools write them, e.g. ``2400 8E1``."""
        return f"{self.baudrate} 8{self.parity}1"


class _HanProtocol(asyncio.Protocol):
    """Hands received bytes and the end of the connection to the listener."""

    def __init__(
        self,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[Exception | None], None],
    ) -> None:
        self._on_data = on_data
        self._on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        """Pass bytes on as they come; the decoder copes with any chunking."""
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Report the end of the connection, whoever ended it."""
        self._on_lost(exc)


async def open_port(
    settings: PortSettings,
    on_data: Callable[[bytes], None],
    on_lost: Callable[[Exception | None], None],
    *,
    timeout: float = OPEN_TIMEOUT_SECONDS,
) -> asyncio.BaseTransport:
    """Open the port; raises one of ``OPEN_ERRORS`` when it cannot be opened."""
    async with asyncio.timeout(timeout):
        transport, _protocol = await serialx.create_serial_connection(
            asyncio.get_running_loop(),
            lambda: _HanProtocol(on_data, on_lost),
            settings.url,
            settings.baudrate,
            parity=serialx.Parity(settings.parity),
        )
    return transport


@dataclass(slots=True)
class ConnectionStats:
    """Counters for diagnostics and the diagnostic sensors."""

    connects: int = 0
    reconnects: int = 0
    watchdog_timeouts: int = 0
    bytes_received: int = 0
    last_error: str | None = None


class HanListener:
    """Keeps a port open and decoded for as long as it runs.

    ``on_telegram`` gets every decoded telegram; ``on_status`` gets ``True``
    when valid data flows again and ``False`` with a reason when the connection
    was lost, could not be opened or fell silent. Both run in the event loop.
    """

    def __init__(
        self,
        settings: PortSettings,
        decoder: StreamDecoder,
        *,
        on_telegram: Callable[[Telegram], None],
        on_status: Callable[[bool, str | None], None],
        watchdog: float | None = None,
        backoff: tuple[float, float] | None = None,
    ) -> None:
        """Prepare the listener; nothing is opened until ``async_open``."""
        self.settings = settings
        self.decoder = decoder
        self.stats = ConnectionStats()
        self._on_telegram = on_telegram
        self._on_status = on_status
        self._base_watchdog = WATCHDOG_SECONDS if watchdog is None else watchdog
        self._backoff_min, self._backoff_max = backoff or (
            BACKOFF_MIN_SECONDS,
            BACKOFF_MAX_SECONDS,
        )
        self._delay = self._backoff_min
        self._transport: asyncio.BaseTransport | None = None
        self._lost: asyncio.Future[str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._valid_at = 0.0
        self._loop_time: Callable[[], float] = time.monotonic
        self._flowing = False
        self._closing = False
        self._generation = 0
        self._released: asyncio.Event | None = None
        self._last_list1: float | None = None
        self._list1_gaps: deque[float] = deque(maxlen=9)

    @property
    def connected(self) -> bool:
        """Return whether the port is open right now."""
        return self._transport is not None

    @property
    def flowing(self) -> bool:
        """Return whether valid telegrams arrived since the port was last opened."""
        return self._flowing

    @property
    def watchdog_timeout(self) -> float:
        """Return the silence after which the connection is reopened.

        Never shorter than three List 1 intervals, so a meter that pushes every
        10 s (Kamstrup) or 2 s (Kaifa) gets the same margin of missed pushes.
        """
        if not self._list1_gaps:
            return self._base_watchdog
        return max(self._base_watchdog, 3 * median(self._list1_gaps))

    async def async_open(self) -> None:
        """Open the port once; raises one of ``OPEN_ERRORS`` when that fails."""
        self._closing = False
        await self._open()

    async def async_run(self) -> None:
        """Read until ``async_close``; reopen with back-off whenever data stops."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            if self._transport is None:
                try:
                    await self._open()
                except Exception as err:  # noqa: BLE001 - transport plugins raise their own types; the loop must survive them
                    self.stats.last_error = f"{type(err).__name__}: {err}"
                    self._report_down(f"cannot open the port ({err})")
                    await self._sleep_backoff()
                    continue
            if self._lost is None:
                self._lost = loop.create_future()
            reason = await self._lost
            self._lost = None
            self._close_transport()
            if reason is _CLOSED:
                break
            self.stats.reconnects += 1
            self._report_down(reason)
            await self._sleep_backoff()

    async def async_close(self) -> None:
        """Stop reading and close the port."""
        self._closing = True
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(_CLOSED)
        self._close_transport()
        await self._wait_released()

    async def _wait_released(self) -> None:
        """Wait until a closed port is really closed.

        serialx closes the descriptor, and drops its exclusive lock, in the
        background; reopening at once (a reload, a reconnect) would find the
        port "already locked" until ``connection_lost`` has run.
        """
        released = self._released
        if released is not None and self._transport is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RELEASE_SECONDS):
                    await released.wait()

    async def _open(self) -> None:
        self.decoder.reset()
        self._flowing = False
        await self._wait_released()
        generation = self._generation
        released = asyncio.Event()

        def lost(exc: Exception | None) -> None:
            released.set()
            if generation == self._generation:
                self._connection_lost(exc)

        transport = await open_port(self.settings, self._data, lost)
        if self._closing:
            transport.close()
            return
        self._transport = transport
        self._loop_time = asyncio.get_running_loop().time
        self._released = released
        self.stats.connects += 1
        self._arm_watchdog()

    async def _sleep_backoff(self) -> None:
        delay = self._delay
        self._delay = min(self._delay * 2, self._backoff_max)
        await asyncio.sleep(delay)

    def _close_transport(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        transport, self._transport = self._transport, None
        if transport is not None:
            self._generation += 1  # its late connection_lost is not news
            transport.close()

    def _arm_watchdog(self) -> None:
        """Start the watchdog from now: at the port's opening."""
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._valid_at = loop.time()
        self._timer = loop.call_later(self.watchdog_timeout, self._watchdog_fired)

    def _watchdog_fired(self) -> None:
        """Lose the connection, unless valid data came since the timer was set.

        Telegrams only note their time; moving the timer with each would
        cost a timer handle per telegram.
        """
        loop = asyncio.get_running_loop()
        timeout = self.watchdog_timeout
        if (left := self._valid_at + timeout - loop.time()) > 0:
            self._timer = loop.call_later(left, self._watchdog_fired)
            return
        self._timer = None
        self.stats.watchdog_timeouts += 1
        self._lose(f"no valid data for {timeout:.0f} s")

    def _connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
        self._lose(
            f"connection lost ({exc})" if exc else "connection closed by the other end"
        )

    def _lose(self, reason: str) -> None:
        if self._lost is None:
            # Lost between ``async_open`` and ``async_run``: let the loop see it.
            self._lost = asyncio.get_running_loop().create_future()
        if not self._lost.done():
            self._lost.set_result(reason)

    def _report_down(self, reason: str) -> None:
        self._flowing = False
        self._on_status(False, reason)

    def _data(self, data: bytes) -> None:
        self.stats.bytes_received += len(data)
        telegrams = self.decoder.feed(data)
        if not telegrams:
            return
        if not self._flowing:
            self._flowing = True
            self._delay = self._backoff_min
            self._on_status(True, None)
        now = self._loop_time()
        for telegram in telegrams:
            if telegram.list_type == 1 or telegram.format is FrameFormat.P1:
                # The meter's cadence, learnt from the gaps between pushes.
                if self._last_list1 is not None:
                    self._list1_gaps.append(now - self._last_list1)
                self._last_list1 = now
            self._on_telegram(telegram)
        self._valid_at = now
