"""The listener through real pseudo-terminals and loopback TCP.

Nothing here is mocked: serialx opens a real pty (or a TCP socket on
127.0.0.1), the simulated meter writes real frames, and the timings measured
are those of the event loop. Measured timings are logged at INFO with the
prefix "timing:" (``pytest -rP tests/test_connection.py | grep timing:``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import itertools
import logging
from pathlib import Path
import termios
import time

import pytest

from custom_components.han_port.connection import (
    OPEN_ERRORS,
    HanListener,
    PortSettings,
    open_port,
    redact_url,
)
from custom_components.han_port.han.model import Quantity, Telegram
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame
from custom_components.han_port.han.stream import StreamDecoder

from .meter import PtyMeter, wait_for

_LOGGER = logging.getLogger(__name__)
WATCHDOG = 0.3
BACKOFF = (0.05, 0.2)


class LineMeter(PtyMeter):
    """A pty meter whose line settings can be put back as a new device has them.

    With the glibc this Python runs on (2.43), serialx cannot configure a tty
    that it configured before (tcsetattr fails with EINVAL); a USB adapter
    plugged in again starts from its defaults, which ``reset_line`` restores.
    """

    def __init__(self, simulator: MeterSimulator) -> None:
        """Open the pty and remember its pristine settings."""
        super().__init__(simulator)
        self.fresh = termios.tcgetattr(self.slave)

    def reset_line(self) -> None:
        """Restore the settings the pty had before anything opened it."""
        termios.tcsetattr(self.slave, termios.TCSANOW, self.fresh)


@dataclass
class Recorder:
    """What a listener reported, with monotonic timestamps."""

    start: float = field(default_factory=time.monotonic)
    telegrams: list[Telegram] = field(default_factory=list)
    statuses: list[tuple[float, bool, str | None]] = field(default_factory=list)

    def telegram(self, telegram: Telegram) -> None:
        """Record a telegram."""
        self.telegrams.append(telegram)

    def status(self, available: bool, reason: str | None) -> None:
        """Record a status change."""
        self.statuses.append((time.monotonic() - self.start, available, reason))

    @property
    def ups(self) -> list[float]:
        """Return when data started flowing."""
        return [at for at, up, _ in self.statuses if up]

    @property
    def downs(self) -> list[tuple[float, str]]:
        """Return when and why data stopped or a port could not be opened."""
        return [(at, reason or "") for at, up, reason in self.statuses if not up]


def hung_up(reason: str) -> bool:
    """Return whether a reason says the TCP peer closed the connection.

    serialx 1.11 ends the connection without an error; 1.7 (the one Home
    Assistant 2026.5 pins) reports EIO "socket closed by peer".
    """
    return reason in (
        "connection closed by the other end",
        "connection lost ([Errno 5] socket closed by peer)",
    )


def listener_for(url: str, recorder: Recorder, **kwargs: object) -> HanListener:
    """Return a listener reporting to ``recorder`` with short test timings."""
    options: dict[str, object] = {"watchdog": WATCHDOG, "backoff": BACKOFF}
    options.update(kwargs)
    return HanListener(
        PortSettings(url),
        StreamDecoder(),
        on_telegram=recorder.telegram,
        on_status=recorder.status,
        **options,  # type: ignore[arg-type]
    )


async def settle(timeout: float = 2.0) -> None:
    """Wait until serialx has finished closing file descriptors in the background."""

    def closing() -> bool:
        for task in asyncio.all_tasks():
            code = getattr(task.get_coro(), "cr_code", None)
            if code is not None and "serialx" in code.co_filename and not task.done():
                return True
        return False

    await wait_for(lambda: not closing(), timeout)


def simulator(start: datetime, seed: int = 3) -> MeterSimulator:
    """Return an Aidon meter starting at ``start``."""
    return MeterSimulator("aidon", start=start, seed=seed)


@pytest.fixture
def now() -> datetime:
    """Return the present second."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def meter(now: datetime) -> Iterator[LineMeter]:
    """Return a simulated Aidon meter behind a pty; closed after the test."""
    pty = LineMeter(simulator(now - timedelta(seconds=30)))
    yield pty
    pty.close()


@pytest.fixture
def recorder() -> Recorder:
    """Return an empty recorder."""
    return Recorder()


class Runner:
    """Listeners a test started; all are closed and awaited after the test."""

    def __init__(self) -> None:
        """Start with none."""
        self.listeners: list[HanListener] = []
        self.tasks: list[asyncio.Task[None]] = []

    def add(self, listener: HanListener, task: asyncio.Task[None] | None = None):
        """Track a listener (and its run task) for the cleanup."""
        self.listeners.append(listener)
        if task is not None:
            self.tasks.append(task)

    async def start(self, listener: HanListener) -> asyncio.Task[None]:
        """Open the listener and run it in the background."""
        await listener.async_open()
        task = asyncio.create_task(listener.async_run())
        self.add(listener, task)
        return task

    async def stop(self) -> None:
        """Close every listener and wait for its run task to end."""
        for listener in self.listeners:
            await listener.async_close()
        if self.tasks:
            await asyncio.wait_for(asyncio.gather(*self.tasks), 2)
        await settle()


@pytest.fixture
async def running() -> AsyncIterator[Runner]:
    """Close the listeners a test started and wait for their tasks to end."""
    runner = Runner()
    yield runner
    await runner.stop()


def list1(frames: list[SimulatedFrame]) -> list[SimulatedFrame]:
    """Return the List 1 pushes."""
    return [frame for frame in frames if frame.list_type == 1]


# (a) Frames reach the callbacks ---------------------------------------------


async def test_frames_reach_on_telegram(
    meter: PtyMeter, now: datetime, recorder: Recorder, running: Runner
) -> None:
    """Every frame written to the pty is decoded once; ``on_status(True)`` once."""
    listener = listener_for(meter.port, recorder, watchdog=30)
    await running.start(listener)
    assert listener.connected
    assert not listener.flowing
    frames = meter.frames(now)
    assert {frame.list_type for frame in frames} == {1, 2}
    for frame in frames:
        meter.send(frame)
    await wait_for(lambda: len(recorder.telegrams) >= len(frames))

    assert [t.list_type for t in recorder.telegrams] == [f.list_type for f in frames]
    for telegram, frame in zip(recorder.telegrams, frames, strict=True):
        assert (
            telegram.get(Quantity.ACTIVE_POWER_IMPORT)
            == (frame.truth[Quantity.ACTIVE_POWER_IMPORT])
        )
    assert [(up, reason) for _at, up, reason in recorder.statuses] == [(True, None)]
    assert listener.flowing
    assert listener.stats.connects == 1
    assert listener.stats.reconnects == 0
    assert listener.stats.bytes_received == sum(len(f.data) for f in frames)
    assert listener.decoder.stats.telegrams == len(frames)

    # More data does not report the port up again.
    more = meter.frames(now + timedelta(seconds=10))
    for frame in more:
        meter.send(frame)
    await wait_for(lambda: len(recorder.telegrams) >= len(frames) + len(more))
    assert len(recorder.statuses) == 1


async def test_split_writes_are_reassembled(
    meter: PtyMeter, now: datetime, recorder: Recorder, running: Runner
) -> None:
    """A frame arriving a few bytes at a time still decodes exactly once."""
    listener = listener_for(meter.port, recorder, watchdog=30)
    await running.start(listener)
    frame = next(f for f in meter.frames(now) if f.list_type == 2)
    for offset in range(0, len(frame.data), 7):
        meter.write(frame.data[offset : offset + 7])
        await asyncio.sleep(0.005)
    await wait_for(lambda: len(recorder.telegrams) == 1)
    assert recorder.telegrams[0].meter_id == meter.simulator.meter_id


# (b) The port vanishes and comes back ---------------------------------------


async def test_port_vanishes_and_returns(
    tmp_path: Path, now: datetime, recorder: Recorder, running: Runner
) -> None:
    """A vanished port is reported down once, retried with back-off, then recovers.

    The listener opens a symlink to the pty (as /dev/serial/by-id is). The
    symlink is removed and the pty closed (the adapter is unplugged); later
    a new pty appears behind the same name (plugged in again).
    """
    link = tmp_path / "ttyHAN"
    first = PtyMeter(simulator(now - timedelta(seconds=30)))
    link.symlink_to(first.port)
    listener = listener_for(str(link), recorder, backoff=(0.05, 0.4), watchdog=30)
    await running.start(listener)
    for frame in first.frames(now):
        first.send(frame)
    await wait_for(lambda: recorder.ups)

    unplugged = time.monotonic() - recorder.start
    link.unlink()
    first.close()
    await wait_for(lambda: len(recorder.downs) >= 6)
    downs = recorder.downs
    lost_at, lost_reason = downs[0]
    assert lost_reason.startswith("connection lost")
    assert all(reason.startswith("cannot open the port") for _, reason in downs[1:])
    assert all("No such file or directory" in reason for _, reason in downs[1:])
    assert not listener.connected
    assert not listener.flowing
    assert listener.stats.reconnects == 1
    assert listener.stats.last_error is not None
    assert listener.stats.last_error.startswith("FileNotFoundError")
    # Back-off doubles from 0.05 s and stops at 0.4 s. A sleep is never
    # shorter than asked; the slack above allows for a busy machine.
    attempts = [at for at, _ in downs]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, (0.05, 0.1, 0.2, 0.4, 0.4), strict=False):
        assert delay - 0.005 <= gap <= delay + 0.15

    second = PtyMeter(simulator(now, seed=4))
    try:
        link.symlink_to(second.port)
        replugged = time.monotonic() - recorder.start
        await wait_for(lambda: listener.connected)
        reopened = time.monotonic() - recorder.start
        for frame in second.frames(now + timedelta(seconds=20)):
            second.send(frame)
        await wait_for(lambda: len(recorder.ups) == 2)
        assert listener.stats.connects == 2
        assert listener.flowing
        last = recorder.telegrams[-1]
        assert last.list_type in (1, 2)
        # Back to the shortest back-off once data flows again.
        assert listener._delay == 0.05
        _LOGGER.info(
            "timing: pty lost %.3f s after unplug; attempt gaps %s s; "
            "reopened %.3f s after the port returned",
            lost_at - unplugged,
            [round(g, 3) for g in gaps],
            reopened - replugged,
        )
        assert reopened - replugged < 0.4 + 0.3
    finally:
        await listener.async_close()
        second.close()


async def test_open_error_while_running_is_retried(
    tmp_path: Path, now: datetime, recorder: Recorder, running: Runner
) -> None:
    """A port missing when the run loop starts is retried until it appears."""
    link = tmp_path / "ttyHAN"
    listener = listener_for(str(link), recorder, watchdog=30)
    task = asyncio.create_task(listener.async_run())
    running.add(listener, task)
    meter = PtyMeter(simulator(now - timedelta(seconds=10)))
    try:
        await wait_for(lambda: len(recorder.downs) >= 2)
        link.symlink_to(meter.port)
        await wait_for(lambda: listener.connected)
        for frame in meter.frames(now):
            meter.send(frame)
        await wait_for(lambda: recorder.ups)
        assert listener.stats.reconnects == 0  # it never had a connection to lose
        assert listener.stats.connects == 1
    finally:
        await listener.async_close()
        await asyncio.wait_for(task, 2)
        meter.close()


# (c) A silent TCP bridge ----------------------------------------------------


@dataclass
class Bridge:
    """A loopback TCP server standing in for a network HAN bridge."""

    connects: list[float] = field(default_factory=list)
    closes: list[float] = field(default_factory=list)
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return the socket URL of the server."""
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"socket://{host}:{port}"


async def open_bridge(send: list[bytes] | None = None, *, hang_up: bool = False):
    """Start a bridge that sends ``send`` on each connection, then waits or hangs up."""
    bridge = Bridge()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        bridge.connects.append(time.monotonic())
        bridge.writers.append(writer)
        for chunk in send or ():
            writer.write(chunk)
        await writer.drain()
        if not hang_up:
            await reader.read()  # until the listener closes
        bridge.closes.append(time.monotonic())
        writer.close()

    bridge.server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return bridge


async def close_bridge(bridge: Bridge) -> None:
    """Stop the server and drop its connections."""
    assert bridge.server is not None
    for writer in bridge.writers:
        writer.close()
    bridge.server.close()
    await bridge.server.wait_closed()


@pytest.mark.usefixtures("socket_enabled")
async def test_silent_bridge_is_reopened_by_the_watchdog(
    recorder: Recorder, running: Runner
) -> None:
    """A bridge that accepts and never sends is closed and reopened by the watchdog."""
    bridge = await open_bridge()
    try:
        listener = listener_for(bridge.url, recorder)
        assert listener.watchdog_timeout == WATCHDOG
        await running.start(listener)
        await wait_for(lambda: len(bridge.connects) >= 4, 5)
        await listener.async_close()
        await wait_for(lambda: len(bridge.closes) == len(bridge.connects))
    finally:
        await close_bridge(bridge)

    stats = listener.stats
    assert stats.watchdog_timeouts >= 3
    assert stats.connects == len(bridge.connects)
    assert all(reason.startswith("no valid data for") for _, reason in recorder.downs)
    assert len(recorder.downs) == stats.watchdog_timeouts
    assert not recorder.ups
    # Each connection was closed by the listener before the next one opened.
    for closed, reopened in zip(bridge.closes, bridge.connects[1:], strict=False):
        assert closed <= reopened
    # Watchdog first, then the back-off (0.05, 0.1, 0.2 s: no data ever flowed).
    cycles = [b - a for a, b in itertools.pairwise(bridge.connects)]
    silent = [c - a for a, c in zip(bridge.connects, bridge.closes, strict=False)]
    _LOGGER.info(
        "timing: silent bridge, watchdog %s s; connect to close %s s; "
        "connect to reconnect %s s",
        WATCHDOG,
        [round(s, 3) for s in silent],
        [round(c, 3) for c in cycles],
    )
    expected = [WATCHDOG + 0.05, WATCHDOG + 0.1, WATCHDOG + 0.2]
    for cycle, want in zip(cycles, expected, strict=False):
        assert want - 0.01 <= cycle <= want + 0.3
    for duration in silent[:3]:
        assert WATCHDOG - 0.01 <= duration <= WATCHDOG + 0.25


# (d) A bridge that hangs up -------------------------------------------------


@pytest.mark.usefixtures("socket_enabled")
async def test_bridge_hang_up_reconnects(
    now: datetime, recorder: Recorder, running: Runner
) -> None:
    """A peer that sends and closes is reported down, reconnected and flows again."""
    frames = [f.data for f in simulator(now - timedelta(seconds=10)).frames_until(now)]
    bridge = await open_bridge(frames, hang_up=True)
    try:
        listener = listener_for(bridge.url, recorder, watchdog=30)
        await running.start(listener)
        await wait_for(lambda: len(recorder.ups) >= 3, 5)
    finally:
        await listener.async_close()
        await close_bridge(bridge)

    downs = recorder.downs
    assert downs
    assert all(hung_up(reason) for _, reason in downs[:2])
    # Up, down, up, down, up: every hang-up was reported exactly once.
    kinds = [up for _, up, _ in recorder.statuses]
    assert kinds[:5] == [True, False, True, False, True]
    assert listener.stats.reconnects >= 2
    assert listener.stats.watchdog_timeouts == 0
    assert len(recorder.telegrams) >= 3 * len(frames)
    gaps = [up - down for (down, _), up in zip(downs, recorder.ups[1:], strict=False)]
    _LOGGER.info(
        "timing: hang-up, down to data again %s s", [round(g, 3) for g in gaps]
    )
    assert all(gap < 0.5 for gap in gaps)


@pytest.mark.usefixtures("socket_enabled")
async def test_loss_before_run_is_not_missed(
    recorder: Recorder, running: Runner
) -> None:
    """A connection lost between ``async_open`` and ``async_run`` is still handled.

    The peer hangs up right after accepting; before the run loop starts, the
    watchdog fires as well. The first reason is kept and reported once.
    """
    bridge = await open_bridge(hang_up=True)
    try:
        listener = listener_for(bridge.url, recorder)
        running.add(listener)
        await listener.async_open()
        await wait_for(lambda: bridge.closes)
        await wait_for(lambda: listener.stats.watchdog_timeouts == 1)
        assert listener._lost is not None
        assert listener._lost.done()
        assert recorder.statuses == []
        task = asyncio.create_task(listener.async_run())
        running.add(listener, task)
        await wait_for(lambda: len(bridge.connects) >= 2)
        assert hung_up(recorder.downs[0][1])
        assert listener.stats.reconnects >= 1
    finally:
        await close_bridge(bridge)


# (e) The watchdog follows the List 1 cadence --------------------------------


async def test_watchdog_adapts_to_list1_cadence(
    meter: PtyMeter, now: datetime, recorder: Recorder, running: Runner
) -> None:
    """Three List 1 intervals, when longer than the base, are the watchdog's limit."""
    listener = listener_for(meter.port, recorder)
    await running.start(listener)
    frames = meter.frames(now)
    pushes = list1(frames)[:4]
    list2 = next(frame for frame in frames if frame.list_type == 2)
    for index, frame in enumerate(pushes):
        meter.send(frame)
        await wait_for(lambda n=index: len(recorder.telegrams) == n + 1)
        if index < len(pushes) - 1:
            await asyncio.sleep(0.2)
    # Three times the median gap: at least 3 x 0.2 s, a little more for the
    # time each push takes to arrive.
    assert 0.6 <= listener.watchdog_timeout <= 0.9
    # A List 2 carries no cadence information.
    learned = listener.watchdog_timeout
    meter.send(list2)
    await wait_for(lambda: len(recorder.telegrams) == len(pushes) + 1)
    assert listener.watchdog_timeout == learned

    # Silent for longer than the base watchdog but less than three intervals.
    await asyncio.sleep(WATCHDOG + 0.1)
    assert listener.stats.watchdog_timeouts == 0
    assert listener.connected
    silent_from = time.monotonic()
    await wait_for(lambda: listener.stats.watchdog_timeouts == 1)
    fired = time.monotonic() - silent_from + WATCHDOG + 0.1
    _LOGGER.info(
        "timing: List 1 every 0.2 s, watchdog %.3f s, fired after %.3f s",
        learned,
        fired,
    )
    assert learned - 0.05 <= fired <= learned + 0.3
    await wait_for(lambda: recorder.downs)
    assert recorder.downs[0][1] == f"no valid data for {learned:.0f} s"


async def test_watchdog_keeps_base_for_fast_meters(
    meter: PtyMeter, now: datetime, recorder: Recorder, running: Runner
) -> None:
    """A meter pushing faster than a third of the base keeps the base timeout."""
    listener = listener_for(meter.port, recorder, watchdog=5)
    await running.start(listener)
    pushes = list1(meter.frames(now))
    for frame in pushes:
        meter.send(frame)
        await asyncio.sleep(0.02)
    await wait_for(lambda: len(recorder.telegrams) == len(pushes))
    assert len(listener._list1_gaps) == len(pushes) - 1
    assert listener.watchdog_timeout == 5


# (f) Closing ---------------------------------------------------------------


async def test_close_stops_the_run_task(
    meter: PtyMeter, now: datetime, recorder: Recorder
) -> None:
    """``async_close`` ends the run loop without reporting the port down."""
    listener = listener_for(meter.port, recorder, watchdog=30)
    await listener.async_open()
    task = asyncio.create_task(listener.async_run())
    frames = meter.frames(now)
    for frame in frames:
        meter.send(frame)
    await wait_for(lambda: len(recorder.telegrams) == len(frames))

    await listener.async_close()
    await asyncio.wait_for(task, 1)
    assert task.done()
    assert task.exception() is None
    assert not listener.connected
    assert [up for _, up, _ in recorder.statuses] == [True]
    assert listener.stats.reconnects == 0
    await settle()

    # Bytes written afterwards go nowhere; the watchdog is not armed.
    meter.send(frames[0])
    await asyncio.sleep(0.1)
    assert len(recorder.telegrams) == len(frames)
    assert listener._timer is None


async def test_close_during_back_off_never_reopens(
    tmp_path: Path, recorder: Recorder
) -> None:
    """Closing while waiting to retry ends the loop after that wait."""
    listener = listener_for(str(tmp_path / "missing"), recorder)
    task = asyncio.create_task(listener.async_run())
    await wait_for(lambda: recorder.downs)
    await listener.async_close()
    await asyncio.wait_for(task, 1)
    attempts = len(recorder.downs)
    await asyncio.sleep(0.3)
    assert len(recorder.downs) == attempts
    assert listener.stats.connects == 0


async def test_close_while_opening_closes_the_new_port(
    meter: LineMeter, recorder: Recorder
) -> None:
    """A port that finishes opening after ``async_close`` is closed at once."""
    listener = listener_for(meter.port, recorder)
    opening = asyncio.create_task(listener.async_open())
    await asyncio.sleep(0)  # the open is under way, resolving the URL
    await listener.async_close()
    await opening
    assert not listener.connected
    assert listener.stats.connects == 0
    assert listener._timer is None
    await settle()
    # The pty is free again: nothing holds it open or locked.
    meter.reset_line()
    again = listener_for(meter.port, Recorder())
    await again.async_open()
    assert again.connected
    await again.async_close()
    await settle()


async def test_close_before_run_returns_at_once(
    meter: PtyMeter, recorder: Recorder
) -> None:
    """A listener closed before its run loop started does not run at all."""
    listener = listener_for(meter.port, recorder)
    await listener.async_open()
    await listener.async_close()
    await asyncio.wait_for(listener.async_run(), 0.5)
    assert not listener.connected
    assert recorder.statuses == []
    await settle()


async def test_reopen_after_close(meter: LineMeter, now: datetime) -> None:
    """The same listener can be opened again after it was closed."""
    recorder = Recorder()
    listener = listener_for(meter.port, recorder, watchdog=30)
    await listener.async_open()
    await listener.async_close()
    await settle()
    meter.reset_line()
    await listener.async_open()
    task = asyncio.create_task(listener.async_run())
    frames = meter.frames(now)
    for frame in frames:
        meter.send(frame)
    await wait_for(lambda: len(recorder.telegrams) == len(frames))
    assert listener.stats.connects == 2
    await listener.async_close()
    await asyncio.wait_for(task, 1)
    await settle()


# (g) Open errors -----------------------------------------------------------


async def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    """A missing device raises FileNotFoundError, one of ``OPEN_ERRORS``."""
    recorder = Recorder()
    listener = listener_for(str(tmp_path / "ttyUSB9"), recorder)
    with pytest.raises(FileNotFoundError) as caught:
        await listener.async_open()
    assert isinstance(caught.value, OPEN_ERRORS)
    assert not listener.connected
    assert recorder.statuses == []


@pytest.mark.usefixtures("socket_enabled")
async def test_refused_tcp_is_an_open_error() -> None:
    """A TCP port nobody listens on raises an error among ``OPEN_ERRORS``."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(OPEN_ERRORS) as caught:
        await open_port(
            PortSettings(f"socket://127.0.0.1:{port}"),
            lambda data: None,
            lambda exc: None,
        )
    assert isinstance(caught.value, ConnectionRefusedError)


@pytest.mark.parametrize("url", ["socket://127.0.0.1", "nosuchscheme://x"])
async def test_malformed_url_is_an_open_error(url: str) -> None:
    """A URL serialx cannot use raises an error among ``OPEN_ERRORS``."""
    with pytest.raises(OPEN_ERRORS):
        await open_port(PortSettings(url), lambda data: None, lambda exc: None)


@pytest.mark.usefixtures("socket_enabled")
async def test_open_times_out() -> None:
    """An RFC 2217 bridge that never negotiates is given up after the timeout."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(OPEN_ERRORS) as caught:
            await open_port(
                PortSettings(f"rfc2217://127.0.0.1:{port}"),
                lambda data: None,
                lambda exc: None,
                timeout=0.3,
            )
    finally:
        server.close()
        await server.wait_closed()
    assert isinstance(caught.value, TimeoutError)
    assert 0.3 <= time.monotonic() - started < 1.0
    await settle()


# redact_url and PortSettings -----------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/dev/ttyUSB0", "/dev/ttyUSB0"),
        ("socket://192.0.2.10:3001", "socket://192.0.2.10:3001"),
        (
            "esphome://han.local:6053/?key=c2VjcmV0&port_name=HAN",
            "esphome://han.local:6053/?key=**REDACTED**&port_name=HAN",
        ),
        (
            "esphome://han.local/?Noise_PSK=abc&PSK=def&password=ghi",
            (
                "esphome://han.local/?Noise_PSK=**REDACTED**&PSK=**REDACTED**"
                "&password=**REDACTED**"
            ),
        ),
        (
            "rfc2217://user:hunter2@192.0.2.10:4001",
            "rfc2217://user:**REDACTED**@192.0.2.10:4001",
        ),
        ("rfc2217://user@192.0.2.10:4001", "rfc2217://user@192.0.2.10:4001"),
        ("esphome://h/?key=&x=1", "esphome://h/?key=**REDACTED**&x=1"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    """Secrets in a URL are hidden; everything else is kept."""
    assert redact_url(url) == expected
    assert "hunter2" not in redact_url(url)


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (PortSettings("/dev/ttyUSB0"), "2400 8E1"),
        (PortSettings("/dev/ttyUSB0", 2400, "N"), "2400 8N1"),
        (PortSettings("/dev/ttyUSB0", 115200, "O"), "115200 8O1"),
    ],
)
def test_port_settings_line(settings: PortSettings, line: str) -> None:
    """The line is written the way serial tools write it."""
    assert settings.line == line
