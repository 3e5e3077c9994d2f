"""Stand-ins the queue tests inject, and the worker/claimer processes they run.

`fake_grade` has the grader's signature and returns a result of the judge's
shape; what it does is read from the submission's source, so a test says
what should happen in the submission itself:

    "AC" / "WA" / ...      that verdict, at once
    "sleep:S:VERDICT"      grade for S seconds, then that verdict
    "raise:MESSAGE"        the grader refuses it (e.g. unknown language)
    "box:S:VERDICT"        hold a box of the pool for S seconds (S = "env":
                           $FAKE_GRADE_HOLD, so two workers can differ)
    "hang:B:HOW"           state a budget of B seconds ("-": none), then hang
                           holding a box: HOW "run" stops the box's helper
                           (SIGSTOP) and runs in it, so the run never
                           answers; "sleep" sleeps for ever

Every call appends `start ID PID` and `end ID PID` lines to $FAKE_GRADE_LOG
when it is set, so a test can see who graded what and when.

Run as a script (`python queue_helpers.py worker URL ...` or `claim URL ...`)
it is a worker process or a bare claiming process for the multi-process
tests. The tests also share `make`, `inject_malformed` and `started` from
here.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__)
if str(REPO) not in sys.path:          # run as a script
    sys.path.insert(0, str(REPO))

from judge.queue import Submission, new_id  # noqa: E402


def make(source: str = "AC", **kw) -> Submission:
    """A submission whose source says what fake_grade does with it."""
    return Submission(kw.pop("id", None) or new_id(), kw.pop("problem", "/p/hello"), source,
                      kw.pop("filename", "a.py"), **kw)


def inject_malformed(queue, raw: bytes, sub_id: str = "broken-1") -> None:
    """Put a message no producer of ours would write straight into the store."""
    from judge.queue.redis import RedisQueue
    from judge.queue.sqlite import SqliteQueue

    if isinstance(queue, SqliteQueue):
        queue._db.execute("INSERT INTO submissions (id, body, enqueued_at) VALUES (?, ?, ?)",
                          (sub_id, raw, time.time()))
    elif isinstance(queue, RedisQueue):
        queue._redis.xadd(queue.stream, {"id": sub_id, "data": raw})
    else:
        raise AssertionError(type(queue))


def started(log: Path, count: int, timeout: float = 20) -> None:
    """Wait until fake_grade has logged `count` starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("start ") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} gradings started")


def _log(event: str, submission_id: str) -> None:
    path = os.environ.get("FAKE_GRADE_LOG")
    if path:
        with open(path, "a") as out:
            out.write(f"{event} {submission_id} {os.getpid()}\n")


def fake_grade(problem_dir, source_path, language=None, time_limit=None, pool=None,
               submission_id=None, progress=None) -> dict:
    text = Path(source_path).read_text().strip()
    _log("start", submission_id)
    verdict = text
    if text.startswith("raise:"):
        _log("end", submission_id)
        raise ValueError(text.split(":", 1)[1])
    if text.startswith("hang:"):
        _, budget, how = text.split(":", 2)
        if budget != "-":
            progress("budget", {"seconds": float(budget), "parts": {"hanging": float(budget)}})
        with pool.box() as box:
            _log("hang", submission_id)
            if how == "run":
                os.kill(box._helper.pid, signal.SIGSTOP)
                verdict = box.run(["/bin/true"])      # returns once the helper is killed
                _log(f"run-returned-{verdict.status}", submission_id)
            else:
                time.sleep(3600)
        _log("end", submission_id)
        return {"verdict": "AC", "tests": []}
    if text.startswith(("sleep:", "box:")):
        kind, seconds, verdict = text.split(":", 2)
        if seconds == "env":
            seconds = os.environ.get("FAKE_GRADE_HOLD", "0")
        if kind == "box":
            with pool.box():
                time.sleep(float(seconds))
        else:
            time.sleep(float(seconds))
    _log("end", submission_id)
    return {"submission": submission_id, "problem": Path(problem_dir).name,
            "language": language or "python3", "verdict": verdict, "score": None,
            "max_score": None, "time_limit": time_limit or 1.0,
            "compile": {"status": "OK", "message": ""},
            "tests": [{"name": "secret/1", "verdict": verdict, "cpu_time": 0.0,
                       "wall_time": 0.0, "memory_peak": 0, "score": None, "message": ""}]}


def run_worker(args) -> None:
    import logging

    from judge.queue import open_queue
    from judge.worker import Worker, WorkerConfig, install_signal_handlers, open_pool

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    pool = None
    if args.boxes:
        pool = open_pool([int(b) for b in args.boxes.split(",")])
    config = WorkerConfig(worker_id=args.worker_id, parallel=args.parallel,
                          problems_dir=Path(args.problems) if args.problems else None,
                          lease=args.lease, grace=args.grace, poll=0.2)
    stop, abort = threading.Event(), threading.Event()
    install_signal_handlers(stop, abort)
    queue = open_queue(args.url)
    stats = Worker(queue, fake_grade, config, pool).run(stop, abort)
    if pool is not None:
        pool.close(kill=stats.interrupted)
    queue.close()
    print(orjson.dumps(stats.__dict__).decode(), flush=True)


def run_claimer(args) -> None:
    """Claim and complete until the queue stays empty; print what was claimed."""
    from judge.queue import open_queue

    queue = open_queue(args.url)
    while args.go and not os.path.exists(args.go):   # all start together
        time.sleep(0.005)
    claimed = []
    while True:
        claim = queue.claim(args.worker_id, lease=60, block=0.5)
        if claim is None:
            break
        claimed.append(claim.submission.id)
        queue.complete(claim, {"verdict": "AC", "worker": args.worker_id})
        time.sleep(0.002)   # a worker grades between claims; an empty loop starves SQLite's waiters
    queue.close()
    print(orjson.dumps(claimed).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    w = sub.add_parser("worker")
    w.add_argument("url")
    w.add_argument("--worker-id", required=True)
    w.add_argument("--parallel", type=int, default=1)
    w.add_argument("--lease", type=float, default=30.0)
    w.add_argument("--grace", type=float, default=60.0)
    w.add_argument("--problems")
    w.add_argument("--boxes", help="comma-separated box ids: grade with a real BoxPool")
    c = sub.add_parser("claim")
    c.add_argument("url")
    c.add_argument("--worker-id", required=True)
    c.add_argument("--go", help="start claiming once this file exists")
    args = parser.parse_args()
    (run_worker if args.what == "worker" else run_claimer)(args)


if __name__ == "__main__":
    main()
