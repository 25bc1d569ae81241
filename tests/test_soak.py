"""The soak, shortened for every test run: two days with every event (see tests/soak.py).

``scripts/soak`` runs a whole month through the same engine; its test here is
skipped unless ``HAN_PORT_SOAK_MONTH`` names the month.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
import logging
import os
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import pytest

from .soak import Plan, Soak, check, compressed_plan, month_plan

pytestmark = pytest.mark.freeze_time(tick=True)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Each Home Assistant instance of the soak enables custom integrations itself."""


@pytest.fixture(autouse=True)
def quiet_sql() -> Iterator[None]:
    """Do not log every SQL statement of a month of recording."""
    logger = logging.getLogger("sqlalchemy.engine")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def write_summary(out_dir: Path, table: str) -> None:
    """Keep the summary beside the CSV files the command line priced."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.txt").write_text(table + "\n", encoding="utf-8")


async def run(
    plan: Plan,
    async_test_recorder: Any,
    freezer: FrozenDateTimeFactory,
    out_dir: Path,
    *,
    progress: bool = False,
) -> None:
    """Run a plan, print its summary and fail on any difference."""
    soak = Soak(plan, freezer, async_test_recorder, None, out_dir, progress=progress)
    try:
        await soak.run()
        report = await check(soak)
    finally:
        await soak.finish()
    table = report.table()
    await asyncio.get_running_loop().run_in_executor(
        None, write_summary, out_dir, table
    )
    print(f"\n{table}")  # noqa: T201
    assert not report.failures, "\n".join(report.failures)


@pytest.mark.parametrize("persistent_database", [True])
async def test_soak_two_days(
    async_test_recorder: Any,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """Two days with three restarts, five silent hours, a repeated List 3, a 25-hour day."""
    await run(compressed_plan(), async_test_recorder, freezer, tmp_path)


@pytest.mark.skipif(
    not os.environ.get("HAN_PORT_SOAK_MONTH"), reason="run by scripts/soak"
)
@pytest.mark.parametrize("persistent_database", [True])
async def test_soak_month(
    async_test_recorder: Any,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """A whole month as ``scripts/soak`` asks for it."""
    year, month = (int(part) for part in os.environ["HAN_PORT_SOAK_MONTH"].split("-"))
    plan = month_plan(
        year,
        month,
        list1_every=timedelta(
            seconds=float(os.environ.get("HAN_PORT_SOAK_LIST1", "300"))
        ),
        list2_every=timedelta(
            seconds=float(os.environ.get("HAN_PORT_SOAK_LIST2", "20"))
        ),
    )
    out_dir = Path(os.environ.get("HAN_PORT_SOAK_OUT") or tmp_path)
    await run(plan, async_test_recorder, freezer, out_dir, progress=True)
