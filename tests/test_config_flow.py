"""Tests for the HAN Port config flow, options flow and reconfiguration.

The main paths listen to a simulated meter behind a real pseudo-terminal
through serialx; the rarer branches replace the probe with a fake result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterator
import contextlib
from datetime import UTC, datetime
import os
import termios
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_port import probe as probe_module
from custom_components.han_port.config_flow import HanPortConfigFlow
from custom_components.han_port.connection import PortSettings
from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_CAPACITY_STEPS,
    CONF_CURRENT_SCALE,
    CONF_DAY_PRICE,
    CONF_ENCRYPTION_KEY,
    CONF_ENERGY_SCALE,
    CONF_FIXED_PRICE,
    CONF_GRID_COMPANY,
    CONF_MAIN_FUSE,
    CONF_MARKUP,
    CONF_MODEL,
    CONF_MONTHLY_FEE,
    CONF_NIGHT_PRICE,
    CONF_PARITY,
    CONF_PORT,
    CONF_POWER_SCALE,
    CONF_PRICE_ENTITY,
    CONF_SCHEME,
    CONF_TAX_ZONE,
    CONF_VENDOR,
    DOMAIN,
)
from custom_components.han_port.han.apdu import Keys
from custom_components.han_port.han.model import FrameFormat, Telegram
from custom_components.han_port.han.simulator import MeterSimulator
from custom_components.han_port.probe import (
    AUTO_CANDIDATES,
    PortUnavailable,
    ProbeResult,
)

from .meter import PtyMeter, later

START = datetime(2026, 1, 15, 12, 0, 1, tzinfo=UTC)  # just after a List 2 push
AIDON_ID = "7359990000000017"
KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AUTH = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")
MISSING_PORT = "/dev/nonexistent-han"


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Keep created and reloaded entries from opening their port."""
    with patch(
        "custom_components.han_port.async_setup_entry", return_value=True
    ) as mock_setup:
        yield mock_setup


@pytest.fixture
def mock_probe() -> Generator[AsyncMock]:
    """Replace listening with a fake; tests give its outcomes with ``answers``."""
    with patch("custom_components.han_port.config_flow.probe") as mock_probe:
        yield mock_probe


def answers(*outcomes: ProbeResult | Exception) -> Callable[..., Any]:
    """Return a fake probe giving ``outcomes`` in turn.

    Each answer comes after a pause, as listening does, so the flow shows its
    progress step before it moves on.
    """
    pending = list(outcomes)

    async def listening(*_args: Any, **_kwargs: Any) -> ProbeResult:
        await asyncio.sleep(0)
        outcome = pending.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return listening


@pytest.fixture
def fast_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorten listening so silence and missing meter ids are given up quickly."""
    monkeypatch.setattr(probe_module, "LISTEN_SECONDS", 0.3)
    monkeypatch.setattr(probe_module, "IDENTIFY_SECONDS", 0.6)


@pytest.fixture
def make_meter() -> Iterator[Callable[..., PtyMeter]]:
    """Return a factory of simulated meters behind pseudo-terminals; all closed after."""
    meters: list[PtyMeter] = []

    def make(vendor: str = "aidon", **kwargs: Any) -> PtyMeter:
        meter = PtyMeter(MeterSimulator(vendor, start=START, seed=1, **kwargs))
        os.set_blocking(meter.master, False)  # a meter never waits for a reader
        meters.append(meter)
        return meter

    yield make
    for meter in meters:
        meter.close()


@contextlib.asynccontextmanager
async def pushing(
    meter: PtyMeter, seconds: float, interval: float = 0.02
) -> AsyncIterator[None]:
    """Let the meter push its first ``seconds`` of frames over and over, fast.

    Pushes go on whether or not the port is open, as a meter's do: serialx
    flushes what was written before it opened the port, and writes that do
    not fit in the pty while nobody reads are dropped.
    """
    frames = [frame.data for frame in meter.frames(later(START, seconds))]

    async def push() -> None:
        while True:
            for data in frames:
                with contextlib.suppress(BlockingIOError):
                    meter.write(data)
                await asyncio.sleep(interval)

    task = asyncio.create_task(push())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def restore_line(meter: PtyMeter) -> None:
    """Put the pty back to its default speed before the port is opened again.

    On a pseudo-terminal this kernel refuses (EINVAL) a tcsetattr that sets
    parity without changing the speed, so serialx cannot reopen it at the same
    2400 8E1; changing the speed in between avoids that.
    """
    attrs = termios.tcgetattr(meter.slave)
    attrs[4] = attrs[5] = termios.B38400
    termios.tcsetattr(meter.slave, termios.TCSANOW, attrs)


def telegram(
    meter_id: str | None = AIDON_ID,
    vendor: str | None = "aidon",
    model: str | None = "6540",
) -> Telegram:
    """Return a decoded List 2 telegram for fake probe results."""
    return Telegram(
        format=FrameFormat.HDLC,
        vendor=vendor,
        model=model,
        meter_id=meter_id,
        list_version="AIDON_V0001" if vendor else None,
        list_type=2,
    )


def found(
    port: str, *telegrams: Telegram, baudrate: int = 2400, parity: str = "E"
) -> ProbeResult:
    """Return what listening finds on a port where a meter talks."""
    return ProbeResult(
        settings=PortSettings(port, baudrate, parity),
        telegrams=list(telegrams),
        frames=len(telegrams),
    )


def suggested(result: ConfigFlowResult, key: str) -> Any:
    """Return the value a form suggests for ``key``."""
    for marker in result["data_schema"].schema:
        if marker == key:
            return (marker.description or {}).get("suggested_value")
    raise KeyError(key)


async def start(hass: HomeAssistant) -> ConfigFlowResult:
    """Start a user flow and check it asks for the port first."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert suggested(result, CONF_PORT) is None
    return result


async def listen(
    hass: HomeAssistant, flow_id: str, user_input: dict[str, Any], port: str
) -> ConfigFlowResult:
    """Submit a step that starts listening on ``port``; return where the flow went."""
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "detect"
    assert result["progress_action"] == "listening"
    assert result["description_placeholders"] == {"port": port}
    # The progress task ends by itself; the flow manager then runs the detect
    # step, which says where to go next (SHOW_PROGRESS_DONE is never returned).
    await hass.async_block_till_done()
    return await hass.config_entries.flow.async_configure(flow_id)


def placeholders(port: str, **found_values: str) -> dict[str, str]:
    """Return a step's description placeholders: '-' for what was not found."""
    values = dict.fromkeys(
        ("vendor", "model", "meter_id", "list_version", "lists", "format", "line"),
        "-",
    )
    return {"port": port} | values | found_values


def aidon_entry(**data: Any) -> MockConfigEntry:
    """Return the entry of the simulated Aidon meter on an old port."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Aidon 6540",
        unique_id=AIDON_ID,
        data={
            CONF_PORT: "/dev/ttyUSB9",
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "E",
            CONF_VENDOR: "aidon",
            CONF_MODEL: "6540",
        }
        | data,
    )


async def test_meter_found_and_added(
    hass: HomeAssistant,
    make_meter: Callable[..., PtyMeter],
    mock_setup_entry: AsyncMock,
) -> None:
    """Listening on a real port identifies the meter; confirming adds it by meter id."""
    meter = make_meter()
    result = await start(hass)

    async with pushing(meter, 20):
        result = await listen(
            hass, result["flow_id"], {CONF_PORT: f" {meter.port} "}, meter.port
        )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "found"
    shown = result["description_placeholders"]
    assert shown["port"] == meter.port
    assert shown["vendor"] == "Aidon"
    assert shown["model"] == "6540"
    assert shown["meter_id"] == AIDON_ID
    assert shown["list_version"] == "AIDON_V0001"
    assert shown["format"] == "HDLC"
    assert shown["line"] == "2400 8E1"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Aidon 6540"
    assert result["data"] == {
        CONF_PORT: meter.port,
        CONF_BAUDRATE: 2400,
        CONF_PARITY: "E",
        CONF_VENDOR: "aidon",
        CONF_MODEL: "6540",
    }
    assert result["result"].unique_id == AIDON_ID
    assert len(mock_setup_entry.mock_calls) == 1


async def test_encrypted_meter_wrong_then_right_key(
    hass: HomeAssistant,
    make_meter: Callable[..., PtyMeter],
    mock_setup_entry: AsyncMock,
) -> None:
    """An encrypted meter asks for keys; a wrong key is caught by decrypting real frames."""
    meter = make_meter(encryption_key=KEY, authentication_key=AUTH)
    result = await start(hass)
    flow_id = result["flow_id"]

    async with pushing(meter, 20):
        result = await listen(hass, flow_id, {CONF_PORT: meter.port}, meter.port)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "encryption_key"
        assert result["errors"] == {}
        assert result["description_placeholders"]["line"] == "2400 8E1"

        restore_line(meter)
        result = await listen(
            hass,
            flow_id,
            {CONF_ENCRYPTION_KEY: AUTH.hex(), CONF_AUTHENTICATION_KEY: AUTH.hex()},
            meter.port,
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "encryption_key"
        assert result["errors"] == {"base": "wrong_key"}

        restore_line(meter)
        # Spaces, colons, dashes and capitals are accepted.
        result = await listen(
            hass,
            flow_id,
            {
                CONF_ENCRYPTION_KEY: " ".join(f"{b:02X}" for b in KEY),
                CONF_AUTHENTICATION_KEY: ":".join(f"{b:02X}" for b in AUTH[:8])
                + "-"
                + AUTH[8:].hex().upper(),
            },
            meter.port,
        )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "found"
    assert result["description_placeholders"]["meter_id"] == AIDON_ID

    result = await hass.config_entries.flow.async_configure(flow_id, {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Aidon 6540"
    assert result["data"] == {
        CONF_PORT: meter.port,
        CONF_BAUDRATE: 2400,
        CONF_PARITY: "E",
        CONF_ENCRYPTION_KEY: KEY.hex(),
        CONF_AUTHENTICATION_KEY: AUTH.hex(),
        CONF_VENDOR: "aidon",
        CONF_MODEL: "6540",
    }
    assert result["result"].unique_id == AIDON_ID
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.usefixtures("fast_probe")
async def test_silent_port_offers_port_again_or_manual(
    hass: HomeAssistant, make_meter: Callable[..., PtyMeter]
) -> None:
    """Nothing heard with any candidate: a menu explains it; the port can be chosen again."""
    meter = make_meter()
    result = await start(hass)

    result = await listen(hass, result["flow_id"], {CONF_PORT: meter.port}, meter.port)

    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "not_found"
    assert result["menu_options"] == ["user", "manual"]
    assert result["description_placeholders"] == placeholders(meter.port)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "user"}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert suggested(result, CONF_PORT) == meter.port


@pytest.mark.usefixtures("fast_probe")
async def test_no_meter_id_then_line_set_by_hand(
    hass: HomeAssistant,
    make_meter: Callable[..., PtyMeter],
    mock_setup_entry: AsyncMock,
) -> None:
    """Only List 1 heard: a menu says so; the line set by hand is used and stored."""
    meter = make_meter()
    result = await start(hass)
    flow_id = result["flow_id"]

    async with pushing(meter, 9):  # three List 1 pushes, no meter id
        result = await listen(hass, flow_id, {CONF_PORT: meter.port}, meter.port)

    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "no_meter_id"
    assert result["menu_options"] == ["user", "manual"]
    assert result["description_placeholders"] == placeholders(
        meter.port, lists="1", format="HDLC", line="2400 8E1"
    )

    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "manual"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    assert result["description_placeholders"] == {"port": meter.port}

    async with pushing(meter, 30):
        result = await listen(
            hass, flow_id, {CONF_BAUDRATE: "4800", CONF_PARITY: "O"}, meter.port
        )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "found"
    assert result["description_placeholders"]["line"] == "4800 8O1"

    result = await hass.config_entries.flow.async_configure(flow_id, {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_PORT: meter.port,
        CONF_BAUDRATE: 4800,
        CONF_PARITY: "O",
        CONF_VENDOR: "aidon",
        CONF_MODEL: "6540",
    }
    assert result["result"].unique_id == AIDON_ID


async def test_port_that_cannot_be_opened(hass: HomeAssistant) -> None:
    """A missing device goes back to the port form with cannot_connect."""
    result = await start(hass)

    result = await listen(
        hass, result["flow_id"], {CONF_PORT: MISSING_PORT}, MISSING_PORT
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "cannot_connect"}
    assert suggested(result, CONF_PORT) == MISSING_PORT


async def test_meter_already_configured(
    hass: HomeAssistant, mock_probe: AsyncMock
) -> None:
    """A meter that already has an entry is not added twice; it follows a new port."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    mock_probe.side_effect = answers(found("/dev/ttyUSB1", telegram()))
    result = await start(hass)

    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB1"}, "/dev/ttyUSB1"
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    mock_probe.assert_called_once_with("/dev/ttyUSB1", AUTO_CANDIDATES, keys=None)
    assert entry.data[CONF_PORT] == "/dev/ttyUSB1"


async def test_meter_without_vendor_or_model(
    hass: HomeAssistant, mock_probe: AsyncMock, mock_setup_entry: AsyncMock
) -> None:
    """A meter that only gives its id gets a generic title; a URL's secret is hidden."""
    url = "socket://han:secret@192.0.2.10:3001"
    shown_url = "socket://han:**REDACTED**@192.0.2.10:3001"
    mock_probe.side_effect = answers(
        found(url, telegram(meter_id="1234", vendor=None, model=None), baudrate=115200)
    )
    result = await start(hass)

    result = await listen(hass, result["flow_id"], {CONF_PORT: url}, shown_url)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "found"
    assert result["description_placeholders"] == placeholders(
        shown_url, meter_id="1234", lists="2", format="HDLC", line="115200 8E1"
    )

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "HAN meter"
    assert result["data"] == {CONF_PORT: url, CONF_BAUDRATE: 115200, CONF_PARITY: "E"}
    assert result["result"].unique_id == "1234"


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({CONF_ENCRYPTION_KEY: ""}, {CONF_ENCRYPTION_KEY: "invalid_key"}),
        ({CONF_ENCRYPTION_KEY: "zz" * 16}, {CONF_ENCRYPTION_KEY: "invalid_key"}),
        ({CONF_ENCRYPTION_KEY: "00" * 15}, {CONF_ENCRYPTION_KEY: "invalid_key"}),
        ({CONF_ENCRYPTION_KEY: "00" * 17}, {CONF_ENCRYPTION_KEY: "invalid_key"}),
        (
            {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: "0g" * 16},
            {CONF_AUTHENTICATION_KEY: "invalid_key"},
        ),
        (
            {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: "00" * 8},
            {CONF_AUTHENTICATION_KEY: "invalid_key"},
        ),
    ],
)
async def test_invalid_keys_are_rejected(
    hass: HomeAssistant,
    mock_probe: AsyncMock,
    user_input: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Keys that are not 32 hex digits are refused without listening again."""
    mock_probe.side_effect = answers(
        ProbeResult(settings=PortSettings("/dev/ttyUSB1"), frames=1, needs_key=True)
    )
    result = await start(hass)
    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB1"}, "/dev/ttyUSB1"
    )
    assert result["step_id"] == "encryption_key"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "encryption_key"
    assert result["errors"] == errors
    assert mock_probe.call_count == 1


async def test_encryption_key_without_authentication_key(
    hass: HomeAssistant, mock_probe: AsyncMock, mock_setup_entry: AsyncMock
) -> None:
    """The authentication key is optional: listening retries with the encryption key only."""
    mock_probe.side_effect = answers(
        ProbeResult(
            settings=PortSettings("/dev/ttyUSB1", 2400, "N"), frames=1, needs_key=True
        ),
        found("/dev/ttyUSB1", telegram(), parity="N"),
    )
    result = await start(hass)
    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB1"}, "/dev/ttyUSB1"
    )

    result = await listen(
        hass,
        result["flow_id"],
        {CONF_ENCRYPTION_KEY: KEY.hex(), CONF_AUTHENTICATION_KEY: ""},
        "/dev/ttyUSB1",
    )

    assert result["step_id"] == "found"
    # Only the line that was heard is tried again, now with the key.
    assert mock_probe.call_args.args == ("/dev/ttyUSB1", ((2400, "N"),))
    assert mock_probe.call_args.kwargs == {"keys": Keys(KEY)}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_PORT: "/dev/ttyUSB1",
        CONF_BAUDRATE: 2400,
        CONF_PARITY: "N",
        CONF_ENCRYPTION_KEY: KEY.hex(),
        CONF_VENDOR: "aidon",
        CONF_MODEL: "6540",
    }


async def test_reconfigure_moves_meter_to_new_port(
    hass: HomeAssistant,
    make_meter: Callable[..., PtyMeter],
    mock_setup_entry: AsyncMock,
) -> None:
    """The same meter answering on the new port moves the entry there."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    meter = make_meter()

    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {}
    assert suggested(result, CONF_PORT) == "/dev/ttyUSB9"

    async with pushing(meter, 20):
        result = await listen(
            hass, result["flow_id"], {CONF_PORT: meter.port}, meter.port
        )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {
        CONF_PORT: meter.port,
        CONF_BAUDRATE: 2400,
        CONF_PARITY: "E",
        CONF_VENDOR: "aidon",
        CONF_MODEL: "6540",
    }
    assert entry.unique_id == AIDON_ID
    assert len(mock_setup_entry.mock_calls) == 1  # reloaded


async def test_reconfigure_refuses_another_meter(
    hass: HomeAssistant,
    make_meter: Callable[..., PtyMeter],
    mock_setup_entry: AsyncMock,
) -> None:
    """A different meter on the new port aborts with wrong_meter; the entry stays."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    data = dict(entry.data)
    meter = make_meter("kaifa")

    result = await entry.start_reconfigure_flow(hass)
    async with pushing(meter, 20):
        result = await listen(
            hass, result["flow_id"], {CONF_PORT: meter.port}, meter.port
        )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"
    assert entry.data == data
    assert entry.unique_id == AIDON_ID
    assert mock_setup_entry.mock_calls == []


async def test_reconfigure_tries_stored_line_and_keys_first(
    hass: HomeAssistant, mock_probe: AsyncMock, mock_setup_entry: AsyncMock
) -> None:
    """Stored settings are tried first with the stored keys; new keys replace bad ones."""
    entry = aidon_entry(
        **{
            CONF_PARITY: "N",
            CONF_ENCRYPTION_KEY: AUTH.hex(),
            CONF_AUTHENTICATION_KEY: AUTH.hex(),
        }
    )
    entry.add_to_hass(hass)
    mock_probe.side_effect = answers(
        ProbeResult(
            settings=PortSettings("/dev/ttyUSB1", 2400, "N"), frames=1, wrong_key=True
        ),
        found("/dev/ttyUSB1", telegram(), parity="N"),
    )

    result = await entry.start_reconfigure_flow(hass)
    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB1"}, "/dev/ttyUSB1"
    )

    mock_probe.assert_called_once_with(
        "/dev/ttyUSB1",
        ((2400, "N"), (2400, "E"), (115200, "N")),
        keys=Keys(AUTH, AUTH),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "encryption_key"
    assert result["errors"] == {"base": "wrong_key"}

    result = await listen(
        hass, result["flow_id"], {CONF_ENCRYPTION_KEY: KEY.hex()}, "/dev/ttyUSB1"
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {
        CONF_PORT: "/dev/ttyUSB1",
        CONF_BAUDRATE: 2400,
        CONF_PARITY: "N",
        CONF_ENCRYPTION_KEY: KEY.hex(),
        CONF_AUTHENTICATION_KEY: AUTH.hex(),
        CONF_VENDOR: "aidon",
        CONF_MODEL: "6540",
    }


async def test_reconfigure_silent_or_missing_port(
    hass: HomeAssistant, mock_probe: AsyncMock
) -> None:
    """Reconfiguring offers its own port step again, and reports cannot_connect there."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    mock_probe.side_effect = answers(ProbeResult(), PortUnavailable("gone"))

    result = await entry.start_reconfigure_flow(hass)
    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB1"}, "/dev/ttyUSB1"
    )

    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "not_found"
    assert result["menu_options"] == ["reconfigure", "manual"]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reconfigure"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {}
    assert suggested(result, CONF_PORT) == "/dev/ttyUSB1"

    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB2"}, "/dev/ttyUSB2"
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {"base": "cannot_connect"}
    assert suggested(result, CONF_PORT) == "/dev/ttyUSB2"
    assert entry.data[CONF_PORT] == "/dev/ttyUSB9"


async def test_reconfigure_no_meter_id_menu(
    hass: HomeAssistant, mock_probe: AsyncMock
) -> None:
    """Valid frames without a meter id on reconfigure offer reconfigure or manual."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    mock_probe.side_effect = answers(found("/dev/ttyUSB1", telegram(meter_id=None)))

    result = await entry.start_reconfigure_flow(hass)
    result = await listen(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB1"}, "/dev/ttyUSB1"
    )

    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "no_meter_id"
    assert result["menu_options"] == ["reconfigure", "manual"]


@pytest.mark.parametrize("step", ["not_found", "no_meter_id"])
async def test_menu_placeholders_before_anything_heard(
    hass: HomeAssistant, step: str
) -> None:
    """The menus render with '-' placeholders even when no probe result exists."""
    flow = HanPortConfigFlow()
    flow.hass = hass
    flow.context = {"source": SOURCE_USER}

    result = await getattr(flow, f"async_step_{step}")()

    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["user", "manual"]
    assert result["description_placeholders"] == placeholders("")


async def options_step(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> ConfigFlowResult:
    """Open the options menu and pick ``step``."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "init"
    assert result["menu_options"] == ["meter", "tariff"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step
    return result


async def test_options_flow(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    """Options default to 1 and 125 A, are saved, and are suggested next time."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await options_step(hass, entry, "meter")
    assert suggested(result, CONF_MAIN_FUSE) is None

    options = {
        CONF_POWER_SCALE: 40.0,
        CONF_CURRENT_SCALE: 40.0,
        CONF_ENERGY_SCALE: 1.0,
        CONF_MAIN_FUSE: 250,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_POWER_SCALE: 40, CONF_CURRENT_SCALE: 40, CONF_MAIN_FUSE: 250},
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == options
    assert entry.options == options
    assert len(mock_setup_entry.mock_calls) == 2  # set up, then reloaded

    result = await options_step(hass, entry, "meter")
    assert suggested(result, CONF_POWER_SCALE) == 40.0
    assert suggested(result, CONF_MAIN_FUSE) == 250


METER_OPTIONS = {
    CONF_POWER_SCALE: 1.0,
    CONF_CURRENT_SCALE: 1.0,
    CONF_ENERGY_SCALE: 1.0,
    CONF_MAIN_FUSE: 125,
}


async def test_options_tariff(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    """A grid company with a price entity is saved beside the meter options."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options=METER_OPTIONS)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await options_step(hass, entry, "tariff")
    schema = result["data_schema"].schema
    company = next(marker for marker in schema if marker == CONF_GRID_COMPANY)
    values = [option["value"] for option in schema[company].config["options"]]
    assert values[0] == "none" and values[-1] == "custom"
    assert {"bkk", "elvia", "tensio_ts", "fjellnett"} <= set(values)

    # Neither a price entity nor a fixed price.
    tariff = {CONF_GRID_COMPANY: "bkk", CONF_SCHEME: "stromstotte"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], tariff
    )
    assert result["errors"] == {"base": "price_required"}
    assert suggested(result, CONF_GRID_COMPANY) == "bkk"
    # A fixed price, but strømstøtte needs the spot price.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], tariff | {CONF_FIXED_PRICE: 1.0}
    )
    assert result["errors"] == {CONF_PRICE_ENTITY: "spot_required"}

    tariff |= {CONF_PRICE_ENTITY: "sensor.nordpool", CONF_MARKUP: 0.02}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], tariff
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == METER_OPTIONS | tariff | {
        CONF_TAX_ZONE: "auto",
        CONF_MONTHLY_FEE: 0.0,
    }
    assert len(mock_setup_entry.mock_calls) == 2

    # A fixed price without a scheme needs no price entity; the old one goes.
    result = await options_step(hass, entry, "tariff")
    assert suggested(result, CONF_PRICE_ENTITY) == "sensor.nordpool"
    fixed = {
        CONF_GRID_COMPANY: "elvia",
        CONF_TAX_ZONE: "nord_norge",
        CONF_SCHEME: "none",
        CONF_FIXED_PRICE: 0.89,
        CONF_MONTHLY_FEE: 39.0,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], fixed)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == METER_OPTIONS | fixed | {CONF_MARKUP: 0.0}

    # None turns the tariff off and keeps the meter options.
    result = await options_step(hass, entry, "tariff")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_GRID_COMPANY: "none", CONF_SCHEME: "none"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == METER_OPTIONS | {CONF_GRID_COMPANY: "none"}


async def test_options_custom_tariff(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """A custom tariff asks for its prices and steps; bad steps are refused."""
    entry = aidon_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await options_step(hass, entry, "tariff")
    tariff = {
        CONF_GRID_COMPANY: "custom",
        CONF_SCHEME: "none",
        CONF_FIXED_PRICE: 1.1,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], tariff
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom"
    assert result["errors"] == {}

    for bad in ("1:120,5:280", "0:120,x", "0:120,5:190,5:280", ""):
        custom = {CONF_DAY_PRICE: 0.3, CONF_CAPACITY_STEPS: bad}
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], custom
        )
        assert result["errors"] == {CONF_CAPACITY_STEPS: "invalid_steps"}, bad
        assert suggested(result, CONF_CAPACITY_STEPS) == bad

    custom = {
        CONF_DAY_PRICE: 0.3,
        CONF_NIGHT_PRICE: 0.2,
        CONF_CAPACITY_STEPS: "0:120, 2:190,5:280,10,5:420",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], custom
    )
    assert result["errors"] == {CONF_CAPACITY_STEPS: "invalid_steps"}
    custom[CONF_CAPACITY_STEPS] = "0:120, 2:190,5:280,10.5:420"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], custom
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == tariff | custom | {
        CONF_TAX_ZONE: "auto",
        CONF_MARKUP: 0.0,
        CONF_MONTHLY_FEE: 0.0,
    }
