"""The decoder's command line, run as users run it."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.han_port.han import __main__ as cli
from custom_components.han_port.han.model import Quantity

from .frames import AIDON_LIST1, simulated

ROOT = Path(__file__).resolve().parents[2]
LIST1 = AIDON_LIST1
POWER = simulated("aidon", 1).truth[Quantity.ACTIVE_POWER_IMPORT]
P1 = "/ABC5METER\r\n\r\n1-0:1.7.0(01.193*kW)\r\n!"


def _p1_text() -> str:
    from custom_components.han_port.han.crc import crc16_arc  # noqa: PLC0415

    return P1 + f"{crc16_arc(P1.encode()):04X}\r\n"


def _run(argv: list[str], stdin: str | bytes) -> tuple[int, str]:
    out = io.StringIO()
    if isinstance(stdin, bytes):
        wrapper = io.TextIOWrapper(io.BytesIO(stdin))
    else:
        wrapper = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    args = cli.build_parser().parse_args(argv)
    code = cli.decode(args, wrapper, out)
    return code, out.getvalue()


def test_decode_binary_stream() -> None:
    """Binary stdin, noise and all, prints one JSON object per telegram."""
    code, out = _run(["decode"], b"\x00\x7e\x55" + LIST1 + b"\r\n" + LIST1)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    assert lines[0]["values"]["1.0.1.7.0.255"] == {"value": POWER, "unit": "W"}
    assert lines[0]["list"] == 1
    assert lines[0]["format"] == "hdlc"


def test_decode_hex_stream() -> None:
    """Hex text with any whitespace is a byte stream too."""
    text = " ".join(f"{byte:02x}" for byte in LIST1) + "\n"
    code, out = _run(["decode", "--hex"], text)
    assert code == 0
    assert json.loads(out)["values"]["1.0.1.7.0.255"]["value"] == POWER


def test_decode_hex_rejects_garbage() -> None:
    """Non-hex input is reported, not ignored."""
    with pytest.raises(ValueError, match="hexadecimal"):
        _run(["decode", "--hex"], "zz")


def test_decode_stream_without_telegram_fails() -> None:
    """A stream that only had broken frames exits non-zero."""
    broken = LIST1[:-3] + b"\x00\x00\x7e"
    code, out = _run(["decode"], broken)
    assert code == 1
    assert out == ""


def test_decode_lines() -> None:
    """One JSON line per input line: telegrams, an empty list, or an error."""
    lines = "\n".join(
        [
            LIST1.hex(),
            "",
            "7e a0 2a",
            "not hex",
            json.dumps(_p1_text()),
            "0f00000001" + "00" + "020209060100010700ff06000004d2",
            "db08" + "4b464d0000000001" + "0a30000000070102030405",
            json.dumps(42),
        ]
    )
    code, out = _run(["decode", "--lines"], lines + "\n")
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 8
    assert results[0][0]["values"]["1.0.1.7.0.255"]["value"] == POWER
    assert results[1] == []
    assert "error" in results[2]
    assert "error" in results[3]
    assert results[4][0]["format"] == "p1"
    assert results[4][0]["values"]["1.0.1.7.0.255"] == {"value": 1193, "unit": "W"}
    assert results[5][0]["format"] == "dlms"
    assert results[5][0]["values"]["1.0.1.7.0.255"]["value"] == 1234
    assert "MissingKeyError" in results[6]["error"]
    assert "error" in results[7]


def test_main_reports_bad_key() -> None:
    """A malformed key is a usage error with exit code 2."""
    assert cli.main(["decode", "--key", "xyz"]) == 2


def test_module_runs_as_script() -> None:
    """``python -m custom_components.han_port.han`` is the documented entry point."""
    result = subprocess.run(
        [sys.executable, "-m", "custom_components.han_port.han", "decode", "--lines"],
        input=LIST1.hex() + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert json.loads(result.stdout)[0]["values"]["1.0.1.7.0.255"]["value"] == POWER


async def _listen_to(data: bytes) -> str:
    """Run ``listen`` against a loopback server that sends ``data`` and closes."""

    async def serve(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(data)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    out = io.StringIO()
    args = cli.build_parser().parse_args(["listen", f"socket://127.0.0.1:{port}"])
    async with server:
        assert await asyncio.wait_for(cli.listen(args, out), 10) == 0
    return out.getvalue()


def _garbled(frame: bytes) -> bytes:
    """Return the frame as a reader with the wrong parity may see it."""
    return bytes(byte & 0x7F for byte in frame)


async def test_listen_over_tcp(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """``listen`` opens a socket:// URL with serialx and prints what arrives."""
    printed = await _listen_to(LIST1 + LIST1)
    assert [json.loads(line)["list"] for line in printed.splitlines()] == [1, 1]
    assert "no telegram" not in capsys.readouterr().err


async def test_listen_says_what_to_check_when_nothing_decodes(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Garbled bytes (wrong parity) bring one hint on the line settings, not silence."""
    garbled = _garbled(LIST1) * (cli.HINT_AFTER_BYTES // len(LIST1) + 3)
    assert await _listen_to(garbled) == ""
    err = capsys.readouterr().err
    assert err.count("no telegram in") == 1
    assert "checksum errors" in err
    assert "--parity" in err
    assert "--baudrate" in err


async def test_listen_says_what_to_check_when_closed_early(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A connection that ends before the hint is due still says why nothing printed."""
    assert await _listen_to(_garbled(LIST1)) == ""
    err = capsys.readouterr().err
    assert err.count("no telegram in") == 1
    assert f"no telegram in {len(LIST1)} bytes" in err


def test_listen_reports_unreachable_port() -> None:
    """A port that cannot be opened gives a clear message and exit code 1."""
    assert cli.main(["listen", "/dev/does-not-exist-han"]) == 1
