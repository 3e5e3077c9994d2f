"""Whole runs on a real cgroup v2 hierarchy: the CLI, batch mode and the judge.

The verdict table itself (OK RE SG TO ML OL, pids, --cpus) is
tests/integration/test_verdict_table.py, which `.ci/v2-vm` runs here too.
Timings are never asserted: the CI VM is emulated (10-50x slower).
Boxes 41-43 and 812-813.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import orjson
import pytest

from tests.conftest import REPO, RUSTBOX
from tests.v2 import skip_unless_v2, swap_total

skip_unless_v2()
MiB = 1 << 20
FIRST_UID = int(os.environ.get("RUSTBOX_FIRST_UID", "61000"))
PROBLEMS = REPO / "testdata" / "problems"


def box_cgroup(box: int) -> str:
    from rustbox.cgroups import open_box_cgroup
    cg = open_box_cgroup(box, "v2")
    return cg.path


def box_processes(box: int) -> str:
    return subprocess.run(["pgrep", "-u", str(FIRST_UID + box)], capture_output=True,
                          text=True).stdout


DAEMON = ("#include <unistd.h>\nint main(){ if(fork()==0){ setsid(); if(fork()==0){"
          " for(;;) sleep(1);} _exit(0);} return 0; }")
FORKBOMB = "#include <unistd.h>\nint main(){ for(;;) fork(); }"


@pytest.mark.parametrize("name, source, args, status", [
    ("daemon", DAEMON, ["--processes", "10"], "OK"),
    # A fork bomb stopped by the time limit: cgroup.kill takes it all at once.
    ("forkbomb", FORKBOMB, ["--processes", "40", "--time", "1"], "TO"),
])
def test_end_of_run_sweep_leaves_no_process(run_box, programs, tmp_path, name, source, args, status):
    (tmp_path / f"{name}.c").write_text(source)
    subprocess.run(["gcc", "-o", programs / name, tmp_path / f"{name}.c"], check=True)
    result = run_box("run", "--box-id", 41, *args, f"./{name}")
    assert result.verdict["status"] == status, result.stderr
    assert box_processes(41) == ""
    with open(os.path.join(box_cgroup(41), "cgroup.procs")) as f:
        assert f.read() == ""


def test_batch_over_two_boxes(tmp_path, programs):
    kinds = [({"argv": ["/bin/true"]}, "OK"),
             ({"argv": ["./exit3"]}, "RE"),
             ({"argv": ["./spin"], "time": 0.3}, "TO"),
             ({"argv": ["./touch_mem", "64"], "mem": "16M"}, "ML"),
             ({"argv": ["./write_big", "4"], "fsize": "1M"}, "OL")]
    lines = [orjson.dumps({"id": f"t{i}", **spec}) for i, (spec, _) in enumerate(kinds * 2)]
    spec = tmp_path / "spec.jsonl"
    spec.write_bytes(b"\n".join(lines) + b"\n")
    try:
        proc = subprocess.run([*RUSTBOX, "batch", str(spec), "--boxes", "42-43"],
                              capture_output=True, timeout=900, cwd=programs)
        verdicts = {v["id"]: v for v in map(orjson.loads, proc.stdout.splitlines())}
        assert proc.returncode in (0, 1), proc.stderr
        for i, (_, status) in enumerate(kinds * 2):
            assert verdicts[f"t{i}"]["status"] == status, verdicts[f"t{i}"]
            assert verdicts[f"t{i}"]["cgroup"] == "v2"
        assert {v["box_id"] for v in verdicts.values()} == {42, 43}
    finally:
        for box in (42, 43):
            subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(box)], capture_output=True)
    assert box_processes(42) == box_processes(43) == ""


def test_judge_runs_one_package(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "judge", "run", str(PROBLEMS / "aplusb"),
             str(PROBLEMS / "aplusb/submissions/accepted/sum.c"), "--json", "--boxes", "812-813"],
            capture_output=True, timeout=900, env=env)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        result = json.loads(proc.stdout)
        assert result["verdict"] == "AC"
        assert all(test["verdict"] == "AC" for test in result["tests"])
    finally:
        for box in (812, 813):
            subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(box)], capture_output=True)


@pytest.mark.skipif(swap_total() < 128 * MiB, reason="no swap device (.ci/v2-vm adds zram)")
def test_swap_flag_through_the_cli(run_box):
    without = run_box("run", "--box-id", 41, "--mem", "32M", "./touch_mem", "64").verdict
    assert without["status"] == "ML" and without["oom"] is True
    with_swap = run_box("run", "--box-id", 41, "--mem", "32M", "--swap", "64M",
                        "./touch_mem", "64").verdict
    assert with_swap["status"] == "OK" and with_swap["oom"] is False, with_swap
    with open(os.path.join(box_cgroup(41), "memory.swap.max")) as f:
        assert f.read().strip() == str(64 * MiB)

