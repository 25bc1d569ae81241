"""Command line for checking a meter by hand: ``python -m custom_components.han_port.han``.

``decode`` reads a byte stream (or hex text, or one frame per line) from stdin;
``listen`` opens a serial port or network URL with serialx and prints telegrams
as they arrive. Output is one JSON object per line, so it pipes into ``jq``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import string
import sys
from typing import Any, TextIO

from .apdu import Keys
from .errors import HanError
from .model import Telegram
from .stream import StreamDecoder, decode_frame

CHUNK = 4096
# Bytes without a telegram after which ``listen`` says what to check: a few
# pushes of any meter, so a slow start does not set it off.
HINT_AFTER_BYTES = 1024
_HEX_DIGITS = frozenset(string.hexdigits)


def _keys(args: argparse.Namespace) -> Keys | None:
    if not args.key:
        return None
    return Keys.from_hex(args.key, args.auth_key)


def _print(telegram: Telegram, out: TextIO) -> None:
    out.write(json.dumps(telegram.to_json(), ensure_ascii=False) + "\n")
    out.flush()


def _hex_bytes(text: str) -> bytes:
    digits = "".join(text.split())
    if not digits or any(char not in _HEX_DIGITS for char in digits) or len(digits) % 2:
        raise ValueError("input is not hexadecimal")
    return bytes.fromhex(digits)


def _line_bytes(text: str) -> bytes:
    if not text.startswith('"'):
        return _hex_bytes(text)
    loaded = json.loads(text)
    if not isinstance(loaded, str):
        raise TypeError("a JSON line must be a string")
    return loaded.encode("latin-1")


def _decode_line(line: str, keys: Keys | None) -> list[dict[str, Any]] | dict[str, str]:
    try:
        data = _line_bytes(line.strip())
        return [telegram.to_json() for telegram in decode_frame(data, keys)]
    except (HanError, ValueError, TypeError, UnicodeEncodeError) as err:
        return {"error": f"{type(err).__name__}: {err}"}


def decode(args: argparse.Namespace, stdin: Any, out: TextIO) -> int:
    """Run ``decode``: stream mode by default, one frame per line with ``--lines``."""
    keys = _keys(args)
    if args.lines:
        for line in stdin:
            if not line.strip():
                out.write("[]\n")
                continue
            out.write(json.dumps(_decode_line(line, keys), ensure_ascii=False) + "\n")
        return 0
    decoder = StreamDecoder(keys)
    if args.hex:
        data = _hex_bytes(stdin.read())
        chunks: Sequence[bytes] = [
            data[i : i + CHUNK] for i in range(0, len(data), CHUNK)
        ]
    else:
        raw = stdin.buffer if hasattr(stdin, "buffer") else stdin
        chunks = iter(lambda: raw.read(CHUNK), b"")  # type: ignore[assignment]
    for chunk in chunks:
        for telegram in decoder.feed(chunk):
            _print(telegram, out)
    stats = decoder.stats
    if stats.telegrams == 0 and decoder.last_error is not None:
        sys.stderr.write(f"no telegram decoded: {decoder.last_error}\n")
        return 1
    return 0


async def listen(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``listen``: print telegrams from a serial port or URL until interrupted."""
    import serialx  # noqa: PLC0415 - only the listen command needs the serial stack

    decoder = StreamDecoder(_keys(args))
    reader, writer = await serialx.open_serial_connection(
        args.port, baudrate=args.baudrate, parity=serialx.Parity(args.parity)
    )
    received = 0
    hinted = False
    try:
        while data := await reader.read(CHUNK):
            received += len(data)
            for telegram in decoder.feed(data):
                _print(telegram, out)
            if (
                not hinted
                and not decoder.stats.telegrams
                and received >= HINT_AFTER_BYTES
            ):
                hinted = True
                _say_what_to_check(decoder, received)
    except OSError as err:
        # Older serialx reports a peer closing a socket:// URL as an error.
        sys.stderr.write(f"connection closed: {err}\n")
    finally:
        writer.close()
    if received and not decoder.stats.telegrams and not hinted:
        _say_what_to_check(decoder, received)
    return 0


def _say_what_to_check(decoder: StreamDecoder, received: int) -> None:
    """Bytes that never make a frame are nearly always the line settings: say so."""
    stats = decoder.stats
    error = "" if decoder.last_error is None else f", last error: {decoder.last_error}"
    sys.stderr.write(
        f"no telegram in {received} bytes ({stats.checksum_errors} checksum errors, "
        f"{stats.discarded_bytes} bytes outside any frame{error}); check --parity "
        "and --baudrate (2400 8E1 for Aidon and Kaifa, 2400 8N1 for Kamstrup) and, "
        "for an encrypted meter, --key\n"
    )


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line (kept separate so tests can parse arguments)."""
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.han_port.han",
        description="Decode HAN port data from AMS smart meters (DLMS/COSEM, P1).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dec = commands.add_parser("decode", help="decode frames from stdin")
    dec.add_argument("--hex", action="store_true", help="stdin is hex text")
    dec.add_argument(
        "--lines",
        action="store_true",
        help="each line is one frame: hex, or P1 text as a JSON string",
    )
    lis = commands.add_parser("listen", help="print telegrams from a port or URL")
    lis.add_argument("port", help="serial device, socket://host:port or rfc2217:// URL")
    lis.add_argument("--baudrate", type=int, default=2400)
    lis.add_argument("--parity", choices=["E", "N", "O"], default="E")
    for sub in (dec, lis):
        sub.add_argument("--key", help="encryption key (GUEK), 32 hex digits")
        sub.add_argument("--auth-key", help="authentication key (GAK), 32 hex digits")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "decode":
            return decode(args, sys.stdin, sys.stdout)
        return asyncio.run(listen(args, sys.stdout))
    except ValueError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        sys.stderr.write(f"error: cannot open {args.port}: {err}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
