"""A run must end, whatever the program does (issue 9, class 1).

Each program of `runend.c` leaves the supervisor something a naive wait
blocks on for ever: a child of the supervisor made with clone(CLONE_PARENT),
a zombie only its tracer can see, a tracer that burns CPU, stopped and
uninterruptible processes, a daemon holding the output pipe. Under
`--seccomp off` (the supervisor alone must cope) every one ends within its
wall limit plus a second with a sane verdict and nothing of the box left,
through the real CLI and through `rustbox batch` (the API's box helper).
The subprocess timeouts turn a regression into a failure, not a hang.
"""
from __future__ import annotations

import subprocess
import sys
import time

import orjson
import pytest

from .conftest import BOX, REPO, RUSTBOX, box_uid_processes, cleanup

TIME, WALL = 1.0, 2.0
LIMITS = ["--processes", "4", "--time", str(TIME), "--wall-time", str(WALL)]
HOLD_WALL = 6.0   # so that --time, not the wall limit, stops ptrace_hold_spin on a busy host
# What a run may take end to end: its wall limit, the promised second, and
# what is not the run (starting Python, the box's set-up, the helper).
START = 1.5
HANG = 20   # a run still going after this many seconds is taken for hung
BATCH_BOX = 706

# program -> (status, what else its verdict must say)
CASES = {
    # A CLONE_PARENT sibling exits: a zombie of the supervisor's, which the
    # PID namespace's init waits for when it dies.
    "clone_parent": ("OK", {"exit_code": 0}),
    "clone_parent_sleeper": ("OK", {"exit_code": 0}),
    "clone_parent_chain": ("OK", {"exit_code": 0}),
    # 50 siblings, one at a time under --processes 2: each needs the last
    # one's zombie reaped during the run (it holds a pid of pids.max).
    "clone_parent_many": ("OK", {"exit_code": 0}),
    # The program exits while its child ptrace()s it and never reaps it.
    "ptrace_zombie": ("OK", {"exit_code": 0}),
    # ... and the tracer burns CPU: it must not run on to RLIMIT_CPU.
    "ptrace_zombie_spin": ("OK", {"exit_code": 0}),
    # The tracer holds the program stopped and burns CPU: TO at --time
    # (its wall limit is far, see flags()).
    "ptrace_hold_spin": ("TO", {"message": "time limit exceeded"}),
    # A CLONE_PARENT sibling is the tracer.
    "sibling_tracer": ("OK", {"exit_code": 0}),
    "stop_self": ("TO", {"message": "wall time limit exceeded"}),
    "stopped_child": ("OK", {"exit_code": 0}),
    "vfork_hang": ("TO", {"message": "wall time limit exceeded"}),
    # A daemon keeps a copy of the stdout pipe whoever runs rustbox reads.
    "close_stdio": ("OK", {"exit_code": 0}),
}


def limits(program: str) -> dict:
    return {"processes": 2 if program == "clone_parent_many" else 4, "time": TIME,
            "wall_time": HOLD_WALL if program == "ptrace_hold_spin" else WALL}


def flags(program: str) -> list[str]:
    return [text for key, value in limits(program).items()
            for text in (f"--{key.replace('_', '-')}", str(value))]


def check(verdict: dict, program: str, elapsed: float) -> None:
    wall = limits(program)["wall_time"]
    status, fields = CASES[program]
    assert verdict is not None, f"{program}: no verdict"
    assert verdict["status"] == status, verdict
    for key, value in fields.items():
        assert verdict[key] == value, verdict
    # Stopped at --time by the cgroup's CPU figure, not by RLIMIT_CPU (3 s).
    assert verdict["cpu_time"] <= TIME + 0.2, verdict
    assert verdict["wall_time"] <= wall + 1, verdict
    assert elapsed <= wall + 1 + START, f"{program}: the run took {elapsed:.2f} s"
    # The verdict comes once every process of the box is dead: at once.
    assert not box_uid_processes(), f"{program}: {box_uid_processes()}"


@pytest.mark.parametrize("program", sorted(CASES))
def test_the_cli_run_ends(run_box, program):
    start = time.monotonic()
    run = run_box("--seccomp", "off", *flags(program), "./runend", program, timeout=HANG)
    check(run.verdict, program, time.monotonic() - start)
    assert run.returncode == (0 if CASES[program][0] == "OK" else 1), run


@pytest.mark.parametrize("program", sorted(CASES))
def test_the_batch_run_ends(build_dir, program):
    spec = {"id": program, "argv": ["./runend", program], "seccomp": "off", **limits(program)}
    start = time.monotonic()
    try:
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX)],
                              input=orjson.dumps(spec) + b"\n", cwd=build_dir,
                              capture_output=True, timeout=HANG)
        elapsed = time.monotonic() - start
        verdicts = [orjson.loads(line) for line in proc.stdout.splitlines()
                    if line.startswith(b"{")]
        assert len(verdicts) == 1, proc
        check(verdicts[0], program, elapsed)
    finally:
        cleanup(BATCH_BOX)


@pytest.mark.parametrize("policy", ["default", "strict"])
@pytest.mark.parametrize("program", ["clone_parent", "clone_ptrace", "clone_untraced"])
def test_clone_flags_no_solution_needs_are_killed(run_box, policy, program):
    # The second layer: no solution calls clone with these flags.
    run = run_box("--seccomp", policy, *LIMITS, "./runend", program, timeout=HANG)
    assert (run.verdict["status"], run.verdict["signal"], run.verdict["message"]) == (
        "SG", 31, "forbidden system call: clone"), run
    assert not box_uid_processes()


def test_without_the_second_layer_those_flags_work(run_box):
    # So the kills above come from the policies, and `off` really is off.
    for program in ("clone_ptrace", "clone_untraced"):
        run = run_box("--seccomp", "off", *LIMITS, "./runend", program, timeout=HANG)
        assert run.verdict["status"] == "OK", run


STUCK_HELPER = """
import os, signal, sys, time
import orjson
from rustbox import Box, Limits
box = Box(int(sys.argv[1])).init()
pid = box._helper.pid
assert pid > 0
os.kill(pid, signal.SIGSTOP)   # a helper that never answers
start = time.monotonic()
verdict = box.run(["/bin/true"], Limits(wall_time=0.5))
print(orjson.dumps({"verdict": verdict.to_dict(), "elapsed": time.monotonic() - start,
                    "helper_gone": box._helper is None}).decode())
"""


def test_a_silent_box_helper_does_not_hang_the_api(build_dir):
    # The helper bounds each run itself; the API's own deadline is the last
    # layer (a judge worker would otherwise renew its lease for ever).
    try:
        proc = subprocess.run([sys.executable, "-c", STUCK_HELPER, str(BATCH_BOX)],
                              cwd=REPO, capture_output=True, timeout=HANG)
        assert proc.returncode == 0, proc.stderr.decode()
        result = orjson.loads(proc.stdout)
        assert result["verdict"]["status"] == "XX", result
        assert "did not answer in time" in result["verdict"]["message"], result
        assert result["elapsed"] < 2 * 0.5 + 5 + 1, result
        assert result["helper_gone"], result
    finally:
        cleanup(BATCH_BOX)
