"""Decoder benchmark: HAN Port against amshan 2.1.1, side by side in one run.

Both decoders get the same byte stream (the Norwegian and Swedish checksum-valid
HDLC frames of the corpus, back to back, in 64-byte reads as a serial port
delivers them) and produce decoded telegrams. Each round times the two back to
back and the median of the per-round ratios is reported, so machine noise hits
both alike.

Two figures are measured: the first pass, where every decoder is new and every
list layout is seen for the first time, and the steady state, where the same
decoder objects keep running over the stream again, as on a connection that
has been up for more than a few seconds (HAN Port then reuses the compiled
layout of each list; amshan keeps its own state too).
A second part decodes a simulated day of frames at real cadence and reports
how much the decoder's memory grew.

Usage: python scripts/bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import gc
import json
from pathlib import Path
import statistics
import sys
import time
import tracemalloc
import types
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _decoder_alone() -> None:
    """Import the decoder without the Home Assistant integration around it.

    The benchmark environment has no Home Assistant; the decoder package needs
    none, so its parent packages are registered as plain namespaces.
    """
    for name in ("custom_components", "custom_components.han_port"):
        module = types.ModuleType(name)
        module.__path__ = [str(ROOT.joinpath(*name.split(".")))]
        sys.modules.setdefault(name, module)


_decoder_alone()

from custom_components.han_port.han.simulator import MeterSimulator  # noqa: E402
from custom_components.han_port.han.stream import StreamDecoder  # noqa: E402

CORPUS = ROOT.parent / "shared" / "han-corpus"
CHUNK = 64
# Passes before the steady state is timed: long enough for every layout of the
# set to have come back as often as on a connection that has run for a minute.
WARM_UP_PASSES = 20


def corpus_frames() -> list[bytes]:
    """Return the NO/SE checksum-valid plain HDLC frames of the corpus."""
    frames = []
    with (CORPUS / "frames.jsonl").open(encoding="utf-8") as file:
        for line in file:
            entry = json.loads(line)
            if (
                entry["format"] == "hdlc_dlms"
                and entry["fcs_ok"]
                and entry["country"] in {"NO", "SE"}
            ):
                frames.append(bytes.fromhex(entry["hex"]))
    return frames


def chunks(stream: bytes) -> list[bytes]:
    """Split a stream into serial-sized reads."""
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def run_ours(
    reads: list[bytes], decoder: StreamDecoder | None = None
) -> tuple[int, int]:
    """Decode with HAN Port; return (telegrams, exceptions)."""
    decoder = decoder or StreamDecoder()
    count = 0
    for read in reads:
        count += len(decoder.feed(read))
    return count, 0


def amshan_state() -> tuple[Any, Any]:
    """Create amshan's HDLC reader and auto decoder, as its integration does."""
    from han import autodecoder, hdlc  # noqa: PLC0415 - benchmark-only dependency

    return (
        hdlc.HdlcFrameReader(use_octet_stuffing=False, use_abort_sequence=False),
        autodecoder.AutoDecoder(),
    )


def run_amshan(
    reads: list[bytes], state: tuple[Any, Any] | None = None
) -> tuple[int, int]:
    """Decode with amshan; return (telegrams, uncaught exceptions)."""
    reader, decoder = state or amshan_state()
    count = errors = 0
    for read in reads:
        for frame in reader.read(read):
            if not (frame.is_good_ffc and frame.is_expected_length):
                continue
            try:
                if decoder.decode_message(frame):
                    count += 1
            except Exception:  # noqa: BLE001 - counting amshan's uncaught exceptions
                errors += 1
    return count, errors


def timed(func: Callable[[], object]) -> float:
    """Time one round with the garbage collector quiet."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        func()
        return time.perf_counter() - started
    finally:
        gc.enable()


def memory_day() -> tuple[int, int, float]:
    """Decode a simulated day at real cadence; return (frames, growth bytes, seconds)."""
    start = datetime(2026, 1, 12, 0, 0, 0, tzinfo=UTC)
    simulator = MeterSimulator("kaifa", start=start, seed=3)
    frames = [frame.data for frame in simulator.frames_until(start + timedelta(days=1))]
    decoder = StreamDecoder()
    for frame in frames[:50]:
        decoder.feed(frame)  # warm up caches before measuring
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    for frame in frames:
        decoder.feed(frame)
    elapsed = time.perf_counter() - started
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(frames), after - before, elapsed


def main() -> int:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    frames = corpus_frames()
    reads = chunks(b"".join(frames))
    ours_count, _ = run_ours(reads)
    theirs_count, theirs_errors = run_amshan(reads)
    print(
        f"corpus NO/SE checksum-valid HDLC frames: {len(frames)} ({sum(map(len, frames))} bytes)"
    )
    print(f"  HAN Port     {ours_count} telegrams, 0 exceptions")
    print(
        f"  amshan 2.1.1 {theirs_count} telegrams, {theirs_errors} uncaught exceptions"
    )
    ours_state, theirs_state = StreamDecoder(), amshan_state()
    for _ in range(WARM_UP_PASSES):
        run_ours(reads, ours_state)
        run_amshan(reads, theirs_state)
    rows: dict[str, tuple[list[float], list[float]]] = {
        "first pass": ([], []),
        "steady state": ([], []),
    }
    for _ in range(args.rounds):
        rows["first pass"][0].append(timed(lambda: run_ours(reads)))
        rows["first pass"][1].append(timed(lambda: run_amshan(reads)))
        rows["steady state"][0].append(timed(lambda: run_ours(reads, ours_state)))
        rows["steady state"][1].append(timed(lambda: run_amshan(reads, theirs_state)))
    print(f"  {'':14} {'HAN Port':>12} {'amshan 2.1.1':>14} {'ratio':>8}")
    ratios = {}
    for name, (ours_times, theirs_times) in rows.items():
        # Each round times both decoders back to back; the median of the
        # per-round ratios is robust against the machine changing speed.
        ours_us = statistics.median(ours_times) / len(frames) * 1e6
        theirs_us = statistics.median(theirs_times) / len(frames) * 1e6
        ratios[name] = statistics.median(
            theirs / ours for ours, theirs in zip(ours_times, theirs_times, strict=True)
        )
        print(
            f"  {name:14} {ours_us:9.1f} us {theirs_us:11.1f} us {ratios[name]:7.1f}x"
        )
    ratio = ratios["steady state"]
    print(f"  target: steady state >= 20x -> {'met' if ratio >= 20 else 'NOT met'}")
    count, growth, elapsed = memory_day()
    print(
        f"simulated day (Kaifa, real cadence): {count} frames in {elapsed:.2f} s "
        f"({elapsed / count * 1e6:.1f} us/frame), memory growth {growth / 1024:.1f} KiB "
        f"(target < 1024 KiB)"
    )
    return 0 if ratio >= 20 and growth < 1024 * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
