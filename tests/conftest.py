"""Fixtures shared by tests/unit and tests/integration."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@functools.cache
def _bench_script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bench_script():
    """bench/<name>.py as a module, imported once (the bench scripts are not a package):
    bench_script("real_sensors").results_page(...)."""
    return _bench_script
