"""A worker killed with SIGKILL while it grades, on both backends.

The worker processes grade with the injected fake grader, but borrow a real
box from a real rustbox.BoxPool while they do: the box's flock must die
with the killed worker, or the next worker could never open that box.
Needs root (boxes); box ids 820-839 belong to the queue tests.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from queue_helpers import HELPERS, REPO, make, started

from judge.queue import DONE
from rustbox.box import BoxDir
from rustbox.errors import BoxBusyError
from rustbox.session import cleanup_box

BOX = 822
LEASE = 2.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="boxes need root")


@pytest.fixture
def box():
    yield BOX
    cleanup_box(BOX)            # also proves nobody holds its lock any more


def spawn_worker(url: str, worker_id: str, problems: Path, log: Path, hold: float,
                 stderr_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAKE_GRADE_LOG": str(log),
           "FAKE_GRADE_HOLD": str(hold)}
    return subprocess.Popen(
        [sys.executable, str(HELPERS), "worker", url, "--worker-id", worker_id,
         "--lease", str(LEASE), "--boxes", str(BOX), "--problems", str(problems)],
        stdout=subprocess.PIPE, stderr=open(stderr_path, "wb"), env=env)


def box_is_locked(box_id: int) -> bool:
    try:
        BoxDir(box_id).lock().acquire().release()
        return False
    except BoxBusyError:
        return True


def test_a_killed_worker_loses_nothing_and_frees_its_box(queue, queue_url, problems,
                                                         tmp_path, box):
    log = tmp_path / "grades.log"
    sub = make("box:env:AC", problem="hello")
    queue.enqueue(sub)
    first = spawn_worker(queue_url, "A", problems, log, 120, tmp_path / "A.err")
    try:
        started(log, 1, timeout=60)
        assert box_is_locked(box)               # A's box helper holds it
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    killed = time.monotonic()
    deadline = killed + 5
    while box_is_locked(box):                   # the flock died with A
        assert time.monotonic() < deadline, "box still locked after its worker died"
        time.sleep(0.05)

    second = spawn_worker(queue_url, "B", problems, log, 0, tmp_path / "B.err")
    try:
        record = queue.wait_result(sub.id, timeout=60)
        waited = time.monotonic() - killed
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=60)
    finally:
        second.kill()
    assert second.returncode == 0, (tmp_path / "B.err").read_text()
    assert record["state"] == DONE and record["verdict"] == "AC"
    assert record["worker"] == "B" and record["attempt"] == 2
    assert waited > LEASE * 0.5                 # it came back through the lease
    assert orjson.loads(out.splitlines()[-1])["done"] == 1
    events = log.read_text().split()
    assert events.count("start") == 2 and events.count("end") == 1   # A never finished
    assert [(e.id, e.state) for e in queue.list()] == [(sub.id, DONE)]
    assert not box_is_locked(box)
