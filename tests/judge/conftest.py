"""Judge fixtures: a box pool in the judge's range (800-819)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pool():
    from rustbox import BoxPool
    boxes = BoxPool([810, 811])
    yield boxes
    boxes.close()


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"
