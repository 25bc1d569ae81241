"""Diagnostics download: useful for a bug report, and no household identified.

A simulated meter pushes real frames through a pseudo-terminal; the download
is fetched over HTTP as the frontend does, and its whole JSON text, including
what Home Assistant wraps around the integration's part, is searched for the
meter id in every form it can take in a frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from http import HTTPStatus
import json
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.han_port.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_MODEL,
    CONF_PARITY,
    CONF_PORT,
    CONF_VENDOR,
    DOMAIN,
    RECENT_FRAMES,
)
from custom_components.han_port.coordinator import HanCoordinator, mask_meter_id
from custom_components.han_port.diagnostics import mask_frame
from custom_components.han_port.han.model import Quantity
from custom_components.han_port.han.p1 import build_p1
from custom_components.han_port.han.simulator import MeterSimulator, SimulatedFrame

from .meter import PtyMeter, wait_for

ZONE = ZoneInfo("Europe/Oslo")
# Distinct last eight digits, so a binary copy of them can be searched for.
METER_ID = "7359992912345678"
ENCRYPTION_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AUTHENTICATION_KEY = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")

type MeterFactory = Callable[..., PtyMeter]


@pytest.fixture(autouse=True)
async def oslo(hass: HomeAssistant) -> None:
    """Run in the meter's time zone."""
    await hass.config.async_set_time_zone("Europe/Oslo")


@pytest.fixture
async def make_meter() -> AsyncIterator[MeterFactory]:
    """Return a factory of simulated meters behind pseudo-terminals."""
    made: list[PtyMeter] = []

    def make(vendor: str = "aidon", **kwargs: Any) -> PtyMeter:
        simulator = MeterSimulator(
            vendor,
            start=last_hour() - timedelta(minutes=2),
            seed=5,
            meter_id=METER_ID,
            **kwargs,
        )
        made.append(PtyMeter(simulator))
        return made[-1]

    yield make
    for meter in made:
        meter.close()


def last_hour() -> datetime:
    """Return the last full hour: pushes around it include a List 3."""
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0)


async def async_setup(
    hass: HomeAssistant, meter: PtyMeter, **data: Any
) -> MockConfigEntry:
    """Set up an entry for the meter, as the config flow would have made it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Aidon 6540",
        unique_id=METER_ID,
        data={
            CONF_PORT: meter.port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "E",
            CONF_VENDOR: meter.simulator.vendor,
            CONF_MODEL: meter.simulator.model,
            **data,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def async_push(
    entry: MockConfigEntry, meter: PtyMeter, minutes: float = 3
) -> list[SimulatedFrame]:
    """Push the meter's frames of a few minutes and wait until all decoded."""
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    start = coordinator.decoder.stats.telegrams
    frames = meter.frames(last_hour() + timedelta(minutes=minutes - 2))
    for frame in frames:
        meter.send(frame)
    await wait_for(lambda: coordinator.decoder.stats.telegrams >= start + len(frames))
    return frames


async def async_download(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry
) -> str:
    """Return the whole diagnostics file as the frontend downloads it."""
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client()
    response = await client.get(f"/api/diagnostics/config_entry/{entry.entry_id}")
    assert response.status == HTTPStatus.OK
    return await response.text()


def identifying_forms(meter_id: str) -> dict[str, str]:
    """Return every spelling of a meter id that would identify the household.

    Plain text (JSON values), the hex of its ASCII (inside hex frames), the hex
    of its hex-encoded ASCII (how DSMR P1 telegrams carry it), and the last
    eight digits as a binary number (the serial in an encrypted meter's system
    title), each with the last eight digits alone as well.
    """
    tail = meter_id[-8:]
    forms = {
        "id": meter_id,
        "tail": tail,
        "ascii hex": meter_id.encode().hex(),
        "tail ascii hex": tail.encode().hex(),
        "p1 hex": meter_id.encode().hex().upper().encode().hex(),
        "serial": int(tail).to_bytes(4).hex(),
    }
    return {name: form.lower() for name, form in forms.items()}


def assert_no_meter_id(text: str, meter_id: str = METER_ID) -> None:
    """Assert that no form of the meter id appears in a text."""
    lowered = text.lower()
    leaks = {
        name: form
        for name, form in identifying_forms(meter_id).items()
        if form in lowered
    }
    assert not leaks


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    make_meter: MeterFactory,
) -> None:
    """The download describes meter, line and decoder, with the id masked."""
    meter = make_meter()
    entry = await async_setup(hass, meter)
    frames = await async_push(entry, meter)
    assert len(frames) > RECENT_FRAMES
    assert any(frame.list_type == 3 for frame in frames)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert set(diagnostics) == {
        "entry",
        "meter",
        "connection",
        "decoder",
        "registers",
        "recent_frames",
    }
    assert diagnostics["entry"] == {
        "title": "Aidon 6540",
        "data": {
            CONF_PORT: meter.port,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "E",
            CONF_VENDOR: "aidon",
            CONF_MODEL: "6540",
        },
        "options": {},
    }
    info = diagnostics["meter"]
    assert info["meter_id"] == "7359" + "*" * 12
    assert info["vendor"] == "aidon"
    assert info["model"] == "6540"
    assert info["list_version"] == "AIDON_V0001"
    assert datetime.fromisoformat(info["meter_clock"]).minute == 0
    values = info["values"]
    assert "meter_id" not in values
    assert values["meter_model"] == "6540"
    hourly = [frame for frame in frames if frame.list_type == 3][-1]
    assert values["active_energy_import"] == hourly.truth[Quantity.ACTIVE_ENERGY_IMPORT]
    connection = diagnostics["connection"]
    assert connection["port"] == meter.port
    assert connection["line"] == "2400 8E1"
    assert connection["connected"] is True
    assert connection["available"] is True
    assert connection["connects"] == 1
    assert connection["bytes_received"] == sum(len(f.data) for f in frames)
    decoder = diagnostics["decoder"]
    assert decoder["telegrams"] == len(frames)
    assert decoder["checksum_errors"] == 0
    assert decoder["last_error"] is None
    registers = diagnostics["registers"]
    assert registers["accepted"] >= 1
    assert registers["last_rejection"] is None
    assert registers["statistics_rows_written"] == 0
    assert registers["main_fuse"] == 125

    recent = diagnostics["recent_frames"]
    assert isinstance(recent, list)
    assert len(recent) == RECENT_FRAMES
    sent = [part for frame in frames for part in frame.frames]
    assert recent == [
        mask_frame(part, METER_ID, METER_ID) for part in sent[-RECENT_FRAMES:]
    ]
    masked_id = mask_meter_id(METER_ID)
    assert masked_id is not None
    with_id = [bytes.fromhex(frame) for frame in recent]
    assert any(masked_id.encode() in frame for frame in with_id)
    assert_no_meter_id(json.dumps(diagnostics))


async def test_download_does_not_identify_the_meter(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    make_meter: MeterFactory,
) -> None:
    """Nothing in the whole file, Home Assistant's part included, names the meter."""
    meter = make_meter()
    entry = await async_setup(hass, meter)
    frames = await async_push(entry, meter)
    # A resent hourly push raises a repair issue, which the file includes.
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    meter.write(next(frame for frame in frames if frame.list_type == 3).data)
    await wait_for(lambda: coordinator.last_rejection is not None)

    text = await async_download(hass, hass_client, entry)

    payload = json.loads(text)
    assert payload["integration_manifest"]["domain"] == DOMAIN
    assert payload["data"]["meter"]["meter_id"].startswith("7359*")
    assert payload["data"]["registers"]["rejected"]["repeated"] == 1
    assert [issue["issue_id"] for issue in payload["issues"]] == [
        f"rejected_register_{entry.entry_id}"
    ]
    assert entry.unique_id == METER_ID
    assert_no_meter_id(text)


async def test_meter_number_is_masked(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    make_meter: MeterFactory,
) -> None:
    """A second number naming the meter is hidden from values and frames."""
    meter = make_meter()
    entry = await async_setup(hass, meter)
    await async_push(entry, meter, minutes=1)
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    # Kamstrup DK meters send a customer meter number besides the meter id.
    coordinator.values[Quantity.METER_NUMBER] = "57065671234"
    coordinator.decoder.recent_frames.append(b"\x7e\x09\x0b57065671234\x7e")

    text = await async_download(hass, hass_client, entry)

    assert "57065671234" not in text
    assert b"57065671234".hex() not in text
    assert json.loads(text)["data"]["recent_frames"][-1] == (
        b"\x7e\x09\x0b5706*******\x7e".hex()
    )
    assert_no_meter_id(text)


async def test_p1_meter(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    make_meter: MeterFactory,
) -> None:
    """A DSMR P1 meter's hex-encoded equipment id is masked in its telegrams."""
    meter_id = "E0034001671487619"
    meter = make_meter()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Iskra AM550",
        unique_id=meter_id,
        data={CONF_PORT: meter.port, CONF_BAUDRATE: 115200, CONF_PARITY: "N"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    assert isinstance(coordinator, HanCoordinator)
    for second in range(3):
        meter.write(
            build_p1(
                "ISK5\\2M550T-1012",
                [
                    "1-3:0.2.8(50)",
                    f"0-0:1.0.0(26010512000{second}W)",
                    f"0-0:96.1.1({meter_id.encode().hex().upper()})",
                    "1-0:1.8.1(000123.456*kWh)",
                    "1-0:1.8.2(000654.321*kWh)",
                    "1-0:1.7.0(01.193*kW)",
                ],
            )
        )
    await wait_for(lambda: coordinator.decoder.stats.telegrams >= 3)
    await hass.async_block_till_done()
    # Only tariff registers: their sum is the import register.
    assert coordinator.values[Quantity.ACTIVE_ENERGY_IMPORT] == 777777

    text = await async_download(hass, hass_client, entry)

    data = json.loads(text)["data"]
    assert data["meter"]["meter_id"] == "E003" + "*" * 13
    assert data["meter"]["values"]["active_energy_import"] == 777777
    assert data["registers"]["rejected"] == dict.fromkeys(
        ("decreased", "zero", "repeated", "implausible", "future"), 0
    )
    assert len(data["recent_frames"]) == 3
    frame = bytes.fromhex(data["recent_frames"][0])
    assert b"0-0:96.1.1(" + b"E003*************".hex().upper().encode() in frame
    assert_no_meter_id(text, meter_id)


async def test_encrypted_meter(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    make_meter: MeterFactory,
) -> None:
    """Keys are redacted; the serial in the frames' system title is masked."""
    meter = make_meter(
        "kaifa",
        encryption_key=ENCRYPTION_KEY,
        authentication_key=AUTHENTICATION_KEY,
    )
    entry = await async_setup(
        hass,
        meter,
        **{
            CONF_ENCRYPTION_KEY: ENCRYPTION_KEY.hex(),
            CONF_AUTHENTICATION_KEY: AUTHENTICATION_KEY.hex(),
        },
    )
    await async_push(entry, meter, minutes=1)

    text = await async_download(hass, hass_client, entry)

    data = json.loads(text)["data"]
    assert data["entry"]["data"][CONF_ENCRYPTION_KEY] == "**REDACTED**"
    assert data["entry"]["data"][CONF_AUTHENTICATION_KEY] == "**REDACTED**"
    assert ENCRYPTION_KEY.hex() not in text
    assert AUTHENTICATION_KEY.hex() not in text
    assert data["recent_frames"]
    assert data["decoder"]["telegrams"] > 0
    assert_no_meter_id(text)


async def test_network_url_is_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    make_meter: MeterFactory,
) -> None:
    """A secret in a network URL (ESPHome key, password) stays out of the file."""
    meter = make_meter()
    entry = await async_setup(hass, meter)
    url = "socket://user:hunter2@192.0.2.10:3001?key=secret&timeout=5"
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: url})

    text = await async_download(hass, hass_client, entry)

    assert "secret" not in text
    assert "hunter2" not in text
    port = json.loads(text)["data"]["entry"]["data"][CONF_PORT]
    assert port == (
        "socket://user:**REDACTED**@192.0.2.10:3001?key=**REDACTED**&timeout=5"
    )


@pytest.mark.parametrize(
    ("meter_id", "masked"),
    [
        (None, None),
        ("", ""),
        ("1234", "****"),
        ("12345678", "********"),
        ("123456789", "1234*****"),
        ("7359992912345678", "7359************"),
        ("E0034001671487619", "E003*************"),
    ],
)
def test_mask_meter_id(meter_id: str | None, masked: str | None) -> None:
    """Short ids are hidden whole; longer ones keep the maker's first digits."""
    assert mask_meter_id(meter_id) == masked


def test_mask_frame() -> None:
    """Every copy of the id in a frame is masked; the rest is kept as hex."""
    frame = b"\x7e\xa0" + METER_ID.encode() + b"\x01\x02" + METER_ID.encode() + b"\x7e"
    masked = mask_frame(frame, METER_ID)
    assert bytes.fromhex(masked) == (
        b"\x7e\xa07359************\x01\x027359************\x7e"
    )
    assert mask_frame(frame, "") == frame.hex()
    assert mask_frame(b"\x7e\x01\x7e", METER_ID) == "7e017e"


def test_mask_frame_system_title() -> None:
    """A ciphered APDU's system title keeps the maker's flag, not the serial."""
    apdu = b"\xdb\x08KFM\x10\x00\xbc\x61\x4e\x82\x01\x30"
    masked = bytes.fromhex(mask_frame(b"\x7e\xa0\xe6\xe7\x00" + apdu, METER_ID))
    assert masked == b"\x7e\xa0\xe6\xe7\x00\xdb\x08KFM*****\x82\x01\x30"
    # Without a flag after the tag it is not a system title.
    assert mask_frame(b"\xdb\x08\x01\x02\x03\x04\x05\x06\x07\x08", "") == (
        "db080102030405060708"
    )


def test_mask_frame_other_identifiers() -> None:
    """Other numbers naming the meter (a customer meter number) are masked too."""
    frame = b"\x09\x0b" + b"CUST1234567" + b"\x09\x04" + b"ABCD"
    masked = bytes.fromhex(mask_frame(frame, METER_ID, "CUST1234567", "ABCD", ""))
    assert masked == b"\x09\x0bCUST*******\x09\x04****"


def test_mask_frame_p1_hex_id() -> None:
    """A DSMR 4+ P1 telegram carries the id as hex-encoded ASCII text."""
    meter_id = "E0034001671487619"
    line = b"0-0:96.1.1(" + meter_id.encode().hex().upper().encode() + b")\r\n"
    masked = bytes.fromhex(mask_frame(b"/ISK5\\2M550T-1012\r\n\r\n" + line, meter_id))
    assert meter_id.encode().hex().upper().encode() not in masked
    assert b"0-0:96.1.1(" + b"E003*************".hex().upper().encode() + b")" in masked
