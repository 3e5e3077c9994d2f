"""A judge worker: takes submissions off a queue, grades them, stores results.

A `Worker` runs `parallel` grading threads that each claim one submission
at a time and hand it to the grade function (the judge's
`grade_submission`, passed in) together with one shared `rustbox.BoxPool`
the grader borrows boxes from. A heartbeat thread extends the lease of
every claim the worker holds. The outcome of a claim is one of:

    complete   the judge's final JSON + state, worker, attempt and timings
    fail       the submission cannot be graded here: unknown problem,
               unknown language, a grader error (a clear reason, no retry)
    release    the worker stops before it could finish (it goes back)

Stopping: `stop` (first SIGTERM/SIGINT) ends claiming and lets running
submissions finish for up to `grace` seconds; `abort` (a second signal) or
the end of the grace returns what is still held to the queue at once.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rustbox.text import plural

from .errors import JudgeError
from .hostpaths import HostPaths
from .queue.base import (DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, DONE, Claim, Queue,
                         QueueError)

log = logging.getLogger("judge.worker")

# grade(problem_dir, source_path, language=, time_limit=, pool=, submission_id=) -> dict
GradeFn = Callable[..., dict]


class UnknownProblem(Exception):
    """The submission names a problem package this worker does not have."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str = field(default_factory=default_worker_id)
    parallel: int = 1                   # submissions graded at once
    problems_dir: Path | None = None    # where package names are looked up
    lease: float = DEFAULT_LEASE        # seconds a silent worker keeps a claim
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    poll: float = 1.0                   # longest wait for work before re-checking stop
    grace: float = 60.0                 # after stop, time to finish before releasing
    scratch_dir: Path | None = None     # where sources are written (default: $TMPDIR)

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ValueError("parallel must be at least 1")
        if self.lease <= 0:
            raise ValueError("lease must be positive")


def resolve_problem(problem: str, problems_dir: Path | None) -> Path:
    """The package directory for a submission's `problem`.

    With a problems directory, the package is looked up there by name (the
    last component of what was submitted), so a path from the submitting
    machine works on every worker that has the package under the same name.
    Without one, `problem` must be a path to a package on this machine.
    """
    if problems_dir is not None:
        name = PurePosixPath(problem).name
        if name in ("", ".", ".."):
            raise UnknownProblem(f"invalid problem name {problem!r}")
        path = Path(problems_dir) / name
        if not path.is_dir():
            raise UnknownProblem(f"unknown problem {name!r}: no package {path} on "
                                 f"worker {socket.gethostname()}")
        return path
    path = Path(problem)
    if not path.is_absolute():
        raise UnknownProblem(f"unknown problem {problem!r}: a package name needs a "
                             "worker started with --problems DIR")
    if not path.is_dir():
        raise UnknownProblem(f"unknown problem {problem!r}: no such package directory "
                             f"on worker {socket.gethostname()}")
    return path


@dataclass
class WorkerStats:
    done: int = 0
    failed: int = 0
    duplicates: int = 0     # graded, but another worker had stored the result first
    released: int = 0
    interrupted: bool = False   # gave submissions back mid-grading (abort or grace over)


class Worker:
    def __init__(self, queue: Queue, grade: GradeFn, config: WorkerConfig, pool=None):
        self.queue, self.grade, self.config, self.pool = queue, grade, config, pool
        self.stats = WorkerStats()
        self._held: dict[str, Claim] = {}
        self._lock = threading.Lock()
        # Set once held claims were given back: a grading thread still
        # running must not store what it finds after that (its boxes are
        # about to be killed under it).
        self._abandoned = threading.Event()

    # -- the loop ---------------------------------------------------------
    def run(self, stop: threading.Event, abort: threading.Event | None = None) -> WorkerStats:
        """Grade until `stop` is set; returns once nothing is held any more."""
        abort = abort or threading.Event()
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeats, args=(done,), daemon=True,
                                name="judge-heartbeat")
        beat.start()
        slots = [threading.Thread(target=self._slot, args=(stop,), daemon=True,
                                  name=f"judge-slot-{i}") for i in range(self.config.parallel)]
        for slot in slots:
            slot.start()
        log.info("worker %s: %s on %s", self.config.worker_id,
                 plural(self.config.parallel, "slot"), self.queue.url)
        stop_seen = None
        while any(slot.is_alive() for slot in slots):
            if stop.is_set() and stop_seen is None:
                stop_seen = time.monotonic()
                log.info("worker %s stopping: finishing %s (grace %.0fs)",
                         self.config.worker_id, plural(len(self._held), "submission"),
                         self.config.grace)
            if abort.is_set() or (stop_seen is not None
                                  and time.monotonic() - stop_seen > self.config.grace):
                self._release_all()
                break
            abort.wait(0.1)
        done.set()
        return self.stats

    def _slot(self, stop: threading.Event) -> None:
        cfg = self.config
        while not stop.is_set():
            try:
                claim = self.queue.claim(cfg.worker_id, cfg.lease, cfg.poll, cfg.max_deliveries)
            except QueueError as exc:
                log.error("worker %s: cannot claim: %s", cfg.worker_id, exc)
                stop.wait(cfg.poll)
                continue
            if claim is None:
                continue
            if stop.is_set():       # the signal came while we waited
                self._release(claim)
                return
            with self._lock:
                self._held[claim.receipt] = claim
            try:
                self.handle(claim)
            except Exception:
                # The queue failed under us: the lease runs out and the
                # submission is delivered again.
                log.exception("worker %s: submission %s not stored", cfg.worker_id,
                              claim.submission.id)
            finally:
                with self._lock:
                    self._held.pop(claim.receipt, None)

    def _heartbeats(self, done: threading.Event) -> None:
        every = self.config.lease / 3
        while not done.wait(every):
            with self._lock:
                held = list(self._held.values())
            for claim in held:
                try:
                    if (not self.queue.heartbeat(claim, self.config.lease)
                            and self._holds(claim)):     # not just completed meanwhile
                        log.warning("worker %s lost the lease on %s (another worker "
                                    "may grade it; one result is kept)",
                                    self.config.worker_id, claim.submission.id)
                except QueueError as exc:
                    log.error("worker %s: heartbeat failed: %s", self.config.worker_id, exc)

    def _holds(self, claim: Claim) -> bool:
        with self._lock:
            return claim.receipt in self._held

    def _release_all(self) -> None:
        self._abandoned.set()
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
        self.stats.interrupted = bool(held)
        for claim in held:
            self._release(claim)

    def _release(self, claim: Claim) -> None:
        try:
            self.queue.release(claim)
            self._count("released")
            log.info("worker %s returned %s to the queue", self.config.worker_id,
                     claim.submission.id)
        except QueueError as exc:
            log.error("worker %s: could not return %s (its lease will expire): %s",
                      self.config.worker_id, claim.submission.id, exc)

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self.stats, what, getattr(self.stats, what) + 1)

    # -- one submission ---------------------------------------------------
    def handle(self, claim: Claim) -> None:
        """Grade one claimed submission and store its result or failure."""
        sub, cfg = claim.submission, self.config
        started = time.time()
        try:
            problem_dir = resolve_problem(sub.problem, cfg.problems_dir)
        except UnknownProblem as exc:
            self._fail(claim, str(exc))
            return
        with tempfile.TemporaryDirectory(prefix=f"judge-{sub.id}-", dir=cfg.scratch_dir) as tmp:
            source_path = Path(tmp) / sub.filename
            # A stored failure names the submitted file, never this directory.
            scrub = HostPaths().add(tmp + os.sep, "")
            write_source(sub, source_path)
            try:
                result = self.grade(problem_dir, source_path, language=sub.language,
                                    time_limit=sub.time_limit, pool=self.pool,
                                    submission_id=sub.id)
            except JudgeError as exc:     # unknown language, broken package, ...
                if self._abandoned.is_set():
                    return
                self._fail(claim, scrub(f"cannot grade: {exc}"))
                return
            except Exception as exc:
                if self._abandoned.is_set():
                    return
                # A retry would meet the same bug: fail it, loudly.
                log.exception("grader crashed on %s", sub.id)
                self._fail(claim, scrub(f"judge error on worker {cfg.worker_id}: "
                                        f"{type(exc).__name__}: {exc}"))
                return
        finished = time.time()
        if self._abandoned.is_set():
            return
        record = {**result, "submission": result.get("submission", sub.id), "state": DONE,
                  "worker": cfg.worker_id, "attempt": claim.attempt,
                  "finished_at": finished,
                  "timings": {"queued": round(claim.claimed_at - sub.enqueued_at, 6),
                              "grading": round(finished - started, 6),
                              "total": round(finished - sub.enqueued_at, 6)}}
        if self.queue.complete(claim, record):
            self._count("done")
            log.info("graded %s (%s): %s in %.2fs", sub.id, problem_dir.name,
                     record.get("verdict"), finished - started)
        else:
            self._count("duplicates")
            log.info("graded %s again; the result stored first is kept", sub.id)

    def _fail(self, claim: Claim, reason: str) -> None:
        if self.queue.fail(claim, reason):
            self._count("failed")
        log.warning("submission %s failed: %s", claim.submission.id, reason)


def write_source(sub, path: Path) -> None:
    """The submission's file, or its directory of files, at `path`."""
    if sub.files is None:
        path.write_text(sub.source, encoding="utf-8")
        return
    path.mkdir()
    for name, text in sub.files.items():
        (path / name).write_text(text, encoding="utf-8")
        os.chmod(path / name, 0o755 if name in sub.executable else 0o644)


def open_pool(box_ids: list[int]):
    """A rustbox.BoxPool with every box initialised from the calling thread.

    A box's helper process dies with the thread that started it
    (PDEATHSIG), so the helpers are started here, in the worker's main
    thread, rather than in a grading thread that may end first. It also
    means a box another process holds fails the worker at start (with
    BoxBusyError), and a killed worker frees its boxes: the helpers die
    with it and their flocks with them.
    """
    from rustbox import BoxPool

    pool = BoxPool(box_ids)
    try:
        for box in pool.boxes:
            box.init()
    except BaseException:
        pool.close()
        raise
    return pool


def install_signal_handlers(stop: threading.Event, abort: threading.Event) -> None:
    """First SIGTERM/SIGINT: stop claiming and finish; the second: give back now."""
    def on_signal(signum, _frame):
        if stop.is_set():
            abort.set()
        else:
            stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
