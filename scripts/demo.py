"""Live demo: a simulated meter's bytes through the stream decoder, printed as read.

The simulator produces exactly the frames a meter would send (List 1, List 2
and, after each full hour, List 3). Its bytes reach the decoder in small,
uneven reads as from a 2400 baud serial port, and each decoded telegram is
printed with its main values. It starts shortly before a full hour, so a List 3
with the meter's energy registers appears within a minute at the default speed.

Usage: python scripts/demo.py [--vendor aidon|kaifa|kamstrup] [--speed N] [--duration S]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
import random
import sys
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.han_port.han.model import Quantity, Telegram  # noqa: E402
from custom_components.han_port.han.simulator import SUPPORTED_VENDORS, MeterSimulator  # noqa: E402
from custom_components.han_port.han.stream import StreamDecoder  # noqa: E402

COLUMNS = (
    (Quantity.ACTIVE_POWER_IMPORT, "P+ W", "{:>6}"),
    (Quantity.ACTIVE_POWER_EXPORT, "P- W", "{:>5}"),
    (Quantity.VOLTAGE_L1, "U1 V", "{:>6}"),
    (Quantity.CURRENT_L1, "I1 A", "{:>6}"),
    (Quantity.CURRENT_L2, "I2 A", "{:>6}"),
    (Quantity.CURRENT_L3, "I3 A", "{:>6}"),
    (Quantity.ACTIVE_ENERGY_IMPORT, "A+ kWh", "{:>12}"),
)


def _row(telegram: Telegram) -> str:
    cells = [f"List {telegram.list_type}"]
    for quantity, _title, fmt in COLUMNS:
        value = telegram.get(quantity)
        if quantity is Quantity.ACTIVE_ENERGY_IMPORT and isinstance(
            value, (int, float)
        ):
            value = f"{value / 1000:.3f}"
        cells.append(fmt.format("" if value is None else str(value)))
    clock = (
        telegram.meter_time.isoformat(timespec="seconds") if telegram.meter_time else ""
    )
    return "  ".join(cells) + f"  {clock}"


def main() -> int:
    """Run the simulated meter until the duration ends or Ctrl+C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendor", choices=SUPPORTED_VENDORS, default="aidon")
    parser.add_argument(
        "--speed", type=float, default=10.0, help="simulated seconds per second"
    )
    parser.add_argument(
        "--duration", type=float, default=0, help="stop after S seconds (0: never)"
    )
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    start = now.replace(minute=58, second=30) if now.minute < 58 else now
    simulator = MeterSimulator(args.vendor, start=start, seed=int(now.timestamp()))
    decoder = StreamDecoder()
    rng = random.Random(0)
    print(
        f"HAN Port demo: simulated {args.vendor} meter at {args.speed:g}x real time, Ctrl+C stops"
    )
    print(
        "        "
        + "  ".join(fmt.format(title) for _q, title, fmt in COLUMNS)
        + "  meter clock"
    )
    began = time.monotonic()
    try:
        for frame in simulator.frames_until(start + timedelta(days=365)):
            due = (frame.time - start).total_seconds() / args.speed
            if args.duration and due > args.duration:
                break
            time.sleep(max(0.0, due - (time.monotonic() - began)))
            data = frame.data
            position = 0
            while position < len(data):
                size = rng.randint(1, 48)
                for telegram in decoder.feed(data[position : position + size]):
                    print(_row(telegram), flush=True)
                position += size
    except KeyboardInterrupt:
        print()  # Ctrl+C ends the demo; the summary follows
    stats = decoder.stats
    print(f"{stats.telegrams} telegrams, {stats.checksum_errors} checksum errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
