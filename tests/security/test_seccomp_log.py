"""A program's own seccomp filter cannot flood the host's audit log (issue 9, class 7).

A filter whose action is SECCOMP_RET_LOG (or any filter installed with
SECCOMP_FILTER_FLAG_LOG) makes the kernel write one audit record per system
call the program makes, to the host's audit log and kernel log: a flood no
limit of the box bounds, which also drowns the kill records rustbox names
forbidden calls from. Under `default` and `strict`, installing a filter
fails with EPERM, whichever way it is asked (`seccomp()`,
`prctl(PR_SET_SECCOMP)`, junk in the int option's high bits); ordinary
`prctl` keeps working. `--seccomp off` installs nothing and leaves this to
the host (README, check-env).
"""
from __future__ import annotations

import subprocess
import time

import orjson
import pytest

from .conftest import RUSTBOX, cleanup, init_box

MODES = ("seccomp", "prctl", "prctl-high")
BATCH_BOX = 723


@pytest.mark.parametrize("policy", ["default", "strict"])
@pytest.mark.parametrize("mode", MODES)
def test_installing_a_logging_filter_fails_with_EPERM(run_box, policy, mode):
    run = run_box("--seccomp", policy, "./seccomp_log", mode)
    assert run.verdict["status"] == "OK" and run.output.strip() == "refused EPERM", run


@pytest.mark.parametrize("policy", ["default", "strict"])
def test_other_prctl_options_still_work(run_box, policy):
    run = run_box("--seccomp", policy, "./seccomp_log", "name")
    assert run.verdict["status"] == "OK" and run.output.strip() == "named", run


def test_installing_a_logging_filter_fails_in_batch(build_dir):
    lines = [{"id": f"{policy}-{mode}", "argv": ["./seccomp_log", mode], "seccomp": policy,
              "stdout": f"{policy}-{mode}.out"}
             for policy in ("default", "strict") for mode in MODES]
    box_dir = init_box(BATCH_BOX)
    try:
        spec = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX)], input=spec,
                              cwd=build_dir, capture_output=True, timeout=120)
        verdicts = [orjson.loads(line) for line in proc.stdout.splitlines()]
        assert len(verdicts) == len(lines) and {v["status"] for v in verdicts} == {"OK"}, verdicts
        for line in lines:
            assert (box_dir / line["stdout"]).read_text().strip() == "refused EPERM", line
    finally:
        cleanup(BATCH_BOX)


# Our own filter's kills are records too: one per killed process. A program
# that forks children to die on a forbidden call would write one for each,
# for as long as its limits allow; the first kill ends the run instead.
KILL_BOX = 727
MOST_RECORDS = 20       # the kills that land before the box is killed


def count_kill_records(box_id: int, run) -> tuple[object, int]:
    from rustbox.box import BoxDir
    from rustbox.seccomp_kills import KillWatcher
    watcher = KillWatcher(BoxDir(box_id).uid)
    try:
        if "audit-netlink" not in watcher.sources:
            pytest.fail("no audit netlink here: cannot count the records")
        result = run()
        time.sleep(0.5)                  # records of late kills, if any
        return result, watcher.killed()
    finally:
        watcher.close()


def test_a_loop_of_children_dying_on_forbidden_calls_ends_at_the_first(run_box):
    run, records = count_kill_records(
        700, lambda: run_box("--processes", "4", "--time", "5", "./kill_loop"))
    assert run.verdict["status"] == "SG" and run.verdict["signal"] == 31, run
    assert run.verdict["message"] == "forbidden system call: ptrace", run
    assert run.verdict["wall_time"] < 2.5, run        # not its 3 s of forking
    assert 1 <= records <= MOST_RECORDS, records


def test_the_first_kill_ends_a_batch_run_too(build_dir):
    init_box(KILL_BOX)
    spec = orjson.dumps({"id": "loop", "argv": ["./kill_loop"], "processes": 4,
                         "time": 5}) + b"\n"
    try:
        proc, records = count_kill_records(KILL_BOX, lambda: subprocess.run(
            [*RUSTBOX, "batch", "-", "--boxes", str(KILL_BOX)], input=spec, cwd=build_dir,
            capture_output=True, timeout=120))
        (verdict,) = [orjson.loads(line) for line in proc.stdout.splitlines()]
        assert verdict["status"] == "SG" and verdict["signal"] == 31, verdict
        assert verdict["message"] == "forbidden system call: ptrace", verdict
        assert 1 <= records <= MOST_RECORDS, records
    finally:
        cleanup(KILL_BOX)
