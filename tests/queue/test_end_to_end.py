"""`judge worker` with the real grader in real boxes, on both backends.

Each result that comes back through the queue must equal what the grader
gives for the same file graded directly (measured times and memory aside),
and a worker killed with SIGKILL mid-grading must lose nothing. Needs root.
Box ids: 824-829.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from queue_helpers import REPO

from judge import grade_submission
from judge.queue import DONE, RUNNING, Submission, new_id
from rustbox import BoxPool
from rustbox.session import cleanup_box

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="boxes need root")

PROBLEMS = REPO / "testdata" / "problems"
CASES = [("aplusb", "accepted/sum.py"), ("aplusb", "wrong_answer/int32.cpp"),
         ("aplusb", "time_limit_exceeded/spin.c"), ("aplusb", "run_time_error/null.js"),
         ("hypot", "accepted/hypot.cpp"), ("primecount", "wrong_answer/off_by_one.c")]
# Not primecount's partially_accepted/trial_division.py: which of its tests pass
# is decided by the clock, and two gradings on a loaded host disagree on some.
DIRECT_BOXES, WORKER_BOXES = [828, 829], "824-825"
# reruns and runs depend on the timing too: a test near the limit runs again in one
# grading and not in another (judge/reruns.py).
MEASURED = {"cpu_time", "wall_time", "memory_peak", "reruns", "runs"}
ADDED_BY_WORKER = {"submission", "state", "worker", "attempt", "finished_at", "timings"}


# A message may quote what was measured ("over the time limit of 1 s (CPU
# time 1.003 s)"): that figure differs between two gradings, the rest not.
_MEASURED_FIGURE = re.compile(r"\d+\.\d{3} s\b")


def comparable(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in ADDED_BY_WORKER}
    out["tests"] = [{k: (_MEASURED_FIGURE.sub("<measured> s", v) if k == "message" else v)
                     for k, v in t.items() if k not in MEASURED} for t in result["tests"]]
    return out


def source_of(problem: str, path: str) -> Path:
    return PROBLEMS / problem / "submissions" / path


@pytest.fixture(scope="module")
def expected() -> dict:
    with BoxPool(DIRECT_BOXES) as pool:
        out = {case: comparable(grade_submission(PROBLEMS / case[0], source_of(*case), pool=pool))
               for case in CASES}
    yield out
    for box in DIRECT_BOXES:
        cleanup_box(box)


@pytest.fixture
def workers(queue_url, tmp_path):
    """Start `judge worker` processes; stop (SIGTERM) and check them after the test."""
    procs = []

    def start(name: str, lease: float = 30) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "judge", "worker", "--queue", queue_url, "--calibration", "off",
             "--boxes", WORKER_BOXES, "--problems", str(PROBLEMS), "--worker-id", name,
             "--lease", str(lease)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            stderr=open(tmp_path / f"{name}.err", "wb"))
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(60) for proc in procs]
    for box in range(824, 826):
        cleanup_box(box)          # raises if a box were still locked
    assert all(code in (0, -signal.SIGKILL) for code in codes)


def submit(queue, problem: str, path: str, **kw) -> Submission:
    source = source_of(problem, path)
    sub = Submission(new_id(), problem, source.read_text(), source.name, **kw)
    queue.enqueue(sub)
    return sub


def test_queue_results_equal_direct_grading(queue, workers, expected):
    subs = {submit(queue, *case).id: case for case in CASES}
    workers("w1")
    for sub_id, case in subs.items():
        record = queue.wait_result(sub_id, timeout=240)
        assert record["state"] == DONE and record["worker"] == "w1"
        assert record["submission"] == sub_id
        assert comparable(record) == expected[case], case


def test_a_worker_killed_mid_grading_loses_nothing(queue, workers, expected):
    case = ("aplusb", "time_limit_exceeded/spin.c")
    sub = submit(queue, *case)
    first = workers("A", lease=2)
    deadline = time.monotonic() + 120
    while not any(e.state == RUNNING and e.worker == "A" for e in queue.list()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)                 # well inside the compile or the 1 s test
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    workers("B", lease=2)          # opens the same boxes: A's locks must be gone
    record = queue.wait_result(sub.id, timeout=240)
    assert record["worker"] == "B" and record["attempt"] == 2
    assert comparable(record) == expected[case]
