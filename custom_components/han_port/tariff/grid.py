"""Grid companies and their dated tariffs, shipped as JSON in ``data/grid/``.

Prices are stored ex VAT and ex taxes (fri-nettleie's convention), periods are
Oslo dates with an exclusive end, and each tariff's energy and capacity parts
carry their own source. Tariffs change on the first of a month, because the
capacity step is a monthly charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache
import itertools
import json
from pathlib import Path
import re

from .capacity import (
    CAPACITY_KEYS,
    PRICE_UNITS,
    CapacityMethod,
    CapacityPart,
    Step,
    read_capacity,
)
from .energy import ENERGY_KEYS, DayType, EnergyPart, EnergyRule, read_energy
from .errors import TariffDataError, UnknownGridCompanyError
from .exact import Number, exact
from .resources import data_names, data_text
from .schemes import scheme_regime
from .taxes import TaxZone, tax_regime
from .timeline import (
    Dated,
    Provenance,
    Reader,
    Source,
    Timeline,
    Validity,
    read_source,
    read_validity,
)

CUSTOM_ID = "custom"
_ID = re.compile(r"[a-z0-9_]+")
_COMPANY_KEYS = (
    "id",
    "name",
    "gln",
    "price_areas",
    "default_zone",
    "source",
    "note",
    "tariffs",
)
_TARIFF_KEYS = (
    "id",
    "valid_from",
    "valid_to",
    "customer_groups",
    "note",
    "energy",
    "capacity",
)
_GROUPS = frozenset({"household", "cabin", "small_business"})


@dataclass(frozen=True, slots=True)
class GridTariff:
    """One dated version of a company's household tariff."""

    id: str
    validity: Validity
    customer_groups: tuple[str, ...]
    energy: EnergyPart
    capacity: CapacityPart
    note: str | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        """Return the doubts recorded on this tariff's figures."""
        found = []
        for part, provenance in (
            ("energy", self.energy.provenance),
            ("capacity", self.capacity.provenance),
        ):
            if provenance.uncertain:
                found.append(f"{self.id} {part}: {provenance.note}")
        found.extend(
            f"{self.id} capacity step from {step.from_kw} kW: {step.note}"
            for step in self.capacity.steps
            if step.uncertain
        )
        return tuple(found)


@dataclass(frozen=True, slots=True)
class GridCompany:
    """A grid company (netteier) and its tariff timeline."""

    id: str
    name: str
    gln: tuple[str, ...]
    price_areas: tuple[str, ...]
    default_zone: TaxZone
    source: Source
    timeline: Timeline[GridTariff]
    note: str | None = None

    @property
    def tariffs(self) -> tuple[GridTariff, ...]:
        """Return every tariff version, oldest first."""
        return tuple(entry.value for entry in self.timeline.entries)

    def tariff_at(self, day: date) -> GridTariff:
        """Return the tariff valid on an Oslo date; past the newest one this raises."""
        return self.timeline.at(day).value


def _check_month_start(where: str, day: date | None) -> None:
    if day is not None and day.day != 1:
        raise TariffDataError(
            f"{where}: tariffs change on the first of a month, not {day.isoformat()}"
        )


def _read_tariff(reader: Reader, company_id: str) -> GridTariff:
    tariff_id = reader.text("id")
    if not tariff_id.startswith(f"{company_id}-"):
        raise TariffDataError(
            f"{reader.where}.id: {tariff_id!r} must start with {company_id!r}-"
        )
    validity = read_validity(reader)
    _check_month_start(f"{reader.where}.valid_from", validity.valid_from)
    _check_month_start(f"{reader.where}.valid_to", validity.valid_to)
    groups = tuple(str(group) for group in reader.items("customer_groups"))
    if not groups or not set(groups) <= _GROUPS:
        raise TariffDataError(
            f"{reader.where}.customer_groups: expected some of {sorted(_GROUPS)}"
        )
    return GridTariff(
        id=tariff_id,
        validity=validity,
        customer_groups=groups,
        energy=read_energy(reader.child("energy", ENERGY_KEYS)),
        capacity=read_capacity(reader.child("capacity", CAPACITY_KEYS)),
        note=reader.optional_text("note"),
    )


def parse_grid_company(raw: object, where: str = "grid company") -> GridCompany:
    """Validate and build a company from its JSON object."""
    top = Reader(where, raw, _COMPANY_KEYS)
    company_id = top.text("id")
    if _ID.fullmatch(company_id) is None:
        raise TariffDataError(f"{where}.id: use lower-case letters, digits and _")
    source = read_source(top)
    try:
        zone = TaxZone(top.text("default_zone"))
    except ValueError:
        raise TariffDataError(
            f"{where}.default_zone: expected one of {sorted(TaxZone)}"
        ) from None
    entries = []
    for index, item in enumerate(top.items("tariffs")):
        reader = Reader(f"{where}.tariffs[{index}]", item, _TARIFF_KEYS)
        tariff = _read_tariff(reader, company_id)
        entries.append(
            Dated(tariff.validity, tariff, Provenance(source, note=tariff.note))
        )
    ids = [entry.value.id for entry in entries]
    if len(set(ids)) != len(ids):
        raise TariffDataError(f"{where}.tariffs: tariff ids must be unique")
    return GridCompany(
        id=company_id,
        name=top.text("name"),
        gln=tuple(str(number) for number in top.items("gln", required=False)),
        price_areas=tuple(
            str(area) for area in top.items("price_areas", required=False)
        ),
        default_zone=zone,
        source=source,
        timeline=Timeline(f"{company_id} grid tariff", entries),
        note=top.optional_text("note"),
    )


def load_grid_company(company_id: str) -> GridCompany:
    """Return a shipped grid company by id (e.g. ``"bkk"``)."""
    if _ID.fullmatch(company_id) is None or f"{company_id}.json" not in data_names(
        "grid"
    ):
        raise UnknownGridCompanyError(f"no shipped grid company {company_id!r}")
    return _shipped_company(company_id)


@cache
def _shipped_company(company_id: str) -> GridCompany:
    """Read a shipped company once; its file does not change while running."""
    return parse_grid_company(
        json.loads(data_text("grid", f"{company_id}.json")), f"grid/{company_id}.json"
    )


def load_grid_company_file(path: str | Path) -> GridCompany:
    """Read a company (e.g. a user's custom tariff) from a JSON file in the shipped schema."""
    file = Path(path)
    return parse_grid_company(json.loads(file.read_text(encoding="utf-8")), file.name)


def list_grid_companies() -> list[GridCompany]:
    """Return every shipped grid company, sorted by name."""
    companies = [
        load_grid_company(name.removesuffix(".json")) for name in data_names("grid")
    ]
    return sorted(companies, key=lambda company: company.name.casefold())


def load_shipped_data() -> None:
    """Read every shipped data file now, so no later call touches the disk.

    An event loop (Home Assistant's) runs this in a worker thread once; after
    that, companies, taxes and schemes come from memory.
    """
    list_grid_companies()
    tax_regime()
    scheme_regime()


def custom_grid_company(
    *,
    day_price: Number,
    night_price: Number | None = None,
    day_hours: tuple[int, int] = (6, 22),
    day_days: Sequence[DayType | str] = (DayType.WORKDAY,),
    steps: Sequence[tuple[Number, Number]],
    steps_per: str = "NOK/month",
    threshold_inclusive: bool = True,
    peaks: int = 3,
    interval_minutes: int = 60,
    zone: TaxZone = TaxZone.STANDARD,
    valid_from: date = date(2024, 1, 1),
    name: str = "Custom",
) -> GridCompany:
    """Build the "custom" company from what a user typed in.

    Prices are ex VAT and ex taxes (use :func:`.taxes.grid_price_ex_taxes` on a price
    that includes them); ``steps`` are ``(from_kw, price)`` pairs, the first
    from 0 kW. Without ``night_price`` the energy part is flat.
    """
    _check_month_start("custom tariff valid_from", valid_from)
    source = Source(name="entered by the user", date=valid_from)
    provenance = Provenance(source)
    day = exact(day_price)
    if night_price is None:
        energy = EnergyPart(day, "flat", (), frozenset(), provenance)
    else:
        rule = EnergyRule(
            name="day",
            band="day",
            price=day,
            days=frozenset(DayType(kind) for kind in day_days),
            hours=day_hours,
        )
        energy = EnergyPart(
            exact(night_price), "night", (rule,), frozenset(), provenance
        )
    if steps_per not in PRICE_UNITS:
        raise TariffDataError(
            f"custom steps are priced per {sorted(PRICE_UNITS)}, not {steps_per!r}"
        )
    bounds = [exact(low) for low, _ in steps]
    if (
        not bounds
        or bounds[0] != 0
        or any(b <= a for a, b in itertools.pairwise(bounds))
    ):
        raise TariffDataError("custom steps must start at 0 kW and increase")
    uppers: list[Fraction | None] = [*bounds[1:], None]
    staircase = tuple(
        Step(index, low, upper, exact(price))
        for index, (low, upper, (_, price)) in enumerate(
            zip(bounds, uppers, steps, strict=True)
        )
    )
    capacity = CapacityPart(
        CapacityMethod.MONTHLY_MAX if peaks == 1 else CapacityMethod.TOP_N_DAILY_MAX,
        steps_per,
        provenance,
        interval_minutes=interval_minutes,
        n=peaks,
        steps=staircase,
        threshold_inclusive=threshold_inclusive,
    )
    tariff = GridTariff(
        f"{CUSTOM_ID}-{valid_from:%Y-%m}",
        Validity(valid_from, None),
        ("household",),
        energy,
        capacity,
    )
    return GridCompany(
        id=CUSTOM_ID,
        name=name,
        gln=(),
        price_areas=(),
        default_zone=zone,
        source=source,
        timeline=Timeline(
            f"{CUSTOM_ID} grid tariff", [Dated(tariff.validity, tariff, provenance)]
        ),
    )
