"""`judge serve --workers N`: N `judge worker` processes beside the server.

Each is the ordinary `judge worker` command on the server's queue and
problems directory, with its own share of the boxes (`--boxes`, dealt out
in turn) and a worker id `HOST:serve-PID-I`. They die with the server (the
kernel sends SIGTERM to a worker whose server is gone: PR_SET_PDEATHSIG),
and on a clean stop they get the worker's own two-signal stop: finish what
they grade (up to `grace` seconds), then give it back to the queue.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("judge.serve")


def _die_with_parent() -> None:
    import prctl
    prctl.set_pdeathsig(signal.SIGTERM)


class LocalWorkers:
    def __init__(self, count: int, queue_url: str, problems_dir: Path, boxes: list[int],
                 grace: float = 30.0, extra_args: tuple[str, ...] = ()):
        if count > len(boxes):
            raise ValueError(f"{count} workers need at least {count} boxes, --boxes gives "
                             f"{len(boxes)}")
        self.grace = grace
        host = socket.gethostname()
        self.plan = [(f"{host}:serve-{os.getpid()}-{i}", boxes[i::count]) for i in range(count)]
        self.queue_url, self.problems_dir, self.extra_args = queue_url, problems_dir, extra_args
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        for worker_id, boxes in self.plan:
            argv = [sys.executable, "-m", "judge", "worker", "--queue", self.queue_url,
                    "--problems", str(self.problems_dir), "--worker-id", worker_id,
                    "--boxes", ",".join(map(str, boxes)), *self.extra_args]
            self.procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                               preexec_fn=_die_with_parent))
            log.info("started worker %s (pid %d) on boxes %s", worker_id, self.procs[-1].pid,
                     ",".join(map(str, boxes)))

    def describe(self) -> list[dict]:
        out = []
        for (worker_id, boxes), proc in zip(self.plan, self.procs):
            code = proc.poll()
            out.append({"id": worker_id, "local": True, "pid": proc.pid, "boxes": boxes,
                        "alive": code is None, "exit_status": code})
        return out

    def stop(self) -> None:
        """SIGTERM (finish), after `grace` a second one (give back), then SIGKILL."""
        live = [p for p in self.procs if p.poll() is None]
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        if not _wait_all(live, self.grace):
            for proc in live:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            if not _wait_all(live, 15):
                for proc in live:
                    if proc.poll() is None:
                        proc.kill()
                _wait_all(live, 5)


def _wait_all(procs, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            return False
    return True
