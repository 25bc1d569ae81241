"""Generated fixtures: consumption series with exact totals and peaks, and CSV writers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from custom_components.han_port.tariff import Month, Reading, SpotPrices

OSLO = ZoneInfo("Europe/Oslo")
MILLI = Decimal("0.001")


def oslo(*args: int) -> datetime:
    """Return an Oslo wall-clock instant."""
    return datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def month_hours(month: Month) -> list[datetime]:
    """Return the UTC start of every clock hour of a month (743, 744 or 745)."""
    return [month.start + timedelta(hours=index) for index in range(month.hours)]


def spread(
    hours: list[datetime], total: Decimal, swing: Decimal
) -> dict[datetime, Decimal]:
    """Share ``total`` over ``hours`` to the Wh, alternating ±swing so the hours differ.

    The sum is exact; a test that needs different values gets them without a
    random generator.
    """
    base = (total / len(hours)).quantize(MILLI, rounding="ROUND_FLOOR")
    extra = int((total - base * len(hours)) / MILLI)
    values = {}
    for index, hour in enumerate(hours):
        bump = MILLI if index < extra else Decimal(0)
        sign = 1 if index % 2 == 0 else -1
        if index == len(hours) - 1 and len(hours) % 2:
            sign = 0  # an odd count keeps the last hour at the base
        values[hour] = base + bump + sign * swing
    assert sum(values.values()) == total
    return values


def series(
    month: Month,
    *,
    totals: Mapping[str, Decimal],
    classify: Callable[[datetime], str],
    fixed: Mapping[datetime, Decimal],
    swing: Decimal = Decimal("0.3"),
) -> list[Reading]:
    """Build a month of hourly readings: ``fixed`` hours as given, the rest sharing each class total."""
    fixed_utc = {
        hour.astimezone(OSLO).astimezone(ZoneInfo("UTC")): kwh
        for hour, kwh in fixed.items()
    }
    groups: dict[str, list[datetime]] = {name: [] for name in totals}
    for hour in month_hours(month):
        if hour not in fixed_utc:
            groups[classify(hour)].append(hour)
    values = dict(fixed_utc)
    for name, hours in groups.items():
        fixed_in_class = sum(
            (kwh for hour, kwh in fixed_utc.items() if classify(hour) == name),
            Decimal(0),
        )
        values.update(spread(hours, totals[name] - fixed_in_class, swing))
    return [Reading.of(hour, values[hour]) for hour in sorted(values)]


def flat_spot(hours: Iterable[datetime], price: str, minutes: int = 60) -> SpotPrices:
    """Return one price for every interval of the given hours."""
    points = []
    for hour in hours:
        points.extend(
            (hour + timedelta(minutes=offset), Decimal(price))
            for offset in range(0, 60, minutes)
        )
    return SpotPrices.from_series(points, minutes)


def write_consumption(path: Path, readings: Iterable[Reading]) -> Path:
    """Write ``start,kwh`` rows with Oslo offsets, as a meter export would."""
    rows = ["start,kwh"]
    rows.extend(
        f"{reading.start.astimezone(OSLO).isoformat()},{Decimal(reading.kwh.numerator) / reading.kwh.denominator}"
        for reading in readings
    )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_spot(path: Path, points: Iterable[tuple[datetime, str]]) -> Path:
    """Write ``start,nok_per_kwh`` rows."""
    rows = ["start,nok_per_kwh"]
    rows.extend(
        f"{start.astimezone(OSLO).isoformat()},{price}" for start, price in points
    )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
