"""Shared pytest fixtures."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pyts_image():
    """pyts.image, imported once per test session (the import takes tens of seconds)."""
    import pyts.image

    return pyts.image


@pytest.fixture(scope="session")
def trainer_utd_store(tmp_path_factory):
    """Tiny synthetic UTD-MHAD store with video, acc and gyro (see tests/integration/trainer_helpers.py)."""
    from trainer_helpers import utd_store

    return utd_store(tmp_path_factory.mktemp("trainer-utd"))


@pytest.fixture(scope="session")
def trainer_mmact_store(tmp_path_factory):
    """Tiny synthetic MMAct store with four cameras, a failed clip and an absent modality."""
    from trainer_helpers import mmact_store

    return mmact_store(tmp_path_factory.mktemp("trainer-mmact"))


@pytest.fixture(scope="session")
def trainer_sensor_store(tmp_path_factory):
    """Tiny synthetic UTD-MHAD store holding the accelerometer only, with 8-d class vectors."""
    from trainer_helpers import utd_sensor_store

    return utd_sensor_store(tmp_path_factory.mktemp("trainer-sensors"))
