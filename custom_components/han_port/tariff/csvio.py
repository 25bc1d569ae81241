"""CSV input of the command line: consumption (``start,kwh``) and spot prices (``start,nok_per_kwh``).

Timestamps are ISO 8601 with a UTC offset, one row per metering interval (or
price point); the interval length is read from the spacing of the rows.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
import io
import itertools

from .clock import utc
from .exact import exact
from .installation import Reading
from .spot import SpotPrices


def _rows(text: str, value_column: str) -> list[tuple[datetime, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or {"start", value_column} - set(reader.fieldnames):
        raise ValueError(f"CSV needs the columns start,{value_column}")
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            start = utc(datetime.fromisoformat(row["start"].strip()))
        except (ValueError, AttributeError) as err:
            raise ValueError(f"line {line}: {err}") from err
        rows.append((start, row[value_column]))
    return sorted(rows)


def read_consumption_csv(text: str) -> list[Reading]:
    """Read ``start,kwh`` rows; the metering interval is the smallest gap (15 or 60 minutes)."""
    rows = _rows(text, "kwh")
    gaps = {later[0] - earlier[0] for earlier, later in itertools.pairwise(rows)}
    minutes = 15 if timedelta(minutes=15) in gaps else 60
    readings = []
    for start, kwh in rows:
        try:
            readings.append(Reading.of(start, exact(kwh), minutes))
        except ValueError as err:
            raise ValueError(f"consumption at {start.isoformat()}: {err}") from err
    return readings


def read_spot_csv(text: str) -> SpotPrices:
    """Read ``start,nok_per_kwh`` rows (ex VAT) at 15- or 60-minute resolution, mixed allowed."""
    pairs = []
    for start, price in _rows(text, "nok_per_kwh"):
        try:
            pairs.append((start, exact(price)))
        except ValueError as err:
            raise ValueError(f"spot price at {start.isoformat()}: {err}") from err
    minutes = 60 if len(pairs) == 1 else None
    return SpotPrices.from_series(pairs, minutes)
