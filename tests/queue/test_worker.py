"""judge/worker.py in-process, on both backends, with the grade function injected."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from queue_helpers import fake_grade, inject_malformed, make, started

from judge.errors import LanguageError
from judge.queue import DONE, FAILED, open_queue
from judge.worker import UnknownProblem, Worker, WorkerConfig, resolve_problem


def grade_with_judge_errors(problem_dir, source_path, **kw):
    """fake_grade, but 'raise:' is the judge's own LanguageError."""
    text = Path(source_path).read_text()
    if text.startswith("raise:"):
        raise LanguageError(text.split(":", 1)[1])
    return fake_grade(problem_dir, source_path, **kw)


class Running:
    """A Worker on a thread of its own; stop() returns its stats."""

    def __init__(self, worker: Worker):
        self.worker, self.stop_event, self.abort = worker, threading.Event(), threading.Event()
        self.stats = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.stats = self.worker.run(self.stop_event, self.abort)

    def stop(self, abort: bool = False, timeout: float = 30):
        self.stop_event.set()
        if abort:
            self.abort.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        return self.stats


def test_results_carry_worker_attempt_and_timings(queue, problems):
    subs = [make(v, problem="hello") for v in ("AC", "WA", "sleep:0.3:TLE", "AC")]
    for sub in subs:
        queue.enqueue(sub)
    config = WorkerConfig(worker_id="w-test", parallel=2, problems_dir=problems, poll=0.2)
    run = Running(Worker(queue, fake_grade, config))
    records = [queue.wait_result(sub.id, timeout=20) for sub in subs]
    stats = run.stop()
    assert [r["verdict"] for r in records] == ["AC", "WA", "TLE", "AC"]
    for sub, record in zip(subs, records):
        assert record["submission"] == sub.id and record["problem"] == "hello"
        assert record["state"] == DONE and record["worker"] == "w-test"
        assert record["attempt"] == 1
        assert set(record["timings"]) == {"queued", "grading", "total"}
        assert record["timings"]["total"] >= record["timings"]["grading"] >= 0
    assert records[2]["timings"]["grading"] >= 0.3
    assert stats.done == 4 and stats.failed == 0 and not stats.interrupted


def test_bad_submissions_fail_clearly_and_the_worker_goes_on(queue, problems):
    unknown_problem = make(problem="nope")
    escaping = make(problem="../../etc")
    unknown_language = make("raise:unknown language 'cobol'", problem="hello")
    inject_malformed(queue, b'{"id": "m1", "problem": 7, "source": ""}', sub_id="m1")
    good = make(problem="hello")
    for sub in (unknown_problem, escaping, unknown_language, good):
        queue.enqueue(sub)
    config = WorkerConfig(worker_id="w1", problems_dir=problems, poll=0.2)
    run = Running(Worker(queue, grade_with_judge_errors, config))
    assert queue.wait_result(good.id, timeout=20)["verdict"] == "AC"
    stats = run.stop()
    record = queue.result(unknown_problem.id)
    assert record["state"] == FAILED and "unknown problem 'nope'" in record["error"]
    assert "unknown problem 'etc'" in queue.result(escaping.id)["error"]
    record = queue.result(unknown_language.id)
    assert record["state"] == FAILED
    assert record["error"] == "cannot grade: unknown language 'cobol'"
    (dead,) = queue.dead_letters()
    assert "invalid problem 7" in dead["reason"]
    assert stats.done == 1 and stats.failed == 3


def test_a_crashing_grader_is_a_failure_naming_the_worker(queue, problems):
    sub = make("raise:boom", problem="hello")
    queue.enqueue(sub)
    run = Running(Worker(queue, fake_grade, WorkerConfig("w9", problems_dir=problems, poll=0.2)))
    record = queue.wait_result(sub.id, timeout=20)
    run.stop()
    assert record["error"] == "judge error on worker w9: ValueError: boom"


def test_heartbeats_hold_the_lease_through_a_long_grading(queue, queue_url, problems, tmp_path,
                                                         monkeypatch):
    log = tmp_path / "grades.log"
    monkeypatch.setenv("FAKE_GRADE_LOG", str(log))
    sub = make("sleep:2.5:AC", problem="hello")
    queue.enqueue(sub)
    config = WorkerConfig("w1", problems_dir=problems, lease=1.0, poll=0.2)
    run = Running(Worker(queue, fake_grade, config))
    started(log, 1)
    rival = open_queue(queue_url)
    deadline = time.monotonic() + 2.2
    while time.monotonic() < deadline:
        assert rival.claim("w2", lease=1.0) is None
        time.sleep(0.1)
    record = queue.wait_result(sub.id, timeout=20)
    run.stop()
    rival.close()
    assert record["worker"] == "w1" and record["attempt"] == 1


def test_stop_finishes_what_is_running_and_claims_nothing_more(queue, problems, tmp_path,
                                                               monkeypatch):
    log = tmp_path / "grades.log"
    monkeypatch.setenv("FAKE_GRADE_LOG", str(log))
    running = [make("sleep:1:AC", problem="hello") for _ in range(2)]
    waiting = make(problem="hello")
    for sub in (*running, waiting):
        queue.enqueue(sub)
    config = WorkerConfig("w1", parallel=2, problems_dir=problems, poll=0.2)
    run = Running(Worker(queue, fake_grade, config))
    started(log, 2)
    stats = run.stop()
    assert all(queue.result(sub.id)["verdict"] == "AC" for sub in running)
    assert queue.result(waiting.id) is None
    assert stats.done == 2 and not stats.interrupted


@pytest.mark.parametrize("how", ["abort", "grace over"])
def test_giving_back_what_is_held(queue, problems, tmp_path, monkeypatch, how):
    log = tmp_path / "grades.log"
    monkeypatch.setenv("FAKE_GRADE_LOG", str(log))
    sub = make("sleep:2:AC", problem="hello")
    queue.enqueue(sub)
    grace = 60.0 if how == "abort" else 0.3
    config = WorkerConfig("w1", problems_dir=problems, grace=grace, poll=0.2)
    run = Running(Worker(queue, fake_grade, config))
    started(log, 1)
    began = time.monotonic()
    stats = run.stop(abort=how == "abort")
    assert time.monotonic() - began < 1.5
    assert stats.interrupted and stats.released == 1
    again = queue.claim("w2", lease=60)              # back at once, not after a lease
    assert again.submission.id == sub.id and again.attempt == 1
    time.sleep(2.5)                 # the abandoned grading ends: it stores nothing
    assert queue.result(sub.id) is None


def test_resolve_problem(tmp_path):
    (tmp_path / "hello").mkdir()
    assert resolve_problem("hello", tmp_path) == tmp_path / "hello"
    assert resolve_problem("/elsewhere/hello", tmp_path) == tmp_path / "hello"
    assert resolve_problem(str(tmp_path / "hello"), None) == tmp_path / "hello"
    for bad, where in [("..", tmp_path), ("nope", tmp_path), ("hello", None),
                       (str(tmp_path / "nope"), None)]:
        with pytest.raises(UnknownProblem):
            resolve_problem(bad, where)
