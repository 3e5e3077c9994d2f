"""Stopping `judge worker` mid-grading never stores a wrong result (issue 10.1).

Real `judge worker` processes, the real grader, real boxes, on both
backends. The worker runs in a process group of its own, as under a
terminal or systemd, and gets SIGINT (Ctrl-C) or SIGTERM (`systemctl stop`)
sent to the whole group, or to itself alone, once or twice, while it
grades. Afterwards each submission is either stored exactly as `judge run
--json` grades the same file (measured times aside), or queued again
untouched: never a JE. Needs root. Box ids: 830-833.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest
from queue_helpers import REPO

from judge.queue import DONE, QUEUED, RUNNING, Submission, new_id
from rustbox.session import cleanup_box

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="boxes need root")

PROBLEMS = REPO / "testdata" / "problems"
CASE = ("aplusb", "accepted/sum.py")          # 122 tests: long enough to interrupt
WORKER_BOXES, DIRECT_BOXES = (830, 831), (832, 833)
# reruns and runs depend on the timing too: a test near the limit runs again in one
# grading and not in another (judge/reruns.py).
MEASURED = {"cpu_time", "wall_time", "memory_peak", "reruns", "runs"}
ADDED_BY_WORKER = {"submission", "state", "worker", "attempt", "finished_at", "timings"}
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def comparable(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in ADDED_BY_WORKER}
    out["tests"] = [{k: v for k, v in t.items() if k not in MEASURED} for t in result["tests"]]
    return out


def source() -> "os.PathLike":
    return PROBLEMS / CASE[0] / "submissions" / CASE[1]


@pytest.fixture(scope="module")
def expected() -> dict:
    """What `judge run --json` says for the file."""
    proc = subprocess.run([sys.executable, "-m", "judge", "run", str(PROBLEMS / CASE[0]),
                           str(source()), "--json", "--boxes",
                           ",".join(map(str, DIRECT_BOXES))],
                          capture_output=True, env=ENV, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    yield comparable(orjson.loads(proc.stdout))
    for box in DIRECT_BOXES:
        cleanup_box(box)


def start_worker(queue_url: str, name: str, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "judge", "worker", "--queue", queue_url, "--calibration", "off",
         "--boxes", ",".join(map(str, WORKER_BOXES)), "--problems", str(PROBLEMS),
         "--worker-id", name],
        cwd=REPO, env=ENV, stderr=open(log, "wb"), start_new_session=True)


def grading(queue, name: str) -> None:
    """Wait until `name` is well inside the grading of the one submission."""
    deadline = time.monotonic() + 120
    while not any(e.state == RUNNING and e.worker == name for e in queue.list()):
        assert time.monotonic() < deadline, "the worker never claimed the submission"
        time.sleep(0.05)
    time.sleep(0.8)     # past the compile, among the 122 tests


def no_je(record: dict) -> None:
    assert record["verdict"] != "JE"
    assert all(test["verdict"] != "JE" for test in record["tests"])


HOW = {
    # name: (signal, to the whole group?, how many times)
    "ctrl-c in a terminal": (signal.SIGINT, True, 1),
    "systemctl stop": (signal.SIGTERM, True, 1),
    "kill the worker": (signal.SIGTERM, False, 1),
    "ctrl-c twice": (signal.SIGINT, True, 2),
    "systemctl stop, then kill": (signal.SIGTERM, True, 2),
}


@pytest.mark.parametrize("how", list(HOW))
def test_stopping_mid_grading_stores_the_right_result_or_gives_it_back(
        queue, queue_url, tmp_path, expected, how):
    signum, group, times = HOW[how]
    path = source()
    sub = Submission(new_id(), CASE[0], path.read_text(), path.name)
    queue.enqueue(sub)
    log = tmp_path / "A.err"
    worker = start_worker(queue_url, "A", log)
    try:
        grading(queue, "A")
        for _ in range(times):
            if group:
                os.killpg(worker.pid, signum)
            else:
                worker.send_signal(signum)
            time.sleep(0.1)
        code = worker.wait(120)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    record = queue.result(sub.id)
    if times == 1:
        # Stopped once: the worker finished the grading within its grace.
        assert record is not None, text
        assert record["state"] == DONE and record["attempt"] == 1
        no_je(record)
        assert comparable(record) == expected
    else:
        # Stopped twice: given back at once, untouched, not counted.
        assert record is None, record
        (entry,) = queue.list()
        assert entry.state == QUEUED and entry.attempts == 0
        again = start_worker(queue_url, "B", tmp_path / "B.err")
        try:
            record = queue.wait_result(sub.id, timeout=240)
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(120)
        assert record["worker"] == "B" and record["attempt"] == 1
        no_je(record)
        assert comparable(record) == expected
    for box in WORKER_BOXES:
        cleanup_box(box)        # raises if a box were still locked
