"""Limits and the parsing of sizes, times and counts."""
import pytest

from rustbox.errors import UsageError
from rustbox.limits import Limits, limits_from, parse_size, parse_time


@pytest.mark.parametrize("text, size", [("64M", 64 << 20), ("1G", 1 << 30), ("4096", 4096),
                                        ("512k", 512 << 10), ("2MiB", 2 << 20), (100, 100),
                                        ("unlimited", None), ("1.5M", int(1.5 * (1 << 20)))])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["banana", "-1M", "12X", "", True, -5])
def test_bad_sizes(text):
    with pytest.raises(UsageError):
        parse_size(text)


@pytest.mark.parametrize("text", ["-1", "0", "nan", "inf", "soon"])
def test_bad_times(text):
    with pytest.raises(UsageError):
        parse_time(text)


def test_wall_time_defaults_to_twice_time_plus_one():
    assert Limits(time=2).wall_time == 5
    assert Limits().wall_time is None
    assert Limits(time=2, wall_time=3).wall_time == 3


def test_kill_points_include_extra_time():
    limits = Limits(time=1, extra_time=0.5)
    assert limits.cpu_kill_at == 1.5 and limits.wall_kill_at == 3.5


def test_limits_from_flag_values():
    limits = limits_from({"time": "1.5", "mem": "64M", "processes": "4", "fsize": None})
    assert (limits.time, limits.mem, limits.processes, limits.fsize) == (1.5, 64 << 20, 4, None)


@pytest.mark.parametrize("values", [{"mem": "0"}, {"processes": "0"}, {"open_files": "x"},
                                    {"speed": "1"}])
def test_limits_from_rejects(values):
    with pytest.raises(UsageError):
        limits_from(values)


# -- one validation for the CLI, batch specs and the Python API (issue 10.7) --

CLI_SPELLINGS = [({"mem": "64M"}, "mem", 64 << 20), ({"time": "1.5"}, "time", 1.5),
                 ({"wall_time": "3"}, "wall_time", 3.0), ({"fsize": "1K"}, "fsize", 1024),
                 ({"stack": "unlimited"}, "stack", None), ({"processes": "4"}, "processes", 4),
                 ({"open_files": "128"}, "open_files", 128), ({"cpus": "0.5"}, "cpus", 0.5),
                 ({"extra_time": "0.25"}, "extra_time", 0.25), ({"swap": "0"}, "swap", 0)]


@pytest.mark.parametrize("values, field, expected", CLI_SPELLINGS)
def test_limits_accepts_the_cli_spellings(values, field, expected):
    assert getattr(Limits(**values), field) == expected
    assert Limits(**values) == limits_from(values)


REFUSED = [{"time": -1}, {"time": 0}, {"time": "soon"}, {"time": float("nan")},
           {"wall_time": -2}, {"extra_time": -0.5}, {"mem": 0}, {"mem": "64X"}, {"mem": -1},
           {"mem": 10 ** 30}, {"processes": 0}, {"processes": 1.5},
           {"processes": "many"}, {"open_files": 2}, {"cpu_shares": 1}, {"cpus": 0},
           {"fsize": 0}, {"time": True}, {"mem": [64]}, {"time": 10 ** 6}]


@pytest.mark.parametrize("values", REFUSED, ids=lambda v: repr(v))
def test_limits_refuses_what_the_cli_refuses(values):
    with pytest.raises(UsageError):
        Limits(**values)
    with pytest.raises(UsageError):
        limits_from({key: str(value) if isinstance(value, (int, float)) and not
                     isinstance(value, bool) else value for key, value in values.items()})


def test_limits_stays_immutable_and_comparable():
    limits = Limits(mem="64M", time="1")
    with pytest.raises(AttributeError):
        limits.time = 5
    assert limits == Limits(mem=64 << 20, time=1.0) and hash(limits) == hash(Limits(mem="64M",
                                                                                   time=1))
    assert limits.replace(mem="1G").mem == 1 << 30
    with pytest.raises(UsageError):
        limits.replace(processes=0)


def test_the_api_runs_with_the_cli_spelling_and_refuses_a_bad_limit_before_running():
    import os
    if os.geteuid() != 0:
        pytest.skip("runs a real box: needs root")
    import rustbox
    box_id = 714
    try:
        verdict = rustbox.run(["/bin/true"], Limits(mem="64M", time="1.5"), box_id=box_id)
        assert verdict.status == "OK", verdict
        assert verdict.limits["mem"] == 64 << 20 and verdict.limits["time"] == 1.5
        with pytest.raises(UsageError):
            rustbox.run(["/bin/true"], Limits(time=-1), box_id=box_id)
    finally:
        rustbox.Box(box_id).cleanup()
