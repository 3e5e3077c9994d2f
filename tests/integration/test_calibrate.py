"""`rustbox calibrate` and `check-env --calibrate` with real runs in box 670.

Behaviour, not speed: whatever this host's noise, the class printed must be
the one its own figures give under the thresholds shown, the exit status
must follow the class, and thresholds set past any real noise (or at zero)
must move a real calibration to steady (or unusable).
"""
from __future__ import annotations

import orjson
import pytest

from rustbox.calibrate import CLASSES, UNUSABLE, classify
from tests.conftest import rustbox

BOX = "670"


@pytest.fixture(autouse=True)
def _cleanup():
    yield
    rustbox("cleanup", "--box-id", BOX)


def calibrate(*args):
    result = rustbox("calibrate", "--box-id", BOX, "--runs", "3", "--json", *args, timeout=120)
    assert result.stderr == b"", result.stderr
    return result.returncode, orjson.loads(result.stdout)


def test_the_class_is_the_one_the_measured_figures_give():
    status, report = calibrate()
    assert report["class"] in CLASSES
    assert set(report["workloads"]) == {"cpu", "memory"}
    for figures in report["workloads"].values():
        assert len(figures["samples"]) == 3 and all(s > 0 for s in figures["samples"])
        assert figures["min"] <= figures["median"] <= figures["max"]
    thresholds = {key: tuple(value) for key, value in report["thresholds"].items()}
    assert classify(report["workloads"], report["steal"], thresholds) == (
        report["class"], report["reasons"])
    assert status == (1 if report["class"] == UNUSABLE else 0)


def test_thresholds_past_any_noise_make_a_real_calibration_steady():
    status, report = calibrate("--spread", "1000,1000", "--slowdown", "1000,1000",
                               "--steal", "1,1")
    assert (status, report["class"], report["reasons"]) == (0, "steady", [])


def test_zero_thresholds_make_a_real_calibration_unusable_and_exit_1():
    # Three runs of real work are never charged the very same CPU time
    # to the tenth of a millisecond; any difference is over a zero threshold.
    status, report = calibrate("--spread", "0,0", "--slowdown", "0,0")
    assert (status, report["class"]) == (1, "unusable")
    assert any("spread" in reason and "(unusable)" in reason for reason in report["reasons"])


def test_the_human_report_shows_figures_thresholds_and_class():
    result = rustbox("calibrate", "--box-id", BOX, "--runs", "3", timeout=120)
    text = result.stdout.decode()
    for needle in ("median", "spread", "slowdown", "steal time", "thresholds: spread steady <= 10%",
                   "class: "):
        assert needle in text, text


@pytest.mark.parametrize("args, message", [
    (["--runs", "2"], "invalid number of runs"),
    (["--runs", "x"], "invalid --runs"),
    (["--spread", "0.5,0.1"], "invalid --spread"),
    (["--box-id", "-1"], "box"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = rustbox("calibrate", *args)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_check_env_measures_timing_only_when_asked():
    plain = rustbox("check-env").stdout.decode()
    assert "timing" in plain and "not measured" in plain
    measured = rustbox("check-env", "--calibrate", "--box-id", BOX, timeout=120).stdout.decode()
    line = next(l for l in measured.splitlines() if "timing" in l)
    assert any(f"{klass}: cpu spread" in line for klass in CLASSES), line
