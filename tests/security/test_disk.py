"""Disk (issue 9, class 7): what /box may hold, and what its files cost later runs.

- `--quota BLOCKS,INODES` (1 KiB blocks) bounds what a program can leave in
  /box: past it a write or create fails with ENOSPC, the program's own
  error, and the host's disk never sees more than the quota.
- Files a program leaves in the box (a --quota box keeps them in a tmpfs
  charged to the box, which cannot be reclaimed) never count in the next
  run's memory_peak.
"""
from __future__ import annotations

import os
import subprocess

import orjson
import pytest

from rustbox import Box, Limits

from .conftest import BOX, RUSTBOX, BoxDir, cleanup, init_box

MiB = 1 << 20
BATCH_BOX = 721
API_BOX = 722


def held_kib(box_id: int) -> int:
    """KiB the box's /box file system gives to files, as the host sees it."""
    figures = os.statvfs(BoxDir(box_id).path)
    return (figures.f_blocks - figures.f_bfree) * figures.f_frsize // 1024


def test_quota_stops_bytes_and_files_with_ENOSPC(run_box):
    run = run_box("--quota", "1024,16", "./disk", "bytes", 8)
    assert run.verdict["status"] == "RE", run
    written, err = run.output.split()[1:]
    assert err == "ENOSPC" and int(written) <= MiB, run
    assert run.verdict["limits"]["quota"] == [1024, 16]
    assert held_kib(BOX) <= 1024
    run = run_box("--quota", "1024,16", "./disk", "files", 100)
    assert run.verdict["status"] == "RE", run
    created, err = run.output.split()[1:]
    # 16 inodes: the program copied in takes one.
    assert err == "ENOSPC" and int(created) <= 15, run
    assert len(os.listdir(BoxDir(BOX).path)) <= 16


def test_a_quota_within_bounds_lets_the_program_be(run_box):
    run = run_box("--quota", "8192,16", "./disk", "bytes", 4)
    assert run.verdict["status"] == "OK" and run.output.split() == ["written", str(4 * MiB), "OK"], run


@pytest.mark.parametrize("value", ["1024", "1024,", "a,b", "-1,5", "1,0", "1,99999999999"])
def test_a_bad_quota_is_a_usage_error(run_box, value):
    run = run_box("--quota", value, "/bin/true")
    assert run.returncode == 2 and run.verdict is None, run
    assert run.stderr.count("\n") == 1 and "--quota" in run.stderr, run


def test_quota_through_batch(build_dir):
    # files first: once /box is full, a program's stdout file there is full too.
    lines = [{"id": "files", "argv": ["./disk", "files", "100"], "quota": [1024, 16],
              "stdout": "files.out"},
             {"id": "bytes", "argv": ["./disk", "bytes", "8"], "quota": "1024,16"}]
    box_dir = init_box(BATCH_BOX)   # batch removes boxes it made: keep the outputs
    try:
        spec = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX)], input=spec,
                              cwd=build_dir, capture_output=True, timeout=120)
        verdicts = {v["id"]: v for v in map(orjson.loads, proc.stdout.splitlines())}
        assert {v["status"] for v in verdicts.values()} == {"RE"}, verdicts
        created, err = (box_dir / "files.out").read_text().split()[1:]
        assert err == "ENOSPC" and int(created) <= 15
        assert held_kib(BATCH_BOX) <= 1024
    finally:
        cleanup(BATCH_BOX)


QUOTA = "204800,100"   # 200 MiB


@pytest.mark.parametrize("quota", [(), ("--quota", QUOTA)], ids=["disk", "quota"])
def test_files_left_in_the_box_do_not_count_in_the_next_run(run_box, quota):
    run = run_box(*quota, "--mem", "256M", "./disk", "bytes", 100)
    assert run.verdict["status"] == "OK" and run.verdict["memory_peak"] >= 100 * MiB, run
    for _ in range(2):
        later = run_box(*quota, "/bin/true")
        assert later.verdict["status"] == "OK", later
        assert later.verdict["memory_peak"] < 2 * MiB, later
    assert (BoxDir(BOX).path / "big").stat().st_size == 100 * MiB   # the files stay


@pytest.mark.parametrize("quota", [None, (204800, 100)], ids=["disk", "quota"])
def test_files_left_in_the_box_do_not_count_in_the_next_run_of_the_api(build_dir, quota):
    try:
        with Box(API_BOX) as box:
            (box.path / "disk").write_bytes((build_dir / "disk").read_bytes())
            os.chmod(box.path / "disk", 0o755)
            first = box.run(["./disk", "bytes", "100"], Limits(mem=256 * MiB, quota=quota))
            assert first.status == "OK" and first.memory_peak >= 100 * MiB, first
            for _ in range(2):
                later = box.run(["/bin/true"], Limits(quota=quota))
                assert later.status == "OK" and later.memory_peak < 2 * MiB, later
    finally:
        cleanup(API_BOX)


def test_a_box_with_subdirectories_moves_onto_a_quota(run_box):
    # Directories on disk move to the quota's tmpfs; the disk copy used to be
    # emptied after the tmpfs covered /box, so climbing back by ".." landed on
    # the tmpfs and the run failed ("quota failed: Directory not empty").
    made = run_box("--processes", 4, "/bin/sh", "-c", "mkdir -p d/e && echo x > d/e/f && echo y > d/g")
    assert made.verdict["status"] == "OK", made
    moved = run_box("--quota", QUOTA, "/bin/cat", "d/e/f", "d/g")
    assert moved.verdict is not None and moved.verdict["status"] == "OK", moved
    assert moved.output == "x\ny\n"
    back = run_box("/bin/cat", "d/e/f")
    assert back.verdict["status"] == "OK" and back.output == "x\n", back
