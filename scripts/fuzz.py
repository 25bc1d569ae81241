"""Mutation fuzzing of the stream decoder with real and simulated frames.

Each case builds a byte stream from seed frames, damages some of them (bit
flips, truncation, splicing, inserted noise) and feeds it in random chunks.
It checks two things: ``feed`` never raises, and every telegram that comes out
equals one decoded from an undamaged seed frame: a damaged frame must give
nothing. Bit flips stay within what each checksum is guaranteed to detect
(up to three bits for the CRC-16 of HDLC and P1, one bit for the M-Bus sum).
Truncation and splicing can, rarely, produce a frame whose checksum is valid
by chance; a telegram is blamed on the decoder only when an independent,
bitwise checksum check finds no valid frame in the damaged bytes that gives it.

Usage: python scripts/fuzz.py [COUNT] [--seed N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import random
import sys
import time
import traceback

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.han_port.han.apdu import Keys  # noqa: E402
from custom_components.han_port.han.model import Telegram  # noqa: E402
from custom_components.han_port.han.simulator import MeterSimulator  # noqa: E402
from custom_components.han_port.han.stream import StreamDecoder  # noqa: E402

CORPUS = ROOT.parent / "shared" / "han-corpus"


def _corpus_seeds() -> list[tuple[bytes, Keys | None]]:
    seeds: list[tuple[bytes, Keys | None]] = []
    path = CORPUS / "frames.jsonl"
    if not path.exists():
        return seeds
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["format"] == "p1_ascii":
            if not entry.get("p1_crc_ok"):
                continue  # CRC-less P1 cannot detect damage; it is flagged unverified
            data = entry["text"].encode("latin-1")
        elif entry["format"].startswith("hdlc"):
            if not (entry["fcs_ok"] and entry["hdlc"]["hcs_ok"]):
                continue  # seeds are intact frames; damage is what the fuzzer adds
            data = bytes.fromhex(entry["hex"])
        elif entry["format"].startswith("mbus"):
            checks = ("mbus_checksum_ok", "mbus_length_ok", "mbus_stop_ok")
            if not all(
                segment.get(check) for segment in entry["mbus"] for check in checks
            ):
                continue
            data = bytes.fromhex(entry["hex"])
        else:
            continue
        keys = None
        if entry.get("keys"):
            keys = Keys.from_hex(
                entry["keys"]["encryption_key"], entry["keys"].get("authentication_key")
            )
        seeds.append((data, keys))
    return seeds


def _simulated_seeds() -> list[tuple[bytes, Keys | None]]:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    start = datetime(2026, 1, 5, 11, 59, 30, tzinfo=UTC)
    seeds: list[tuple[bytes, Keys | None]] = []
    for vendor in ("aidon", "kaifa", "kamstrup"):
        simulator = MeterSimulator(vendor, start=start, seed=7)
        seeds += [
            (frame.data, None)
            for frame in simulator.frames_until(start + timedelta(minutes=1))
        ]
    return seeds


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    """Damage a frame so that its checksum is guaranteed to catch it."""
    data = bytearray(frame)
    kind = rng.randrange(4)
    if kind == 0 or len(data) < 4:
        flips = 1 if data[:1] == b"\x68" else rng.randint(1, 3)
        for position in rng.sample(range(1, len(data) - 1), min(flips, len(data) - 2)):
            data[position] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 1:
        return bytes(data[: rng.randrange(1, len(data) - 1)])
    if kind == 2:
        cut = rng.randrange(1, len(data) - 1)
        return bytes(data[:cut]) + bytes(
            rng.randrange(256) for _ in range(rng.randint(1, 20))
        )
    position = rng.randrange(1, len(data) - 2)
    return bytes(data[:position]) + bytes(data[position + rng.randint(1, 3) :])


def _key(telegram: Telegram) -> str:
    """Identify a telegram by its content; the vendor a stream remembered may differ."""
    data = telegram.to_json()
    data.pop("vendor")
    return json.dumps(data, sort_keys=True)


def _reflected_crc16(data: bytes, poly: int, start: int, final: int) -> int:
    """Bitwise reference CRC, independent of the decoder's table and C code."""
    crc = start
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ final


def _crc_x25(data: bytes) -> int:
    return _reflected_crc16(data, 0x8408, 0xFFFF, 0xFFFF)


def _crc_arc(data: bytes) -> int:
    return _reflected_crc16(data, 0xA001, 0, 0)


def _valid_frames(stream: bytes) -> list[bytes]:
    """Find every checksum-valid frame in ``stream`` with reference checks."""
    found: list[bytes] = []
    for start, byte in enumerate(stream):
        if (
            byte == 0x7E
            and start + 3 <= len(stream)
            and stream[start + 1] & 0xF0 == 0xA0
        ):
            total = (((stream[start + 1] & 7) << 8) | stream[start + 2]) + 2
            frame = stream[start : start + total]
            if len(frame) == total and _crc_x25(frame[1:-3]) == int.from_bytes(
                frame[-3:-1], "little"
            ):
                found.append(frame)
        elif byte == 0x68 and start + 4 <= len(stream):
            length = stream[start + 1]
            length += 256 if length < 3 else 0
            frame = stream[start : start + length + 6]
            if (
                len(frame) == length + 6
                and frame[3] == 0x68
                and frame[-1] == 0x16
                and sum(frame[4:-2]) & 0xFF == frame[-2]
            ):
                found.append(frame)
        elif byte == 0x2F:
            end = stream.find(b"!", start)
            digits = stream[end + 1 : end + 5]
            if (
                end > 0
                and len(digits) == 4
                and all(c in b"0123456789ABCDEFabcdef" for c in digits)
            ):
                if _crc_arc(stream[start : end + 1]) == int(digits, 16):
                    found.append(stream[start : end + 5] + b"\r\n")
    return found


def _explained(stream: bytes, keys: Keys | None, telegram: str) -> bool:
    """Tell whether a frame that is valid by chance yields ``telegram``."""
    frames = _valid_frames(stream)
    for count in range(1, len(frames) + 1):
        decoder = StreamDecoder(keys)
        for out in decoder.feed(b"".join(frames[:count])):
            if _key(out) == telegram:
                return True
    return False


def run(count: int, seed: int) -> int:
    """Run ``count`` cases; return the number of failures."""
    rng = random.Random(seed)
    by_key: dict[Keys | None, list[bytes]] = {}
    for data, keys in _corpus_seeds() + _simulated_seeds():
        by_key.setdefault(keys, []).append(data)
    groups = list(by_key.items())
    originals: set[str] = set()
    for keys, frames in groups:
        for frame in frames:
            decoder = StreamDecoder(keys)
            originals.update(_key(t) for t in decoder.feed(frame))
    failures = 0
    telegrams = 0
    accidental = 0
    started = time.perf_counter()
    for case in range(count):
        keys, frames = groups[rng.randrange(len(groups))]
        parts: list[bytes] = []
        for _ in range(rng.randint(1, 3)):
            frame = frames[rng.randrange(len(frames))]
            if rng.random() < 0.8:
                frame = _mutate(rng, frame)
            if rng.random() < 0.3:
                frame = (
                    bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + frame
                )
            parts.append(frame)
        stream = b"".join(parts)
        decoder = StreamDecoder(keys)
        position = 0
        try:
            while position < len(stream):
                size = rng.choice((1, 2, 7, 32, 256, 4096))
                for telegram in decoder.feed(stream[position : position + size]):
                    telegrams += 1
                    text = _key(telegram)
                    if text in originals:
                        continue
                    if _explained(stream, keys, text):
                        accidental += 1
                        continue
                    failures += 1
                    print(f"case {case}: telegram from a damaged frame: {stream.hex()}")
                position += size
        except Exception:  # noqa: BLE001 - any escape is the failure we look for
            failures += 1
            print(f"case {case}: uncaught exception on {stream.hex()}")
            traceback.print_exc()
        if failures > 20:
            break
    elapsed = time.perf_counter() - started
    print(
        f"{count} cases, {telegrams - accidental} telegrams from undamaged frames, "
        f"{accidental} from frames made checksum-valid by chance, "
        f"{failures} failures (uncaught exceptions or telegrams from damaged frames), "
        f"{elapsed:.1f} s"
    )
    return failures


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return 1 if run(args.count, args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
