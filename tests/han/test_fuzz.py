"""A short run of the mutation fuzzer, so every test run fuzzes a little."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz.py"


def test_short_fuzz_run() -> None:
    """Damaged frames give no telegram and nothing escapes ``feed``."""
    spec = importlib.util.spec_from_file_location("han_fuzz", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    assert fuzz.run(3000, seed=11) == 0
