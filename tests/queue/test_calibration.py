"""A worker calibrates its host (judge/calibration.py): real calibrations
in real boxes (673-674), the real grader, a SQLite queue.

Which class this host gets is not up to the test; thresholds are: zero
makes any real calibration unusable, huge ones make it steady, so the
behaviour of each class is checked whatever the host's noise.
"""
from __future__ import annotations

import logging
import threading
import time

import pytest
from queue_helpers import REPO

from judge.grader import grading_budget, grade_submission
from judge.problem import load_problem
from judge.queue import DONE, QUEUED, Submission, new_id, open_queue
from judge.reruns import RerunPolicy
from judge.worker import Grading, Worker, WorkerConfig
from rustbox.calibrate import thresholds_from

APLUSB = REPO / "testdata" / "problems" / "aplusb"
SUM_PY = "print(sum(map(int, input().split())))\n"
UNUSABLE = thresholds_from({"spread": "0,0", "slowdown": "0,0"})
STEADY = thresholds_from({"spread": "1000,1000", "slowdown": "1000,1000", "steal": "1,1"})


@pytest.fixture(scope="module")
def pool():
    from judge.worker import open_pool
    boxes = open_pool([673, 674])
    yield boxes
    boxes.cleanup()


@pytest.fixture
def queue(tmp_path):
    q = open_queue(f"sqlite://{tmp_path}/queue.db")
    yield q
    q.close()


class Running:
    def __init__(self, worker: Worker):
        self.worker, self.stop_event = worker, threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stop_event,), daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


def submit(queue) -> Submission:
    sub = Submission(new_id(), str(APLUSB), SUM_PY, "sum.py")
    queue.enqueue(sub)
    return sub


def config(mode, thresholds=None, **more):
    return WorkerConfig(worker_id="w-calib", parallel=1, poll=0.2, calibration=mode,
                        calibration_thresholds=thresholds, **more)


def test_an_unusable_host_stops_claiming_says_why_and_claims_again_once_settled(
        queue, pool, caplog):
    caplog.set_level(logging.INFO, logger="judge.worker")
    sub = submit(queue)
    worker = Worker(queue, grade_submission, config("on", dict(UNUSABLE)), pool)
    run = Running(worker)
    try:
        assert worker.timing.ready.wait(60)
        time.sleep(1.0)                      # five polls of the slot
        status = worker.status()
        assert status["claiming"] is False and status["calibration"]["class"] == "unusable"
        assert status["why"].startswith("host timing unusable: ")
        assert [entry.id for entry in queue.list(QUEUED)] == [sub.id]
        assert "stops claiming: host timing unusable" in caplog.text
        # The host "settles": the next calibration, under thresholds past
        # any noise, lets the worker claim again.
        worker.timing.thresholds = dict(STEADY)
        worker.timing.measure(pool)
        record = queue.wait_result(sub.id, timeout=120)
    finally:
        run.stop()
    assert record["state"] == DONE and record["verdict"] == "AC"
    assert record["calibration"]["class"] == "steady"
    assert "claims again: host timing steady" in caplog.text


def test_warn_grades_on_an_unusable_host_and_the_result_carries_the_class(queue, pool):
    sub = submit(queue)
    worker = Worker(queue, grade_submission, config("warn", dict(UNUSABLE)), pool)
    run = Running(worker)
    try:
        record = queue.wait_result(sub.id, timeout=120)
    finally:
        run.stop()
    assert record["state"] == DONE and record["verdict"] == "AC"
    calibration = record["calibration"]
    assert calibration["class"] == "unusable"
    assert set(calibration["spread"]) == {"cpu", "memory"} and calibration["measured_at"] > 0


def test_off_calibrates_nothing_and_the_result_says_not_measured(queue, pool):
    sub = submit(queue)
    worker = Worker(queue, grade_submission, config("off"), pool)
    assert worker.status()["claiming"] is True        # nothing to wait for
    run = Running(worker)
    try:
        record = queue.wait_result(sub.id, timeout=120)
    finally:
        run.stop()
    assert record["state"] == DONE and record["calibration"] is None
    assert worker.timing.report is None


@pytest.mark.parametrize("policy", [None, RerunPolicy(0.7, 2.0, 3), RerunPolicy(extra=0)])
def test_the_workers_bound_counts_the_graders_reruns(queue, pool, policy):
    sub = submit(queue)
    worker = Worker(queue, grade_submission, config("off", reruns=policy), pool)
    grading = Grading(queue.claim("w-calib"), pool.lend(), 600.0)
    worker.handle(grading)
    assert queue.result(sub.id)["state"] == DONE
    problem = load_problem(APLUSB)
    expected = grading_budget(problem, problem.limits.time_limit or 1.0,
                              policy if policy is not None else RerunPolicy())
    assert grading.parts == expected and grading.bound == sum(expected.values())
    tests = len(problem.tests())
    runs_per_test = 1 + (2 if policy is None else policy.extra)
    high = 1.5 if policy is None else policy.high
    limit = problem.limits.time_limit or 1.0
    assert expected["tests"] == pytest.approx(
        tests * runs_per_test * (2 * limit + 1 + (high - 1) * limit * (runs_per_test > 1) + 2.0))


@pytest.mark.parametrize("args, message", [
    (["--calibration", "sometimes"], "--calibration"),
    (["--rerun-band", "2-3"], "invalid re-run band"),
    (["--reruns", "11"], "invalid number of re-runs"),
])
def test_bad_worker_timing_options_are_one_line_exit_2(tmp_path, args, message):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "judge", "worker", "--boxes", "675",
                           "--queue", f"sqlite://{tmp_path}/q.db", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    # One error line (click's usage lines may precede it), never a traceback.
    errors = [line for line in proc.stderr.splitlines() if "Error:" in line or "error:" in line]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
