"""Redis stopped and started again on the same data dir while workers run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
from queue_helpers import HELPERS, REPO, make

from judge.queue import DONE, open_queue


def test_workers_reconnect_and_nothing_is_lost(fresh_redis, tmp_path):
    (tmp_path / "problems" / "hello").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAKE_GRADE_LOG": str(tmp_path / "log")}
    workers = [subprocess.Popen(
        [sys.executable, str(HELPERS), "worker", fresh_redis.url, "--worker-id", f"w{i}",
         "--parallel", "2", "--lease", "3", "--problems", str(tmp_path / "problems")],
        stdout=subprocess.PIPE, stderr=open(tmp_path / f"w{i}.err", "wb"), env=env)
        for i in range(2)]
    queue = open_queue(fresh_redis.url)
    try:
        before = [make("sleep:0.1:AC", problem="hello") for _ in range(30)]
        for sub in before:
            queue.enqueue(sub)
        while sum(queue.result(s.id) is not None for s in before) < 5:
            time.sleep(0.05)
        fresh_redis.restart(down_for=1.5)        # SIGTERM, then start on the same dir
        after = [make("sleep:0.1:AC", problem="hello") for _ in range(10)]
        for sub in after:
            queue.enqueue(sub)
        records = [queue.wait_result(s.id, timeout=60) for s in before + after]
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=60)[0] for proc in workers]
    finally:
        for proc in workers:
            proc.kill()
        queue.close()
    assert all(r is not None and r["state"] == DONE and r["verdict"] == "AC" for r in records)
    assert [proc.returncode for proc in workers] == [0, 0]
    logs = "".join((tmp_path / f"w{i}.err").read_text() for i in range(2))
    assert "unreachable" in logs and "retrying in" in logs
    stats = [orjson.loads(out.splitlines()[-1]) for out in outs]
    assert sum(s["done"] for s in stats) == 40     # one stored result each
