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
