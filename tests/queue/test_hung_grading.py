"""A grading that never finishes is failed within its bound (issue 10.2).

The heartbeat keeps a claim alive while its worker lives, so the worker
itself must give up on a grading past its bound: fail it with that reason,
take its boxes back (their runs killed), and go on grading in the same
boxes. On both backends, with a real BoxPool (box 834), in-process.
The judge's own bound comes from the problem's limits (`grading_budget`).
"""
from __future__ import annotations

import os
import threading
import time

import pytest
from queue_helpers import REPO, fake_grade, make

from judge.grader import RUN_MARGIN, SETUP_MARGIN, grading_budget
from judge.problem import load_problem
from judge.queue import DONE, FAILED
from judge.worker import Worker, WorkerConfig, open_pool
from rustbox.session import cleanup_box

BOX = 834


@pytest.fixture
def pool():
    if os.geteuid() != 0:
        pytest.skip("boxes need root")
    pool = open_pool([BOX])
    yield pool
    pool.close(kill=True)
    cleanup_box(BOX)            # raises if the box were still locked


def run_worker(queue, pool, problems, **config):
    stop, abort = threading.Event(), threading.Event()
    worker = Worker(queue, fake_grade, WorkerConfig("w1", problems_dir=problems, poll=0.2,
                                                    **config), pool)
    thread = threading.Thread(target=worker.run, args=(stop, abort), daemon=True)
    thread.start()

    def stopped():
        stop.set()
        thread.join(30)
        assert not thread.is_alive()
        return worker.stats
    return stopped


@pytest.mark.parametrize("hang, bound", [
    ("hang:1.5:run", "1.5 s (hanging 1.5 s)"),    # a run that never answers, bound stated
    ("hang:-:sleep", "2 s"),                      # the grader itself stuck, no bound stated
])
def test_a_hung_grading_is_failed_and_its_box_recovered(queue, problems, pool, tmp_path,
                                                        monkeypatch, hang, bound):
    monkeypatch.setenv("FAKE_GRADE_LOG", str(tmp_path / "log"))
    hung, after = make(hang, problem="hello"), make("box:0.1:AC", problem="hello")
    queue.enqueue(hung)
    queue.enqueue(after)
    stop = run_worker(queue, pool, problems, max_grading=2.0)
    began = time.monotonic()
    record = queue.wait_result(hung.id, timeout=30)
    failed_after = time.monotonic() - began
    assert record["state"] == FAILED, record
    assert record["error"] == (f"grading took longer than its bound of {bound}; "
                               "given up by worker w1")
    # The same (only) box grades the next submission: it was taken back.
    nxt = queue.wait_result(after.id, timeout=30)
    stats = stop()
    assert nxt["state"] == DONE and nxt["verdict"] == "AC"
    assert stats.overdue == 1 and stats.failed == 1 and stats.done == 1
    assert failed_after < 15        # the bound plus killing a stopped helper (5 s)
    if hang.endswith(":run"):       # the hung run came back once its helper was killed,
        deadline = time.monotonic() + 10      # and what it found was not stored
        while "run-returned-XX" not in (tmp_path / "log").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert queue.result(hung.id) == record


def test_the_judges_bound_comes_from_the_problems_limits(tmp_path):
    problem = load_problem(REPO / "testdata" / "problems" / "aplusb")
    tests = len(problem.tests())
    parts = grading_budget(problem, 1.0)
    compile_run = problem.limits.compilation_time * 2 + 5 + RUN_MARGIN
    assert parts == {"setup": SETUP_MARGIN, "compile": compile_run,
                     "tests": tests * (1.0 * 2 + 1 + RUN_MARGIN)}
    assert grading_budget(problem, 3.0)["tests"] == tests * (3.0 * 2 + 1 + RUN_MARGIN)
    # A custom output validator adds its build and one run per test.
    root = tmp_path / "custom"
    files = {"problem.yaml": "name: Custom\nvalidation: custom\nlimits:\n  validation_time: 4\n",
             "output_validators/check/check.py": "import sys; sys.exit(42)\n"}
    for i in range(3):
        files[f"data/secret/{i}.in"] = files[f"data/secret/{i}.ans"] = "1\n"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    custom = load_problem(root)
    assert len(custom.custom_validators) == 1
    parts = grading_budget(custom, 1.0)
    assert parts["validator builds"] == custom.limits.compilation_time * 2 + 5 + RUN_MARGIN
    assert parts["validation"] == 3 * (4 * 2 + 1 + RUN_MARGIN)
