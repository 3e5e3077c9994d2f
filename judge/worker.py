"""A judge worker: takes submissions off a queue, grades them, stores results.

A `Worker` runs `parallel` slots that each claim one submission at a time
and grade it on a grading thread of its own with the grade function (the
judge's `grade_submission`, passed in) and a share of one `rustbox.BoxPool`
(a BoxLoan, revocable as a whole). A heartbeat thread extends the lease of
every claim the worker holds. The outcome of a claim is one of:

    complete   the judge's final JSON + state, worker, attempt and timings
    fail       the submission cannot be graded: unknown problem, unknown
               language, a grader error, or a grading that ran past its
               bound (a clear reason, no retry)
    retry      the sandbox failed under the grading (a box helper died, a
               run came back XX): nothing is stored, the submission goes
               back counted as a delivery and is failed with that reason
               after max_deliveries
    release    the worker stops before it could finish (it goes back,
               not counted)

Never stored: anything a grading finds after the worker gave up on it
(grace over, second signal, bound over); its runs are killed first.

The bound: a grader states what it will run at most with a
progress("budget", {"seconds": S, "parts": {...}}) event (judge.grader's
`grading_budget`); until it does (or if it never does) the bound is
`max_grading`. A grading past its bound is failed, its boxes are taken back
(their runs killed, fresh Box objects in the pool) and the slot goes on.

The store failing: QueueUnavailable (Redis down past its reconnect timeout,
a full disk) is waited out with exponential backoff, while claiming and
while storing a result, logged each time; any other QueueError, or a bug
in the worker, stops the worker with `stats.error` set (held submissions
go back) so that `judge worker` exits non-zero.

Timing (judge/calibration.py): with `calibration` warn or on, the worker
calibrates its host in one of its boxes before it claims anything and every
`calibrate_every` seconds; each result carries the class at grading time,
and under `on` an unusable host stops claiming until it settles. The
grader's near-limit re-runs (`reruns`) are counted in the bound it states.

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

from rustbox.errors import RustboxError
from rustbox.text import plural

from .calibration import DEFAULT_EVERY, HostTiming
from .errors import JudgeError, SandboxFailure
from .hostpaths import HostPaths
from .queue.base import (DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, DONE, Claim, Queue,
                         QueueError, QueueUnavailable)

log = logging.getLogger("judge.worker")

# grade(problem_dir, source_path, language=, time_limit=, pool=, submission_id=,
#       progress=) -> dict; progress(event, data) may announce ("budget", ...)
GradeFn = Callable[..., dict]

DEFAULT_MAX_GRADING = 600.0     # the bound of a grading whose grader states none
BACKOFF_MAX = 30.0              # longest wait between tries of an unavailable store


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
    max_grading: float = DEFAULT_MAX_GRADING  # bound until the grader states its own
    calibration: str = "off"            # off | warn | on (judge/calibration.py)
    calibrate_every: float = DEFAULT_EVERY
    calibration_thresholds: dict | None = None   # rustbox.calibrate.THRESHOLDS by default
    reruns: object = None               # a judge.reruns.RerunPolicy for the grader (None: its default)

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ValueError("parallel must be at least 1")
        if self.lease <= 0:
            raise ValueError("lease must be positive")
        if self.max_grading <= 0:
            raise ValueError("max_grading must be positive")


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
    retried: int = 0        # the sandbox failed under the grading: back to the queue, counted
    overdue: int = 0        # failed for running past their bound
    interrupted: bool = False   # gave submissions back mid-grading (abort or grace over)
    error: str | None = None    # why the worker stopped on its own (exit non-zero)


class Grading:
    """One claimed submission on its grading thread: its lease, its boxes, its bound."""

    def __init__(self, claim: Claim, loan, bound: float):
        self.claim, self.loan = claim, loan
        self.started = time.monotonic()
        self.bound = bound
        self.parts: dict | None = None        # the grader's budget, once stated
        # Set when the worker is done with this grading whatever the thread
        # still does (given back, or given up): it stores nothing after.
        self.abandoned = threading.Event()
        self.finished = threading.Event()

    def budget(self, seconds: float, parts: dict | None = None) -> None:
        self.bound, self.parts = float(seconds), parts

    def overdue(self) -> bool:
        return time.monotonic() - self.started > self.bound

    def describe_bound(self) -> str:
        if not self.parts:
            return _seconds(self.bound)
        shown = ", ".join(f"{name} {_seconds(seconds)}" for name, seconds in self.parts.items())
        return f"{_seconds(self.bound)} ({shown})"


def _seconds(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") + " s"


class Worker:
    def __init__(self, queue: Queue, grade: GradeFn, config: WorkerConfig, pool=None):
        self.queue, self.grade, self.config, self.pool = queue, grade, config, pool
        self.stats = WorkerStats()
        self._held: dict[str, Grading] = {}
        self._lock = threading.Lock()
        self._abort = threading.Event()
        self._failed = threading.Event()       # stats.error is set: stop everything
        self.timing = HostTiming(config.calibration, config.calibrate_every,
                                 worker_id=config.worker_id,
                                 thresholds=config.calibration_thresholds)

    def status(self) -> dict:
        """What this worker is doing, for a status page or a heartbeat: the
        submissions it holds and its host's timing (judge/calibration.py)."""
        with self._lock:
            held = [g.claim.submission.id for g in self._held.values()]
        return {"worker": self.config.worker_id, "grading": held, **self.timing.status()}

    # -- the loop ---------------------------------------------------------
    def run(self, stop: threading.Event, abort: threading.Event | None = None) -> WorkerStats:
        """Grade until `stop` is set; returns once nothing is held any more."""
        abort = self._abort = abort or threading.Event()
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
        self.timing.start(self.pool, done)      # the slots claim once it has calibrated
        stop_seen = None
        while any(slot.is_alive() for slot in slots):
            if self._failed.is_set():
                stop.set()
                abort.set()
            if stop.is_set() and stop_seen is None:
                stop_seen = time.monotonic()
                log.info("worker %s stopping: finishing %s (grace %.0fs)",
                         self.config.worker_id, plural(len(self._held), "submission"),
                         self.config.grace)
            if abort.is_set() or (stop_seen is not None
                                  and time.monotonic() - stop_seen > self.config.grace):
                abort.set()
                self._release_all()
                break
            abort.wait(0.1)
        # A slot may still be inside a claim that started before the stop:
        # what it gets it gives back (it sees `stop`) before we return.
        stop.set()
        for slot in slots:
            slot.join(self.config.poll + 10)
        self._release_all()
        done.set()
        self.timing.join(5)
        return self.stats

    def _slot(self, stop: threading.Event) -> None:
        cfg = self.config
        delay = cfg.poll
        while not stop.is_set():
            if not self.timing.may_claim():     # an unusable host (--calibration on)
                stop.wait(cfg.poll)
                continue
            try:
                claim = self.queue.claim(cfg.worker_id, cfg.lease, cfg.poll, cfg.max_deliveries)
            except QueueUnavailable as exc:
                log.error("worker %s: cannot claim, the queue is unavailable (%s); trying "
                          "again in %.1fs", cfg.worker_id, exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            except QueueError as exc:
                self._stop_for(f"the queue failed: {exc}")
                return
            delay = cfg.poll
            if claim is None:
                continue
            if stop.is_set():       # the signal came while we waited
                self._release(claim)
                return
            loan = self.pool.lend() if self.pool is not None else None
            grading = Grading(claim, loan, cfg.max_grading)
            with self._lock:
                self._held[claim.receipt] = grading
            try:
                self._watch(grading)
            except Exception as exc:  # noqa: BLE001 - a bug of ours: stop, loudly
                log.exception("worker %s: internal error on %s", cfg.worker_id,
                              claim.submission.id)
                self._stop_for(f"internal error: {type(exc).__name__}: {exc}")
                return
            finally:
                with self._lock:
                    self._held.pop(claim.receipt, None)

    def _watch(self, grading: Grading) -> None:
        """Grade on a thread of its own; give up on it once past its bound."""
        thread = threading.Thread(target=self._grade_thread, args=(grading,), daemon=True,
                                  name=f"judge-grading-{grading.claim.submission.id}")
        thread.start()
        while not grading.finished.wait(0.1):
            if grading.abandoned.is_set():      # given back by _release_all
                return
            if grading.overdue():
                self._give_up(grading)
                return

    def _grade_thread(self, grading: Grading) -> None:
        try:
            self.handle(grading)
        except Exception:  # noqa: BLE001 - reported by _watch's caller through the event
            log.exception("worker %s: grading %s failed", self.config.worker_id,
                          grading.claim.submission.id)
            self._stop_for("internal error while grading "
                           f"{grading.claim.submission.id} (see the log)")
        finally:
            grading.finished.set()

    def _give_up(self, grading: Grading) -> None:
        sub = grading.claim.submission
        reason = (f"grading took longer than its bound of {grading.describe_bound()}; "
                  f"given up by worker {self.config.worker_id}")
        grading.abandoned.set()
        taken = grading.loan.revoke(reason) if grading.loan is not None else []
        self._count("overdue")
        log.error("submission %s: %s (boxes taken back: %s)", sub.id, reason,
                  ", ".join(map(str, taken)) or "none")
        self._fail(grading.claim, reason, abandoned_ok=True)

    def _heartbeats(self, done: threading.Event) -> None:
        every = self.config.lease / 3
        while not done.wait(every):
            with self._lock:
                held = [g.claim for g in self._held.values() if not g.abandoned.is_set()]
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
        with self._lock:
            held = [g for g in self._held.values() if not g.abandoned.is_set()]
            self._held.clear()
        self.stats.interrupted = self.stats.interrupted or bool(held)
        for grading in held:
            grading.abandoned.set()       # before its runs die: their XX is not a result
            if grading.loan is not None:
                grading.loan.revoke("the worker is stopping")
            self._release(grading.claim)

    def _release(self, claim: Claim) -> None:
        try:
            self.queue.release(claim)
            self._count("released")
            log.info("worker %s returned %s to the queue", self.config.worker_id,
                     claim.submission.id)
        except QueueError as exc:
            log.error("worker %s: could not return %s (its lease will expire): %s",
                      self.config.worker_id, claim.submission.id, exc)

    def _stop_for(self, reason: str) -> None:
        with self._lock:
            if self.stats.error is None:
                self.stats.error = reason
        log.error("worker %s stops: %s", self.config.worker_id, reason)
        self._failed.set()

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self.stats, what, getattr(self.stats, what) + 1)

    # -- one submission ---------------------------------------------------
    def handle(self, grading: Grading | Claim) -> None:
        """Grade one claimed submission and store its result or failure."""
        if isinstance(grading, Claim):
            grading = Grading(grading, self.pool.lend() if self.pool is not None else None,
                              self.config.max_grading)
        claim = grading.claim
        sub, cfg = claim.submission, self.config
        started = time.time()
        try:
            problem_dir = resolve_problem(sub.problem, cfg.problems_dir)
        except UnknownProblem as exc:
            self._fail(claim, str(exc))
            return

        def progress(event: str, data: dict) -> None:
            if event == "budget":
                grading.budget(data["seconds"], data.get("parts"))

        with tempfile.TemporaryDirectory(prefix=f"judge-{sub.id}-", dir=cfg.scratch_dir) as tmp:
            source_path = Path(tmp) / sub.filename
            # A stored failure names the submitted file, never this directory.
            scrub = HostPaths().add(tmp + os.sep, "")
            write_source(sub, source_path)
            # Only what is configured: a grade function of one's own need
            # not take these.
            extra = {}
            if self.timing.enabled:
                extra["calibration"] = self.timing.summary()
            if cfg.reruns is not None:
                extra["reruns"] = cfg.reruns
            try:
                result = self.grade(problem_dir, source_path, language=sub.language,
                                    time_limit=sub.time_limit,
                                    pool=grading.loan if grading.loan is not None else self.pool,
                                    submission_id=sub.id, progress=progress, **extra)
            except (SandboxFailure, RustboxError) as exc:
                # The machinery failed, not the submission: another try.
                if not grading.abandoned.is_set():
                    self._retry(claim, scrub(f"the sandbox failed on worker {cfg.worker_id}: "
                                             f"{exc}"))
                return
            except JudgeError as exc:     # unknown language, broken package, ...
                if not grading.abandoned.is_set():
                    self._fail(claim, scrub(f"cannot grade: {exc}"))
                return
            except Exception as exc:
                if grading.abandoned.is_set():
                    return
                # A retry would meet the same bug: fail it, loudly.
                log.exception("grader crashed on %s", sub.id)
                self._fail(claim, scrub(f"judge error on worker {cfg.worker_id}: "
                                        f"{type(exc).__name__}: {exc}"))
                return
        finished = time.time()
        if grading.abandoned.is_set():
            return
        record = {**result, "submission": result.get("submission", sub.id), "state": DONE,
                  "worker": cfg.worker_id, "attempt": claim.attempt,
                  "finished_at": finished,
                  "timings": {"queued": round(claim.claimed_at - sub.enqueued_at, 6),
                              "grading": round(finished - started, 6),
                              "total": round(finished - sub.enqueued_at, 6)}}
        stored = self._store(claim, lambda: self.queue.complete(claim, record), grading)
        if stored is None:
            return
        if stored:
            self._count("done")
            log.info("graded %s (%s): %s in %.2fs", sub.id, problem_dir.name,
                     record.get("verdict"), finished - started)
        else:
            self._count("duplicates")
            log.info("graded %s again; the result stored first is kept", sub.id)

    def _fail(self, claim: Claim, reason: str, abandoned_ok: bool = False) -> None:
        if self._store(claim, lambda: self.queue.fail(claim, reason),
                       None if abandoned_ok else self._held.get(claim.receipt)):
            self._count("failed")
        log.warning("submission %s failed: %s", claim.submission.id, reason)

    def _retry(self, claim: Claim, reason: str) -> None:
        if self._store(claim, lambda: self.queue.retry(claim, reason) or True,
                       self._held.get(claim.receipt)):
            self._count("retried")
        log.warning("submission %s goes back to the queue: %s", claim.submission.id, reason)

    def _store(self, claim: Claim, write, grading: Grading | None):
        """write() until the store takes it; None if given up (the worker is
        stopping for good, or no longer holds the claim): the lease then runs
        out and the submission is delivered again."""
        delay = 0.5
        while True:
            try:
                return write()
            except QueueUnavailable as exc:
                if self._abort.is_set() or (grading is not None and grading.abandoned.is_set()):
                    log.error("worker %s: could not store %s (%s); it will be graded again",
                              self.config.worker_id, claim.submission.id, exc)
                    return None
                log.error("worker %s: cannot store %s yet, the queue is unavailable (%s); "
                          "trying again in %.1fs", self.config.worker_id, claim.submission.id,
                          exc, delay)
                self._abort.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            except QueueError as exc:
                self._stop_for(f"cannot store {claim.submission.id}: {exc}")
                return None


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
