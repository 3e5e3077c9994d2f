"""A full disk or an unreachable server is an error, never a success (10.3, 10.4).

SQLite on a tiny tmpfs of the test's own, filled to the last block:
`judge submit` says so in one line and exits 4 (nothing accepted), a
running worker waits the full store out (logging, with backoff) and stores
every result once there is room again: nothing accepted is lost. A Redis
that is down: `judge submit` / `judge result` give up after `--timeout`
(default 10 s) with one line, exit 4. Real processes throughout.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from queue_helpers import HELPERS, REPO, make, started

from judge.queue import DONE, QueueError, open_queue

APLUSB = str(REPO / "testdata" / "problems" / "aplusb")
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
ENV.pop("JUDGE_QUEUE", None)


@pytest.fixture
def tiny_fs(tmp_path):
    """A 1 MiB tmpfs mounted for the test (root only); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount)],
                   check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    """Take every free block of the file system; returns the file to delete."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        block = b"\1" * 4096
        try:
            while True:
                out.write(block)
        except OSError:
            pass
    return filler


def judge(*args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "judge", *map(str, args)], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def one_line(proc: subprocess.CompletedProcess, *words: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and all(w in lines[0] for w in words), lines[0]
    return lines[0]


def test_submit_to_a_full_sqlite_store_is_one_line_and_exit_4(tiny_fs, tmp_path):
    url = f"sqlite://{tiny_fs}/queue.db"
    source = tmp_path / "sum.py"
    source.write_text("print(sum(map(int, input().split())))\n")
    first = judge("submit", APLUSB, source, "--queue", url)
    assert first.returncode == 0, first.stderr
    filler = fill(tiny_fs)
    refused = judge("submit", APLUSB, source, "--queue", url)
    assert refused.returncode == 4
    one_line(refused, str(tiny_fs / "queue.db"), "full")
    assert judge("result", first.stdout.strip(), "--queue", url).returncode == 4
    filler.unlink()
    again = judge("submit", APLUSB, source, "--queue", url)
    assert again.returncode == 0, again.stderr
    with open_queue(url) as queue:      # the refused submit left nothing behind
        assert {e.id for e in queue.list()} == {first.stdout.strip(), again.stdout.strip()}


def test_a_worker_waits_out_a_full_store_and_loses_nothing(tiny_fs, tmp_path, problems):
    url = f"sqlite://{tiny_fs}/queue.db"
    log, err = tmp_path / "grades.log", tmp_path / "worker.err"
    subs = [make("sleep:1:AC", problem="hello") for _ in range(3)]
    with open_queue(url) as queue:
        for sub in subs:
            queue.enqueue(sub)
    worker = subprocess.Popen(
        [sys.executable, str(HELPERS), "worker", url, "--worker-id", "w1", "--lease", "5",
         "--problems", str(problems)],
        stdout=subprocess.PIPE, stderr=open(err, "wb"),
        env={**ENV, "FAKE_GRADE_LOG": str(log)})
    try:
        started(log, 1)
        filler = fill(tiny_fs)          # the first result cannot be stored
        time.sleep(3)
        assert worker.poll() is None, err.read_text()
        text = err.read_text()
        assert "the queue is unavailable" in text and "full" in text
        filler.unlink()
        with open_queue(url) as queue:
            records = [queue.wait_result(sub.id, timeout=60) for sub in subs]
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    assert [(r["state"], r["verdict"]) for r in records] == [(DONE, "AC")] * 3
    assert "Traceback" not in err.read_text()


def test_a_broken_store_is_one_line_and_exit_2(tmp_path, problems):
    url = f"sqlite://{tmp_path}/queue.db"
    (tmp_path / "queue.db").write_bytes(b"this is not a database" * 1000)
    for args in (["worker", "--boxes", "835", "--problems", problems], ["result", "x"],
                 ["submit", APLUSB, REPO / "testdata/problems/aplusb/submissions/accepted/sum.py"]):
        proc = judge(*args, "--queue", url)
        assert proc.returncode == 2, proc.stderr
        one_line(proc, "not a database")


class BreaksAfter:
    """A queue that works `good` times, then says its store is broken."""

    def __init__(self, queue, good: int):
        self.queue, self.good, self.url = queue, good, queue.url

    def __getattr__(self, name):
        return getattr(self.queue, name)

    def claim(self, *args, **kwargs):
        if self.good <= 0:
            raise QueueError("the SQLite queue x.db: database disk image is malformed")
        self.good -= 1
        return self.queue.claim(*args, **kwargs)


def test_a_store_that_breaks_under_the_worker_stops_it_with_the_reason(queue, problems):
    import threading

    from judge.worker import Worker, WorkerConfig
    from queue_helpers import fake_grade

    sub = make(problem="hello")
    queue.enqueue(sub)
    worker = Worker(BreaksAfter(queue, 1), fake_grade,
                    WorkerConfig("w1", problems_dir=problems, poll=0.2))
    stats = worker.run(threading.Event())      # returns by itself: nobody stops it
    assert stats.error == "the queue failed: the SQLite queue x.db: database disk image is malformed"
    assert queue.result(sub.id)["verdict"] == "AC"


@pytest.mark.parametrize("args, timeout, lowest, highest", [
    (["submit", APLUSB, "{source}", "--timeout", "2"], 2, 1.5, 8),
    (["result", "x", "--timeout", "2"], 2, 1.5, 8),
    (["result", "x", "--wait", "--timeout", "2"], 2, 1.5, 8),
    (["submit", APLUSB, "{source}"], None, 8, 20),        # the default: 10 s
])
def test_a_stopped_redis_is_one_line_in_bounded_time(fresh_redis, tmp_path, args, timeout,
                                                     lowest, highest):
    source = tmp_path / "sum.py"
    source.write_text("print(1)\n")
    fresh_redis.stop()
    began = time.monotonic()
    proc = judge(*[a.format(source=source) for a in args], "--queue", fresh_redis.url,
                 timeout=60)
    took = time.monotonic() - began
    assert proc.returncode == 4
    one_line(proc, "unreachable", fresh_redis.url)
    assert lowest <= took <= highest, took     # it did retry, and it did give up
