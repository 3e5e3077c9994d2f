"""The server's view of the queue, refreshed twice a second on a thread.

Each look reads the unfinished submissions (`Queue.pending`): the queue
depth, each queued submission's position, and which worker grades what.
Every submission the server knows and has not seen finish (taken in through
the API, or seen queued or running by a look) whose id has left the pending
set is asked for its result; a result found is counted in the metrics,
handed to the callback outbox, and shown on the status page. The latest
submissions (`RECENT` of them) are kept for the page, newest first.

A look that fails (the queue unavailable) is logged, and /health says so
until one succeeds again.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ..queue import QUEUED, RUNNING, Queue, QueueError, Submission, UnknownSubmission

log = logging.getLogger("judge.serve")

INTERVAL = 0.5
RECENT = 50


@dataclass
class Row:
    """One line of the status page."""

    id: str
    problem: str | None
    language: str | None
    state: str = QUEUED
    enqueued_at: float | None = None
    worker: str | None = None
    verdict: str | None = None
    score: float | None = None
    max_score: float | None = None
    seconds: float | None = None        # grading time, once done
    finished_at: float | None = None
    tests: int | None = None


@dataclass
class Snapshot:
    taken_at: float = 0.0
    queued: list = field(default_factory=list)          # ids in claim order
    running: dict = field(default_factory=dict)         # id -> worker
    error: str | None = None

    def position(self, submission_id: str) -> int | None:
        try:
            return self.queued.index(submission_id) + 1
        except ValueError:
            return None


class Tracker:
    def __init__(self, queue: Queue, metrics, outbox, local_workers=None,
                 interval: float = INTERVAL):
        self.queue, self.metrics, self.outbox = queue, metrics, outbox
        self.local_workers = local_workers      # a LocalWorkers, or None
        self.interval = interval
        self.snapshot = Snapshot()
        self._positions: dict[str, int] = {}
        self._watching: set[str] = set()
        self._recent: OrderedDict[str, Row] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="judge-tracker")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    # -- what the API tells it --------------------------------------------
    def accepted(self, submission: Submission, language: str | None = None) -> None:
        with self._lock:
            self._watching.add(submission.id)
            if submission.id not in self._recent:
                self._remember(Row(submission.id, submission.problem,
                                   language or submission.language,
                                   enqueued_at=submission.enqueued_at))

    def watch(self, submission_ids) -> None:
        """Ids whose results matter though this server never saw them come in
        (callbacks a previous run left unsent)."""
        with self._lock:
            self._watching.update(submission_ids)

    def finished(self, submission_id: str, record: dict) -> None:
        """A result seen stored (by a look, or by a request that read it)."""
        with self._lock:
            if submission_id not in self._watching:
                self._update_row(submission_id, record)
                return
            self._watching.discard(submission_id)
            self._update_row(submission_id, record)
        self.metrics.observe_result(record)
        self.outbox.deliver(submission_id, record)

    # -- what the pages read ---------------------------------------------
    def recent(self) -> list[Row]:
        with self._lock:
            return list(reversed(self._recent.values()))

    def row(self, submission_id: str) -> Row | None:
        with self._lock:
            return self._recent.get(submission_id)

    def position(self, submission_id: str) -> tuple[str, int | None, str | None]:
        """(state, position, worker) as of the last look. An id the last look
        did not see was enqueued after it: at the back of the queue."""
        snap = self.snapshot
        if submission_id in snap.running:
            return RUNNING, None, snap.running[submission_id]
        position = self._positions.get(submission_id)
        return QUEUED, position if position is not None else len(snap.queued) + 1, None

    def workers(self) -> list[dict]:
        """Every worker known to be alive, with what it grades."""
        grading: dict[str, list[str]] = {}
        for sub_id, worker in self.snapshot.running.items():
            grading.setdefault(worker, []).append(sub_id)
        out = []
        local = self.local_workers.describe() if self.local_workers is not None else []
        for info in local:
            info["grading"] = sorted(grading.pop(info["id"], []))
            out.append(info)
        for worker, ids in sorted(grading.items()):
            out.append({"id": worker, "local": False, "alive": True, "grading": sorted(ids)})
        return out

    def healthy(self) -> tuple[bool, str | None]:
        snap = self.snapshot
        if snap.error is not None:
            return False, snap.error
        if time.time() - snap.taken_at > max(5.0, 10 * self.interval):
            return False, "the queue has not been read for a while"
        return True, None

    # -- the looks --------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.look()
            except QueueError as exc:
                self.snapshot = Snapshot(time.time(), self.snapshot.queued,
                                         self.snapshot.running, str(exc))
                log.error("cannot read the queue %s: %s", self.queue.url, exc)
            except Exception:  # noqa: BLE001 - a bug of ours: logged, the next look goes on
                log.exception("tracker: internal error")
            self._stop.wait(self.interval)

    def look(self) -> None:
        entries = self.queue.pending()
        queued = [e.id for e in entries if e.state == QUEUED]
        running = {e.id: e.worker for e in entries if e.state == RUNNING}
        self.snapshot = Snapshot(time.time(), queued, running)
        self._positions = {sub_id: i + 1 for i, sub_id in enumerate(queued)}
        with self._lock:
            for entry in entries:
                if entry.id not in self._watching:
                    self._watching.add(entry.id)
                    if entry.id not in self._recent:
                        self._remember(Row(entry.id, entry.problem, entry.language,
                                           enqueued_at=entry.enqueued_at))
                row = self._recent.get(entry.id)
                if row is not None and row.finished_at is None:
                    row.state, row.worker = entry.state, entry.worker
            gone = [sub_id for sub_id in self._watching
                    if sub_id not in running and sub_id not in self._positions]
        for sub_id in gone:
            try:
                record = self.queue.result(sub_id)
            except UnknownSubmission:
                with self._lock:
                    self._watching.discard(sub_id)
                continue
            if record is not None:
                self.finished(sub_id, record)
        self.metrics.queue_depth.set(len(queued))
        self.metrics.running.set(len(running))
        self.metrics.workers_alive.set(sum(1 for w in self.workers() if w["alive"]))

    def _remember(self, row: Row) -> None:
        self._recent[row.id] = row
        self._recent.move_to_end(row.id)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)

    def _update_row(self, submission_id: str, record: dict) -> None:
        row = self._recent.get(submission_id)
        if row is None:
            return
        row.state = record.get("state") or "done"
        row.language = record.get("language") or row.language
        row.worker = record.get("worker")
        row.verdict = record.get("verdict")
        row.score, row.max_score = record.get("score"), record.get("max_score")
        row.seconds = (record.get("timings") or {}).get("grading")
        row.finished_at = record.get("finished_at") or time.time()
        row.tests = len(record.get("tests") or [])
