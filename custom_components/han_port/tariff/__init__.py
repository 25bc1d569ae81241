"""Electricity cost engine for Norwegian households: grid rent, taxes, supply and state schemes.

Pure Python (no Home Assistant import), exact arithmetic, dated data with
provenance. The Home Assistant layer builds an :class:`Installation` from the
options flow and calls :func:`compute_bill`, :func:`price_at`,
:func:`project_month` and :class:`CapacityTracker`; a rate used past its
validity raises :class:`RateExpiredError`, which it turns into a repair issue.
"""

from __future__ import annotations

from .bill import (
    Bill,
    CapacityCharge,
    HourCost,
    Projection,
    compute_bill,
    project_month,
)
from .capacity import CapacityMethod, CapacityPart, Step
from .clock import OSLO, Month, hours_in_day
from .energy import DayType, EnergyPart, EnergyPrice, EnergyRule
from .errors import (
    MissingPriceError,
    MissingRateError,
    RateExpiredError,
    RateUnavailableError,
    TariffDataError,
    TariffError,
    UnknownGridCompanyError,
)
from .exact import exact, to_ore
from .grid import (
    CUSTOM_ID,
    GridCompany,
    GridTariff,
    custom_grid_company,
    list_grid_companies,
    load_grid_company,
    load_grid_company_file,
    load_shipped_data,
    parse_grid_company,
)
from .holidays import easter_sunday, is_public_holiday, public_holidays
from .installation import Installation, Reading
from .price import PriceBreakdown, price_at, prices_ahead
from .report import bill_to_json
from .schemes import Dwelling, Scheme
from .spot import SpotPoint, SpotPrices, Supply
from .taxes import Taxes, TaxZone, ex_vat, grid_price_ex_taxes, tax_regime
from .tracker import CapacityTracker, Headroom, Peak

__all__ = [
    "CUSTOM_ID",
    "OSLO",
    "Bill",
    "CapacityCharge",
    "CapacityMethod",
    "CapacityPart",
    "CapacityTracker",
    "DayType",
    "Dwelling",
    "EnergyPart",
    "EnergyPrice",
    "EnergyRule",
    "GridCompany",
    "GridTariff",
    "Headroom",
    "HourCost",
    "Installation",
    "MissingPriceError",
    "MissingRateError",
    "Month",
    "Peak",
    "PriceBreakdown",
    "Projection",
    "RateExpiredError",
    "RateUnavailableError",
    "Reading",
    "Scheme",
    "SpotPoint",
    "SpotPrices",
    "Step",
    "Supply",
    "TariffDataError",
    "TariffError",
    "TaxZone",
    "Taxes",
    "UnknownGridCompanyError",
    "bill_to_json",
    "compute_bill",
    "custom_grid_company",
    "easter_sunday",
    "ex_vat",
    "exact",
    "grid_price_ex_taxes",
    "hours_in_day",
    "is_public_holiday",
    "list_grid_companies",
    "load_grid_company",
    "load_grid_company_file",
    "load_shipped_data",
    "parse_grid_company",
    "price_at",
    "prices_ahead",
    "project_month",
    "public_holidays",
    "tax_regime",
    "to_ore",
]
