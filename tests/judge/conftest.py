"""Judge fixtures: a box pool in the judge's range (800-819)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pool():
    from rustbox import BoxPool
    boxes = BoxPool([810, 811])
    yield boxes
    boxes.cleanup()


@pytest.fixture(scope="session", autouse=True)
def no_judge_box_left():
    """`judge run --boxes ...` leaves its boxes initialised, as a user wants;
    the tests remove every box of the judge's range they may have made."""
    yield
    from rustbox.box import BoxDir
    from rustbox.session import cleanup_box
    for box_id in range(800, 820):
        if BoxDir(box_id).home.exists():
            cleanup_box(box_id)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"
