"""rustbox/calibrate.py's pure parts on tables: figures in, class out.

(The real runs are in tests/integration/test_calibrate.py.)
"""
from __future__ import annotations

import pytest

from rustbox.calibrate import (NOISY, STEADY, THRESHOLDS, UNUSABLE, classify, steal_between,
                               summarise, thresholds_from, worse)
from rustbox.errors import UsageError


def test_summarise_gives_median_spread_and_slowdown_over_the_fastest_run():
    figures = summarise([1.0, 1.2, 2.0, 1.1, 1.0], [1.1, 1.3, 2.2, 1.2, 1.1])
    assert figures["median"] == 1.1 and figures["min"] == 1.0 and figures["max"] == 2.0
    assert figures["spread"] == pytest.approx(1.0)
    assert figures["slowdown"] == pytest.approx(0.1)
    assert figures["wall_median"] == 1.2
    assert figures["samples"] == [1.0, 1.2, 2.0, 1.1, 1.0]


def _host(spread_samples, steal=0.0):
    return {"cpu": summarise(spread_samples), "memory": summarise([1.0, 1.0, 1.01])}, steal


@pytest.mark.parametrize("samples, steal, expected", [
    ([1.0, 1.02, 1.05, 1.03], 0.0, STEADY),           # dedicated-machine noise
    ([1.0, 1.02, 1.05, 1.60], 0.0, NOISY),            # one slow run: re-runs absorb it
    ([1.0, 1.03, 1.04, 1.08], 0.05, NOISY),           # steady runs, but the hypervisor steals
    ([1.0, 1.02, 1.05, 2.50], 0.0, UNUSABLE),         # one run charged 2.5x its fastest
    ([1.0, 1.70, 1.80, 1.90], 0.0, UNUSABLE),         # the typical run is 1.75x the fastest
    ([1.0, 1.01, 1.02, 1.03], 0.25, UNUSABLE),        # a quarter of the CPU stolen
    ([1.0, 1.01, 1.02, 1.03], None, STEADY),          # no /proc/stat: judged on the runs
])
def test_the_class_is_the_worst_of_spread_slowdown_and_steal(samples, steal, expected):
    workloads, _ = _host(samples)
    klass, reasons = classify(workloads, steal)
    assert klass == expected
    assert bool(reasons) == (expected != STEADY)
    assert all(f"({klass})" in r or NOISY in r for r in reasons)


def test_reasons_name_the_figure_and_the_threshold_it_passed():
    klass, reasons = classify({"cpu": summarise([1.0, 1.0, 2.5])}, 0.0)
    assert klass == UNUSABLE
    assert reasons == ["cpu spread 150% (slowest 2.500 s, fastest 1.000 s) > 100% (unusable)"]


def test_thresholds_decide_and_can_be_overridden():
    workloads = {"cpu": summarise([1.0, 1.3, 1.3])}
    assert classify(workloads, 0.0)[0] == NOISY
    loose = thresholds_from({"spread": "0.5,2", "slowdown": "0.5,2"})
    assert classify(workloads, 0.0, loose)[0] == STEADY
    strict = thresholds_from({"spread": "0,0.2"})
    assert classify(workloads, 0.0, strict)[0] == UNUSABLE
    assert thresholds_from({"spread": None}) == THRESHOLDS


@pytest.mark.parametrize("overrides, message", [
    ({"spread": "0.5,0.1"}, "the first not above the second"),
    ({"steal": "x"}, "expected STEADY,NOISY"),
    ({"spread": "-1,2"}, "expected STEADY,NOISY"),
    ({"spread": "nan,1"}, "expected STEADY,NOISY"),
    ({"wobble": "1,2"}, "no threshold named"),
])
def test_bad_thresholds_are_one_line_usage_errors(overrides, message):
    with pytest.raises(UsageError, match=message):
        thresholds_from(overrides)


def test_steal_is_a_share_of_all_cpu_time_between_two_readings():
    #          user nice system idle iowait irq softirq steal guest guest_nice
    before = [100, 0, 50, 800, 50, 0, 0, 0, 10, 0]
    after = [200, 0, 100, 1500, 100, 0, 0, 100, 60, 0]
    shares = steal_between(before, after)
    assert shares["ticks"] == 1000                  # guest is inside user: not counted twice
    assert shares["steal"] == pytest.approx(0.10)
    assert shares["busy"] == pytest.approx(0.25)
    assert steal_between(None, after) is None
    assert steal_between(before, before)["steal"] == 0.0


def test_worse_orders_the_classes():
    assert worse(STEADY, NOISY) == NOISY
    assert worse(UNUSABLE, NOISY) == UNUSABLE
    assert worse(STEADY, STEADY) == STEADY
