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
