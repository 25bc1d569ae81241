"""What the meter's energy costs: the tariff engine fed from Home Assistant.

Builds the :class:`~.tariff.Installation` from the options, follows the price
entity (its state and any price lists it carries) and remembers every
interval's price it has seen, so a finished hour is priced with its own price.
Each hour the meter's registers close is priced with the engine, added to the
month's capacity tracker and booked as hourly cost statistic
``han_port:<meter>_energy_cost`` in the same hour as its energy. A capacity
method over several months (Fjellnett's 12) also counts the hours of the
months before, kept in :mod:`.cost_history`. Everything the month needs is
saved, so a restart loses neither cost nor peaks. A rate past
its validity raises the ``tariff_expired`` repair issue instead of extrapolating.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    CONF_CAPACITY_STEPS,
    CONF_DAY_PRICE,
    CONF_FIXED_PRICE,
    CONF_GRID_COMPANY,
    CONF_MARKUP,
    CONF_MONTHLY_FEE,
    CONF_NIGHT_PRICE,
    CONF_SCHEME,
    CONF_TAX_ZONE,
    DOMAIN,
    GRID_CUSTOM,
    GRID_NONE,
    LOGGER,
    ZONE_AUTO,
)
from .cost_history import HourHistory, window_start
from .han.model import Quantity
from .registers import RegisterReading, spread
from .tariff import (
    Bill,
    CapacityTracker,
    Headroom,
    Installation,
    MissingPriceError,
    Month,
    PriceBreakdown,
    RateUnavailableError,
    Reading,
    Scheme,
    SpotPoint,
    SpotPrices,
    Supply,
    TariffError,
    TaxZone,
    compute_bill,
    custom_grid_company,
    exact,
    load_grid_company,
    price_at,
    prices_ahead,
)
from .tariff.clock import floor_interval

if TYPE_CHECKING:
    from .tariff_sensors import Shown

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10
# Prices are kept this long: the month's hours and the one before.
KEEP_PRICES: Final = timedelta(days=40)
AHEAD: Final = 48  # settlement intervals shown ahead
_STEP: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*")

type PricePoint = tuple[datetime, int, Fraction]


def tariff_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store of one entry's priced month."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.tariff")


def parse_steps(text: str) -> list[tuple[Fraction, Fraction]]:
    """Read capacity steps written ``0:120,2:190,5:280`` (from kW: NOK per month).

    The first step starts at 0 kW and each starts above the one before;
    anything else raises ``ValueError``.
    """
    steps: list[tuple[Fraction, Fraction]] = []
    for part in text.split(","):
        match = _STEP.fullmatch(part)
        if match is None:
            raise ValueError(f"not a step (kW:NOK): {part!r}")
        kw, price = exact(match[1]), exact(match[2])
        if (steps and kw <= steps[-1][0]) or (not steps and kw != 0):
            raise ValueError("steps must start at 0 kW and rise")
        steps.append((kw, price))
    return steps


def _number(value: Any) -> Fraction:
    return exact(value)


def build_installation(options: Mapping[str, Any]) -> Installation | None:
    """Return the installation the options describe, ``None`` without a tariff."""
    company_id = options.get(CONF_GRID_COMPANY, GRID_NONE)
    if company_id == GRID_NONE:
        return None
    if company_id == GRID_CUSTOM:
        night = options.get(CONF_NIGHT_PRICE)
        company = custom_grid_company(
            day_price=_number(options[CONF_DAY_PRICE]),
            night_price=None if night is None else _number(night),
            steps=parse_steps(options[CONF_CAPACITY_STEPS]),
        )
    else:
        company = load_grid_company(company_id)
    zone = options.get(CONF_TAX_ZONE, ZONE_AUTO)
    markup = _number(options.get(CONF_MARKUP, 0))
    fee = _number(options.get(CONF_MONTHLY_FEE, 0))
    fixed = options.get(CONF_FIXED_PRICE)
    supply = (
        Supply.spot(markup, fee)
        if fixed is None
        else Supply.fixed(_number(fixed), fee, markup)
    )
    return Installation(
        company,
        zone=None if zone == ZONE_AUTO else TaxZone(zone),
        scheme=Scheme(options.get(CONF_SCHEME, Scheme.NONE)),
        supply=supply,
    )


def _scale(state: State) -> Fraction:
    """Return the factor turning the entity's prices into NOK/kWh."""
    unit = str(state.attributes.get("unit_of_measurement") or "").casefold()
    factor = Fraction(1)
    if "øre" in unit or "ore/" in unit or state.attributes.get("price_in_cents"):
        factor /= 100
    if "mwh" in unit:
        factor /= 1000
    return factor


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return dt_util.parse_datetime(value)
    return None


def _price(value: Any, scale: Fraction) -> Fraction | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return exact(value) * scale
    except TypeError, ValueError:
        return None


def read_price_entity(
    state: State, now: datetime
) -> tuple[list[PricePoint], Fraction | None]:
    """Return the price lists a price entity carries and its state, in NOK/kWh.

    ``raw_today``/``raw_tomorrow`` (Nord Pool: ``start``, ``end``, ``value``)
    or ``today``/``tomorrow`` (prices from local midnight, 24 or 96 a day).
    """
    scale = _scale(state)
    points: list[PricePoint] = []
    for key in ("raw_today", "raw_tomorrow"):
        for item in state.attributes.get(key) or ():
            if not isinstance(item, Mapping):
                continue
            start = _instant(item.get("start"))
            end = _instant(item.get("end"))
            price = _price(item.get("value"), scale)
            if start is None or end is None or price is None:
                continue
            minutes = round((end - start).total_seconds() / 60)
            if minutes in (15, 60):
                points.append((start.astimezone(UTC), minutes, price))
    if not points:
        midnight = dt_util.start_of_local_day(now)
        for key, day in (("today", midnight), ("tomorrow", None)):
            values = state.attributes.get(key)
            if not isinstance(values, list) or not values:
                continue
            start = (
                day
                if day is not None
                else dt_util.start_of_local_day(midnight + timedelta(hours=26))
            ).astimezone(UTC)
            minutes = 15 if len(values) > 30 else 60
            for index, value in enumerate(values):
                if (price := _price(value, scale)) is not None:
                    points.append(
                        (start + index * timedelta(minutes=minutes), minutes, price)
                    )
    current = None
    if state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        current = _price(state.state, scale)
    return points, current


def _hour_of(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _complete(points: Iterable[PricePoint]) -> bool:
    return sum(minutes for _, minutes, _ in points) == 60


@dataclass(slots=True)
class MonthState:
    """The month as far as it is known: its bill, tracker and unpriced hours."""

    month: Month
    bill: Bill | None
    tracker: CapacityTracker | None
    unpriced: int


@dataclass(frozen=True, slots=True)
class _Interval[T]:
    """What holds for one settlement interval of one month state and spot prices."""

    start: datetime
    end: datetime
    state: MonthState
    spot: SpotPrices | None
    value: T


class TariffCost:
    """Prices the meter's hours for one config entry and keeps the month."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        title: str,
        statistic: str,
        installation: Installation,
        price_entity: str | None,
        on_change: Callable[[], None],
    ) -> None:
        """Prepare; ``async_load`` restores the month and follows the prices."""
        self.hass = hass
        self.entry_id = entry_id
        self.title = title
        self.statistic_id = statistic
        self.installation = installation
        self.price_entity = price_entity
        self._on_change = on_change
        self._store = tariff_store(hass, entry_id)
        self.hours: dict[datetime, Fraction] = {}
        self.history = HourHistory()
        self.prices: dict[datetime, tuple[PricePoint, ...]] = {}
        self.last_register: tuple[datetime, float] | None = None
        self.month_start_sum = Fraction(0)
        self.last_month: tuple[str, Fraction] | None = None
        self.month = Month.of(dt_util.utcnow())
        self.state = MonthState(self.month, None, None, 0)
        self.expired: str | None = None
        self._spot: SpotPrices | None = None
        self._booked: dict[datetime, Fraction] = {}
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._price_memo: _Interval[PriceBreakdown | None] | None = None
        # What the tariff sensors showed at the last update, kept with the
        # meter's cost so they share it (see ``tariff_sensors.figures``).
        self.shown: Shown | None = None
        self._ahead_memo: _Interval[list[PriceBreakdown]] | None = None

    # Lifecycle -------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore the month's hours and prices, and follow the price entity."""
        stored = await self._store.async_load() or {}
        self.hours = {
            datetime.fromisoformat(start): Fraction(kwh)
            for start, kwh in stored.get("hours", {}).items()
        }
        self.history = HourHistory.restore(stored.get("history"))
        for hour, points in stored.get("prices", {}).items():
            self.prices[datetime.fromisoformat(hour)] = tuple(
                (datetime.fromisoformat(start), int(minutes), Fraction(price))
                for start, minutes, price in points
            )
        if register := stored.get("register"):
            self.last_register = (datetime.fromisoformat(register[0]), register[1])
        if "month_start_sum" in stored:
            self.month_start_sum = Fraction(stored["month_start_sum"])
        else:
            self.month_start_sum = await self._recorded_sum_before(self.month.start)
        if stored.get("month"):
            self.month = Month.parse(stored["month"])
        if last := stored.get("last_month"):
            self.last_month = (last[0], Fraction(last[1]))
        self._spot = None
        if self.price_entity is not None:
            if (state := self.hass.states.get(self.price_entity)) is not None:
                self._take_prices(state)
            self._unsubscribe = async_track_state_change_event(
                self.hass, self.price_entity, self._price_changed
            )
        self._roll_to(Month.of(dt_util.utcnow()))
        self.history.prune(
            window_start(self.installation, self.month), self.month.start
        )
        self.recompute()
        # Nothing counts as booked after a start: rows still queued in the
        # recorder when Home Assistant stopped (or crashed) may never have been
        # written, so the month's rows are written again (upserts) with the
        # first hour booked, instead of leaving holes in the cost statistic.
        self._booked = {}

    async def async_stop(self) -> None:
        """Stop following the prices and save."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._store.async_save(self._stored())

    def _stored(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "hours": {start.isoformat(): str(kwh) for start, kwh in self.hours.items()},
            "history": self.history.stored(),
            "prices": {
                hour.isoformat(): [
                    [start.isoformat(), minutes, str(price)]
                    for start, minutes, price in points
                ]
                for hour, points in self.prices.items()
            },
            "register": [self.last_register[0].isoformat(), self.last_register[1]]
            if self.last_register is not None
            else None,
            "month_start_sum": str(self.month_start_sum),
            "last_month": [self.last_month[0], str(self.last_month[1])]
            if self.last_month is not None
            else None,
        }

    def _save(self) -> None:
        self._store.async_delay_save(self._stored, SAVE_DELAY)

    # Prices ----------------------------------------------------------------

    @callback
    def _price_changed(self, event: Event[EventStateChangedData]) -> None:
        if (state := event.data["new_state"]) is not None and self._take_prices(state):
            self.recompute()
            self._on_change()

    def _take_prices(self, state: State) -> bool:
        """Remember the prices an entity state gives; return whether any changed."""
        now = dt_util.utcnow()
        points, current = read_price_entity(state, now)
        by_hour: dict[datetime, list[PricePoint]] = {}
        for point in points:
            by_hour.setdefault(_hour_of(point[0]), []).append(point)
        changed = False
        for hour, found in by_hour.items():
            ordered = tuple(sorted(found))
            if _complete(ordered) and self.prices.get(hour) != ordered:
                self.prices[hour] = ordered
                changed = True
        hour = _hour_of(now)
        # A sensor's state alone is the price of the hour it is first seen in.
        if current is not None and hour not in by_hour and hour not in self.prices:
            self.prices[hour] = ((hour, 60, current),)
            changed = True
        for old in [start for start in self.prices if start < now - KEEP_PRICES]:
            del self.prices[old]
        if changed:
            self._spot = None
            self._save()
        return changed

    @property
    def spot(self) -> SpotPrices | None:
        """Return every price seen, ``None`` when none was."""
        if self._spot is None and self.prices:
            self._spot = SpotPrices(
                SpotPoint(start, minutes, price)
                for points in self.prices.values()
                for start, minutes, price in points
            )
        return self._spot

    @property
    def _needs_spot(self) -> bool:
        installation = self.installation
        return installation.supply.needs_spot or installation.scheme is not Scheme.NONE

    # Hours -----------------------------------------------------------------

    @callback
    def add_reading(self, boundary: datetime, reading: RegisterReading) -> None:
        """Price the hours up to an hourly register reading (gaps spread evenly)."""
        value = reading.values.get(Quantity.ACTIVE_ENERGY_IMPORT)
        if value is None:
            return
        if self.price_entity is not None and (
            state := self.hass.states.get(self.price_entity)
        ):
            self._take_prices(state)
        known, self.last_register = self.last_register, (boundary, value)
        if known is not None and boundary > known[0]:
            self.add_hours(
                (start, exact(max(energy, 0.0)) / 1000)
                for start, energy in spread(known[0], boundary, known[1], value)
            )
        self._save()

    @callback
    def rebase(self, boundary: datetime, reading: RegisterReading) -> None:
        """Take a reset meter's import register as the new reference."""
        if (value := reading.values.get(Quantity.ACTIVE_ENERGY_IMPORT)) is not None:
            self.last_register = (boundary, value)
            self._save()

    def add_hours(self, hours: Iterable[tuple[datetime, Fraction]]) -> None:
        """Record finished hours (start, kWh), then price the month again."""
        for start, kwh in sorted(hours):
            self._roll_to(Month.of(start))
            if start in self.month:
                self.hours[start.astimezone(UTC)] = kwh
            elif (since := window_start(self.installation, self.month)) is not None:
                if since <= start < self.month.start:
                    self.history.add([(start, kwh)])
        self._roll_to(Month.of(dt_util.utcnow()))
        self.recompute()
        self._book_costs()
        self._save()

    def _roll_to(self, month: Month) -> None:
        """Close the month when hours of a later one arrive; keep its total."""
        if month <= self.month:
            return
        self.recompute()
        self._book_costs()
        if self.state.bill is not None:
            self.last_month = (str(self.month), self.state.bill.total)
        self.month_start_sum += sum(self._hour_costs().values(), Fraction(0))
        if (since := window_start(self.installation, month)) is not None:
            self.history.add(self.hours.items())
        self.history.prune(since, month.start)
        self.month = month
        self.hours = {start: kwh for start, kwh in self.hours.items() if start in month}
        self._booked = {}

    def recompute(self) -> None:
        """Price the month's hours; a rate past its validity raises a repair issue."""
        month = self.month
        readings = [Reading.of(start, kwh) for start, kwh in sorted(self.hours.items())]
        spot = (self.spot or SpotPrices(())) if self._needs_spot else None
        priced = [
            reading
            for reading in readings
            if spot is None or _has_hour(spot, reading.start)
        ]
        try:
            earlier = self.history.counted(self.installation, month)
            tracker = self.installation.capacity_tracker(month)
            tracker.add_all(
                (reading.start, reading.kwh) for reading in [*earlier, *readings]
            )
            bill = compute_bill(self.installation, month, priced, spot, history=earlier)
        except RateUnavailableError as err:
            self._expired(str(err))
            self.state = MonthState(month, None, None, len(readings))
            return
        self._expired(None)
        self.state = MonthState(month, bill, tracker, len(readings) - len(priced))

    def _expired(self, detail: str | None) -> None:
        issue_id = f"tariff_expired_{self.entry_id}"
        if detail is None:
            if self.expired is not None:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            self.expired = None
            return
        if self.expired != detail:
            LOGGER.warning("Cannot price the month for %s: %s", self.title, detail)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="tariff_expired",
                translation_placeholders={"title": self.title, "detail": detail},
            )
        self.expired = detail

    # Cost statistic --------------------------------------------------------

    def _hour_costs(self) -> dict[datetime, Fraction]:
        bill = self.state.bill
        if bill is None:
            return {}
        return {hour.start: hour.total for hour in bill.hours}

    def _book_costs(self) -> None:
        """Write the month's hourly cost rows from the first hour that changed."""
        if "recorder" not in self.hass.config.components:
            return
        costs = self._hour_costs()
        total = self.month_start_sum
        rows: list[StatisticData] = []
        for start in sorted(costs):
            cost = costs[start]
            total += cost
            if rows or self._booked.get(start) != cost:
                rows.append(
                    StatisticData(start=start, state=float(cost), sum=float(total))
                )
        self._booked = costs
        if rows:
            async_add_external_statistics(self.hass, self._metadata(), rows)

    def _metadata(self) -> StatisticMetaData:
        return StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"{self.title} energy cost",
            source=DOMAIN,
            statistic_id=self.statistic_id,
            unit_class=None,
            unit_of_measurement="NOK",
        )

    async def _recorded_sum_before(self, moment: datetime) -> Fraction:
        """Return the cost statistic's sum before ``moment`` (0 without rows).

        A meter added again keeps its statistic id; its cost sum continues
        from the rows already recorded instead of dropping back to 0.
        """
        if "recorder" not in self.hass.config.components:
            return Fraction(0)
        recorder = get_instance(self.hass)
        found = await recorder.async_add_executor_job(
            statistics_during_period,
            self.hass,
            moment - KEEP_PRICES,
            moment,
            {self.statistic_id},
            "hour",
            None,
            {"sum"},
        )
        rows = found.get(self.statistic_id)
        if not rows:
            return Fraction(0)
        return exact(round(rows[-1].get("sum") or 0.0, 6))

    async def async_recompute(self, import_statistic: str) -> int:
        """Rebuild the month's hours from the recorded import statistic; return how many.

        A capacity method over several months also gets the hours of the
        months before that its history is missing.
        """
        month = Month.of(dt_util.utcnow())
        self._roll_to(month)
        since = window_start(self.installation, month)
        found = await get_instance(self.hass).async_add_executor_job(
            statistics_during_period,
            self.hass,
            month.start if since is None else since,
            month.end,
            {import_statistic},
            "hour",
            None,
            {"change"},
        )
        # Rows hold kWh as floats whose differences carry binary noise; the
        # registers resolve a milliwatt-hour at best.
        hours = {
            datetime.fromtimestamp(row["start"], UTC): exact(
                round(max(row.get("change") or 0.0, 0.0), 6)
            )
            for row in found.get(import_statistic, [])
        }
        self.hours = {start: kwh for start, kwh in hours.items() if start in month}
        if since is not None:
            self.history.fill(
                (start, kwh) for start, kwh in hours.items() if start < month.start
            )
        self._booked = {}
        self.recompute()
        self._book_costs()
        self._save()
        self._on_change()
        return len(self.hours)

    # What the sensors show -------------------------------------------------

    def _holds[T](self, memo: _Interval[T] | None, now: datetime) -> bool:
        return (
            memo is not None
            and memo.state is self.state
            and memo.spot is self._spot_for_price()
            and memo.start <= now < memo.end
        )

    def _spot_for_price(self) -> SpotPrices | None:
        return self.spot if self._needs_spot else None

    def _interval[T](self, now: datetime, value: T) -> _Interval[T]:
        minutes = self.installation.supply.settlement_minutes
        start = floor_interval(now, minutes)
        return _Interval(
            start,
            start + timedelta(minutes=minutes),
            self.state,
            self._spot_for_price(),
            value,
        )

    def _month_kwh(self) -> Fraction:
        bill = self.state.bill
        return bill.kwh if bill is not None else Fraction(0)

    def price_now(self, now: datetime) -> PriceBreakdown | None:
        """Return what the next kWh costs now, ``None`` without a price.

        A price holds for its settlement interval: it is worked out again only
        when the interval, the month's state (its energy) or the spot prices
        change, not for every telegram and sensor.
        """
        if self._holds(self._price_memo, now):
            assert self._price_memo is not None
            return self._price_memo.value
        try:
            price: PriceBreakdown | None = price_at(
                self.installation,
                now,
                self._spot_for_price(),
                month_kwh=self._month_kwh(),
            )
        except TariffError:
            price = None
        self._price_memo = self._interval(now, price)
        return price

    def prices_ahead(self, now: datetime) -> list[PriceBreakdown]:
        """Return the price of each coming interval that spot prices exist for.

        Worked out once per settlement interval, as ``price_now``: the list
        holds up to ``AHEAD`` prices.
        """
        if self._holds(self._ahead_memo, now):
            assert self._ahead_memo is not None
            return self._ahead_memo.value
        ahead: list[PriceBreakdown] = []
        if (spot := self._spot_for_price()) is not None:
            try:
                ahead = prices_ahead(
                    self.installation,
                    now,
                    spot,
                    month_kwh=self._month_kwh(),
                    limit=AHEAD,
                )
            except TariffError:
                ahead = []
        self._ahead_memo = self._interval(now, ahead)
        return ahead

    def today(self, now: datetime) -> Fraction | None:
        """Return the cost of today's finished hours."""
        bill = self.state.bill
        if bill is None:
            return None
        day = dt_util.as_local(now).date()
        return sum(
            (
                hour.total
                for hour in bill.hours
                if dt_util.as_local(hour.start).date() == day
            ),
            Fraction(0),
        )

    def limit(
        self, now: datetime, *, to_step: bool = False
    ) -> tuple[datetime, datetime, Fraction] | None:
        """Return the running interval and the energy it may reach (see ``headroom``).

        The sensors work the watts out from this every few seconds; the
        month's tracker keeps it for the interval.
        """
        tracker = self.state.tracker
        if tracker is None:
            return None
        try:
            return tracker.limit(now, to_step=to_step)
        except ValueError:
            return None

    def headroom(
        self, now: datetime, energy_kwh: Fraction, *, to_step: bool = False
    ) -> Headroom | None:
        """Return the headroom of the running hour (``None`` for fuse tariffs).

        ``to_step``: before the next capacity step rather than before any rise
        of the month's capacity value (``None`` on the top step).
        """
        tracker = self.state.tracker
        if tracker is None:
            return None
        try:
            if to_step:
                return tracker.step_headroom(now, energy_kwh)
            return tracker.headroom(now, energy_kwh)
        except ValueError:
            return None


def _has_hour(spot: SpotPrices, start: datetime) -> bool:
    try:
        spot.hourly(start)
    except MissingPriceError:
        return False
    return True
