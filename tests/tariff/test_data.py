"""Every shipped data file loads, validates and says where its figures come from."""

from __future__ import annotations

import copy
from datetime import date
from fractions import Fraction
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.han_port.tariff import (
    CapacityMethod,
    RateExpiredError,
    RateUnavailableError,
    TariffDataError,
    TaxZone,
    UnknownGridCompanyError,
    custom_grid_company,
    list_grid_companies,
    load_grid_company,
    load_grid_company_file,
    parse_grid_company,
    tax_regime,
)
from custom_components.han_port.tariff.resources import data_names, data_text
from custom_components.han_port.tariff.schemes import (
    Scheme,
    SchemeRegime,
    scheme_regime,
)
from custom_components.han_port.tariff.taxes import TaxRegime

SHIPPED = {
    "bkk",
    "elvia",
    "fjellnett",
    "foie",
    "glitre",
    "griug",
    "lede",
    "lnett",
    "norgesnett",
    "tensio_tn",
    "tensio_ts",
}


def test_shipped_companies() -> None:
    """The eleven companies of the reference are shipped, one file each, named by id."""
    companies = list_grid_companies()
    assert {company.id for company in companies} == SHIPPED
    assert data_names("grid") == sorted(f"{name}.json" for name in SHIPPED)


@pytest.mark.parametrize("company_id", sorted(SHIPPED))
def test_company_file_is_valid(company_id: str) -> None:
    """Periods do not overlap, start on the first of a month, and every figure has a dated source."""
    company = load_grid_company(company_id)
    assert company.name and company.gln and company.default_zone is TaxZone.STANDARD
    tariffs = company.tariffs
    for before, after in itertools.pairwise(tariffs):
        assert before.validity.valid_to is not None
        assert before.validity.valid_to <= after.validity.valid_from
    for tariff in tariffs:
        assert tariff.validity.valid_from.day == 1
        for provenance in (tariff.energy.provenance, tariff.capacity.provenance):
            assert provenance.source.name
            assert provenance.source.date <= date(2026, 11, 23)
            assert not provenance.uncertain or provenance.note
        if tariff.capacity.method is CapacityMethod.TOP_N_DAILY_MAX:
            assert tariff.capacity.n == 3
            assert tariff.capacity.steps[0].from_kw == 0
            assert all(
                step.price is not None or step.note for step in tariff.capacity.steps
            )
        assert tariff.id.startswith(f"{company_id}-")
        assert tariff.energy.base_price > 0


def test_reference_figures() -> None:
    """Spot checks against tariffs.md: prices ex VAT, capacity steps per month incl VAT."""
    elvia = load_grid_company("elvia").tariff_at(date(2026, 8, 1))
    assert elvia.energy.rules[0].price == Fraction("0.2899")
    first = [
        elvia.capacity.monthly_price(step, date(2026, 8, 1)) * Fraction("1.25")
        for step in elvia.capacity.steps[:4]
    ]
    assert first == [150, 250, 420, 585]
    lede = load_grid_company("lede").tariff_at(date(2026, 5, 1))
    assert [
        lede.capacity.monthly_price(step, date(2026, 5, 1)) * Fraction("1.25")
        for step in lede.capacity.steps[:3]
    ] == [
        Fraction("268.75"),
        Fraction("458.75"),
        Fraction("647.50"),
    ]
    tensio = load_grid_company("tensio_tn").tariff_at(date(2026, 7, 1))
    assert (
        tensio.capacity.monthly_price(tensio.capacity.steps[-1], date(2026, 7, 1))
        * Fraction("1.25")
        == 30046
    )
    assert len(tensio.capacity.steps) == 15


def test_uncertain_figures_stay_visible() -> None:
    """Figures the reference doubts are flagged in the data and reach the bill's notes."""
    norgesnett = load_grid_company("norgesnett").tariff_at(date(2026, 8, 1))
    assert any("weekend" in note for note in norgesnett.notes)
    lede = load_grid_company("lede").tariff_at(date(2025, 8, 1))
    assert any("17.9" in note for note in lede.notes)
    taxes = tax_regime().at(TaxZone.STANDARD, date(2025, 2, 1))
    assert taxes.elavgift == Fraction("0.0979")
    assert taxes.notes and "moderate confidence" in taxes.notes[0]


def test_taxes_by_zone() -> None:
    """2026: 7.13 + 1.00 øre + 25 % VAT in the south; no VAT in the north; only Enova in the tiltakssone."""
    day = date(2026, 3, 1)
    standard = tax_regime().at(TaxZone.STANDARD, day)
    assert (standard.elavgift + standard.enova) * standard.gross == Fraction(
        "0.1016250"
    )
    north = tax_regime().at(TaxZone.NORD_NORGE, day)
    assert (north.elavgift + north.enova) * north.gross == Fraction("0.0813")
    zone = tax_regime().at(TaxZone.TILTAKSSONE, day)
    assert (zone.vat, zone.elavgift, zone.enova) == (0, 0, Fraction("0.01"))


def test_expired_rates_raise() -> None:
    """Past the newest figure the engine stops: a typed error the HA layer turns into a repair issue."""
    with pytest.raises(RateExpiredError) as caught:
        tax_regime().at(TaxZone.STANDARD, date(2027, 1, 1))
    assert caught.value.valid_to == date(2027, 1, 1)
    assert caught.value.what == "elavgift"
    with pytest.raises(RateExpiredError):
        load_grid_company("foie").tariff_at(date(2026, 11, 1))
    with pytest.raises(RateExpiredError):
        scheme_regime().timelines[Scheme.NORGESPRIS].at(date(2027, 1, 1))
    with pytest.raises(RateUnavailableError) as before:
        load_grid_company("bkk").tariff_at(date(2024, 3, 31))
    assert not isinstance(before.value, RateExpiredError)
    # The tiltakssone pays no elavgift, so the missing 2027 rate does not matter there.
    assert tax_regime().at(TaxZone.TILTAKSSONE, date(2027, 1, 1)).enova == Fraction(
        "0.01"
    )


def test_unknown_company() -> None:
    """Ids are checked before any file is opened."""
    for bad in ("nope", "../taxes", "BKK"):
        with pytest.raises(UnknownGridCompanyError):
            load_grid_company(bad)


def test_company_file_round_trip(tmp_path: Path) -> None:
    """A company file in the shipped schema loads from anywhere (a user's custom tariff)."""
    path = tmp_path / "mine.json"
    path.write_text(data_text("grid", "bkk.json"), encoding="utf-8")
    assert load_grid_company_file(path).id == "bkk"


def test_custom_builder_checks() -> None:
    """The custom company refuses staircases and dates that cannot be right."""
    with pytest.raises(TariffDataError):
        custom_grid_company(day_price="0.3", steps=[(1, 100)])
    with pytest.raises(TariffDataError):
        custom_grid_company(day_price="0.3", steps=[(0, 100), (0, 200)])
    with pytest.raises(TariffDataError):
        custom_grid_company(day_price="0.3", steps=[(0, 100)], steps_per="NOK/week")
    with pytest.raises(TariffDataError):
        custom_grid_company(
            day_price="0.3", steps=[(0, 100)], valid_from=date(2026, 1, 15)
        )
    yearly = custom_grid_company(
        day_price="0.3", steps=[(0, 1200)], steps_per="NOK/year"
    )
    capacity = yearly.tariffs[0].capacity
    assert capacity.monthly_price(capacity.steps[0], date(2026, 1, 1)) == 100


# --- schema errors -------------------------------------------------------------------


def _bkk() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(data_text("grid", "bkk.json"))
    return raw


def _energy(raw: dict[str, Any]) -> dict[str, Any]:
    energy: dict[str, Any] = raw["tariffs"][-1]["energy"]
    return energy


def _capacity(raw: dict[str, Any]) -> dict[str, Any]:
    capacity: dict[str, Any] = raw["tariffs"][-1]["capacity"]
    return capacity


MUTATIONS = {
    "unknown key": lambda raw: raw.update(colour="blue"),
    "not an object": lambda raw: raw["tariffs"].__setitem__(0, "x"),
    "missing source": lambda raw: raw.pop("source"),
    "source without date": lambda raw: raw["source"].pop("date"),
    "bad date": lambda raw: raw["source"].update(date="2026-13-01"),
    "date not text": lambda raw: raw["source"].update(date=20260101),
    "empty name": lambda raw: raw.update(name=""),
    "bad id": lambda raw: raw.update(id="BKK!"),
    "bad zone": lambda raw: raw.update(default_zone="svalbard"),
    "tariffs not a list": lambda raw: raw.update(tariffs={}),
    "tariff id prefix": lambda raw: raw["tariffs"][0].update(id="x-2024-04"),
    "duplicate tariff id": lambda raw: raw["tariffs"][1].update(id="bkk-2024-04"),
    "mid-month start": lambda raw: raw["tariffs"][-1].update(valid_from="2026-01-15"),
    "overlap": lambda raw: raw["tariffs"][0].update(valid_to="2025-10-01"),
    "open before another": lambda raw: raw["tariffs"][0].update(valid_to=None),
    "ends before it starts": lambda raw: raw["tariffs"][-1].update(
        valid_to="2026-01-01"
    ),
    "bad customer group": lambda raw: raw["tariffs"][0].update(
        customer_groups=["industry"]
    ),
    "float price": lambda raw: _energy(raw)["base"].update(price=0.105),
    "price not a number": lambda raw: _energy(raw)["base"].update(price="cheap"),
    "implausible price": lambda raw: _energy(raw)["base"].update(price="105"),
    "uncertain without note": lambda raw: _energy(raw).update(
        uncertain=True, note=None
    ),
    "uncertain not a flag": lambda raw: _energy(raw).update(uncertain="yes"),
    "bad day type": lambda raw: _energy(raw)["rules"][0].update(days=["funday"]),
    "bad hours": lambda raw: _energy(raw)["rules"][0].update(hours=[6, 6]),
    "hours not numbers": lambda raw: _energy(raw)["rules"][0].update(hours=["6", 22]),
    "hour out of range": lambda raw: _energy(raw)["rules"][0].update(hours=[6, 25]),
    "bad month": lambda raw: _energy(raw)["rules"][0].update(months=[13]),
    "bad date text": lambda raw: _energy(raw).update(extra_offdays=["24.12"]),
    "impossible date": lambda raw: _energy(raw).update(extra_offdays=["02-30"]),
    "rules not a list": lambda raw: _energy(raw).update(rules={"day": 1}),
    "unknown method": lambda raw: _capacity(raw).update(method="guess"),
    "bad price unit": lambda raw: _capacity(raw).update(price_unit="EUR/year"),
    "bad interval": lambda raw: _capacity(raw).update(interval_minutes=30),
    "interval not integer": lambda raw: _capacity(raw).update(interval_minutes="60"),
    "n zero": lambda raw: _capacity(raw).update(n=0),
    "first step not zero": lambda raw: _capacity(raw)["steps"][0].update(from_kw="1"),
    "steps not increasing": lambda raw: _capacity(raw)["steps"][2].update(from_kw="1"),
    "null price without note": lambda raw: _capacity(raw)["steps"][2].update(
        price=None
    ),
    "negative price": lambda raw: _capacity(raw)["steps"][2].update(price="-1"),
    "no steps": lambda raw: _capacity(raw).update(steps=[]),
    "inclusive not a flag": lambda raw: _capacity(raw).update(threshold_inclusive=1),
    "fuse without rows": lambda raw: _capacity(raw).update(method="fuse", rows=[]),
    "weights missing": lambda raw: _capacity(raw).update(
        method="weighted_weekly_rolling",
        n=5,
        window_months=12,
        base_fee="1",
        per_kw="1",
        month_weights={"1": "1"},
    ),
    "weights out of range": lambda raw: _capacity(raw).update(
        method="weighted_weekly_rolling",
        n=5,
        window_months=12,
        base_fee="1",
        per_kw="1",
        month_weights={str(month): "0" for month in range(1, 13)},
    ),
    "weights not an object": lambda raw: _capacity(raw).update(
        method="weighted_weekly_rolling",
        n=5,
        window_months=12,
        base_fee="1",
        per_kw="1",
        month_weights=[1],
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_schema_errors(mutation: str) -> None:
    """A broken company file is refused with a message naming the place."""
    raw = copy.deepcopy(_bkk())
    MUTATIONS[mutation](raw)
    with pytest.raises(TariffDataError):
        parse_grid_company(raw)


TAX_MUTATIONS = {
    "other country": lambda raw: raw.update(country="SE"),
    "missing zone": lambda raw: raw["zones"].pop("tiltakssone"),
    "vat above one": lambda raw: raw["zones"]["standard"]["vat"][0].update(value="25"),
    "elavgift overlap": lambda raw: raw["elavgift"][0].update(valid_to="2024-05-01"),
    "timeline not a list": lambda raw: raw.update(enova={}),
    "empty timeline": lambda raw: raw.update(enova=[]),
}


@pytest.mark.parametrize("mutation", sorted(TAX_MUTATIONS))
def test_tax_schema_errors(mutation: str) -> None:
    """The tax file is validated the same way."""
    raw = json.loads(data_text("taxes.json"))
    TAX_MUTATIONS[mutation](raw)
    with pytest.raises(TariffDataError):
        TaxRegime(raw)


SCHEME_MUTATIONS = {
    "share above one": lambda raw: raw["stromstotte"][0].update(share="1.5"),
    "unknown dwelling": lambda raw: raw["norgespris"][0]["cap_kwh"].update(castle="1"),
    "no caps": lambda raw: raw["norgespris"][0].update(cap_kwh={}),
}


@pytest.mark.parametrize("mutation", sorted(SCHEME_MUTATIONS))
def test_scheme_schema_errors(mutation: str) -> None:
    """The scheme file is validated the same way."""
    raw = json.loads(data_text("schemes.json"))
    SCHEME_MUTATIONS[mutation](raw)
    with pytest.raises(TariffDataError):
        SchemeRegime(raw)


def test_scheme_data() -> None:
    """2026: strømstøtte 90 % above 77 øre, Norgespris 40 øre; caps 5 000 / 1 000 kWh."""
    rate = scheme_regime().timelines[Scheme.STROMSTOTTE].at(date(2026, 6, 1)).value
    assert (rate.price, rate.share, rate.two_way) == (
        Fraction("0.77"),
        Fraction("0.9"),
        False,
    )
    norgespris = (
        scheme_regime().timelines[Scheme.NORGESPRIS].at(date(2025, 10, 1)).value
    )
    assert norgespris.price == Fraction("0.4")
    assert {str(key): value for key, value in norgespris.caps.items()} == {
        "household": 5000,
        "cabin": 1000,
    }
    with pytest.raises(RateUnavailableError):
        scheme_regime().timelines[Scheme.NORGESPRIS].at(date(2025, 9, 30))


def test_seasonal_monthly_max_company() -> None:
    """Sør Aurdal's shape as data: a winter price by month only, single monthly max, 'til og med' steps."""
    source = {"name": "test", "date": "2026-08-23"}
    raw = {
        "id": "sor_aurdal",
        "name": "Sør Aurdal Energi AS Nett",
        "default_zone": "standard",
        "source": source,
        "tariffs": [
            {
                "id": "sor_aurdal-2026-09",
                "valid_from": "2026-09-01",
                "customer_groups": ["household"],
                "energy": {
                    "base": {"price": "0.2552", "band": "summer"},
                    "rules": [
                        {
                            "name": "winter",
                            "band": "winter",
                            "price": "0.2952",
                            "months": [1, 2, 3, 10, 11, 12],
                        }
                    ],
                    "source": source,
                },
                "capacity": {
                    "method": "monthly_max",
                    "threshold_inclusive": False,
                    "price_unit": "NOK/year",
                    "steps": [
                        {"from_kw": "0", "price": "5400"},
                        {"from_kw": "5", "price": "6240"},
                    ],
                    "source": source,
                },
            }
        ],
    }
    company = parse_grid_company(raw)
    tariff = company.tariff_at(date(2026, 10, 1))
    assert tariff.capacity.method is CapacityMethod.MONTHLY_MAX
    assert tariff.capacity.n == 1
    assert tariff.capacity.step_for(Fraction(5)).index == 0
    assert tariff.energy.bands == ("summer", "winter")
    assert company.gln == ()
