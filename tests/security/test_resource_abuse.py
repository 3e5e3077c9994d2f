"""Programs that try to exhaust the host or outlive their run: the cgroup
limits, rlimits and the end-of-run sweep must hold them, and nothing of
theirs may be left running afterwards (the host guard checks that too).
"""
from __future__ import annotations

import time

import pytest

from .conftest import BOX, BoxDir, box_uid_processes

MiB = 1 << 20


@pytest.mark.parametrize("processes", [1, 50])
def test_fork_bomb_is_contained_and_swept(run_box, processes):
    start = time.monotonic()
    run = run_box("--processes", processes, "--time", "1", "--wall-time", "3", "./forkbomb")
    assert run.verdict["status"] == "TO", run
    assert run.verdict["cpu_time"] < 1.2, run
    assert time.monotonic() - start < 10, "the bomb was not stopped in time"
    assert not box_uid_processes()


@pytest.mark.parametrize("processes,most", [(1, 0), (50, 49)])
def test_the_process_limit_is_exact(run_box, processes, most):
    # fork_count keeps its children alive and exits: they must be swept too.
    run = run_box("--processes", processes, "./fork_count")
    assert run.verdict["status"] == "OK", run
    children = int(run.output.split()[0])
    assert children <= most and children >= most - 2, run
    assert not box_uid_processes()


def test_memory_bomb_is_ML_at_the_limit(run_box):
    run = run_box("--mem", "64M", "--time", "5", "./membomb")
    assert run.verdict["status"] == "ML" and run.verdict["oom"] is True, run
    assert run.verdict["memory_peak"] <= 64 * MiB + MiB, run


def test_output_flood_stops_at_fsize(run_box):
    run = run_box("--fsize", "1M", "--time", "5", "--stdout", "flood.out", "./flood")
    assert run.verdict["status"] == "OL" and run.verdict["output_limit"] is True, run
    # The box still exists until run_box's cleanup: look at what was written.
    written = (BoxDir(BOX).path / "flood.out").stat().st_size
    assert written <= MiB


def test_descriptor_exhaustion_stops_at_open_files(run_box):
    run = run_box("--open-files", "64", "./fd_exhaust")
    assert run.verdict["status"] == "OK", run
    opened, high_dup = (int(x) for x in run.output.split())
    assert opened <= 61 and high_dup == -1, run   # 64 minus stdin, stdout, stderr


def test_double_forked_daemon_does_not_outlive_the_run(run_box):
    run = run_box("--processes", "5", "./daemon", "1")
    assert run.verdict["status"] == "OK", run
    assert not box_uid_processes(), "the daemon survived the run"
    time.sleep(1.5)  # past the daemon's own wake-up
    assert not (BoxDir(BOX).path / "daemon_was_here").exists()


def test_spinning_in_the_sigterm_handler_does_not_dodge_the_limit(run_box):
    start = time.monotonic()
    run = run_box("--time", "1", "--wall-time", "3", "./sigterm_spin")
    assert run.verdict["status"] == "TO" and run.verdict["tle"] is True, run
    assert run.verdict["cpu_time"] < 1.2, run
    assert time.monotonic() - start < 10
    assert not box_uid_processes()
