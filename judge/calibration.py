"""A judge worker's view of its host's timing: calibrated at start and every
few minutes, and whether to claim submissions meanwhile.

`HostTiming` runs `rustbox calibrate` (rustbox/calibrate.py) in one of the
worker's boxes: before the worker claims anything, then every `every`
seconds from a thread of its own (it borrows a box like a grading does, so
it waits for one to be free). What it does with the class is the mode:

    off    never calibrates; results carry no class ("calibration": null)
    warn   calibrates and grades whatever the class; each result carries
           the class at grading time
    on     as warn, but while the host is unusable the worker claims
           nothing (it logs why, and `status()` says so), until a later
           calibration finds it steady or noisy again (it calibrates at
           least every RECHECK seconds meanwhile)

A calibration that cannot run (the sandbox failing under it) is logged and
changes nothing: the previous class stands (none yet: claiming goes on, the
gradings themselves will meet the failure and say so).
"""
from __future__ import annotations

import logging
import threading
import time

from rustbox.calibrate import DEFAULT_RUNS, UNUSABLE, calibrate, summary
from rustbox.errors import RustboxError

log = logging.getLogger("judge.worker")

MODES = ("off", "warn", "on")
DEFAULT_EVERY = 300.0           # seconds between calibrations
RECHECK = 60.0                  # at most this while claiming is stopped


class HostTiming:
    def __init__(self, mode: str = "off", every: float = DEFAULT_EVERY, runs: int = DEFAULT_RUNS,
                 worker_id: str = "", thresholds: dict | None = None):
        if mode not in MODES:
            raise ValueError(f"calibration mode must be one of {', '.join(MODES)}, not {mode!r}")
        if every <= 0:
            raise ValueError("the calibration interval must be positive")
        self.mode, self.every, self.runs = mode, every, runs
        self.worker_id, self.thresholds = worker_id, thresholds
        self.report: dict | None = None          # the latest calibration's full report
        self.failures = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Set once the first calibration is over (at once when off): the
        # worker claims nothing before it.
        self.ready = threading.Event()
        if not self.enabled:
            self.ready.set()

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def summary(self) -> dict | None:
        """What a result carries: the latest class and its figures (None: none yet)."""
        with self._lock:
            return None if self.report is None else summary(self.report)

    def may_claim(self) -> bool:
        if not self.ready.is_set():
            return False
        with self._lock:
            return not (self.mode == "on" and self.report is not None
                        and self.report["class"] == UNUSABLE)

    def status(self) -> dict:
        """For a status page or a heartbeat: the mode, the class, whether the
        worker claims, and why not."""
        with self._lock:
            report = self.report
        claiming = self.may_claim()
        out = {"mode": self.mode, "claiming": claiming, "calibrated": self.ready.is_set(),
               "calibration": None if report is None else summary(report),
               "failures": self.failures}
        if not self.ready.is_set():
            out["why"] = "calibrating the host's timing before the first claim"
        elif not claiming:
            out["why"] = ("host timing unusable: " + "; ".join(report["reasons"])
                          + " (judge worker --calibration on)")
        return out

    def measure(self, pool) -> dict | None:
        """One calibration in a box borrowed from `pool`; logs what changed."""
        try:
            with pool.box() as box:
                report = calibrate(box, self.runs, self.thresholds)
        except RustboxError as exc:
            self.failures += 1
            log.error("worker %s: calibration failed (%s); the last class stands",
                      self.worker_id, exc)
            return None
        with self._lock:
            before = None if self.report is None else self.report["class"]
            self.report = report
        figures = ", ".join(f"{name} spread {f['spread']:.0%} slowdown {f['slowdown']:.0%}"
                            for name, f in report["workloads"].items())
        steal = "" if report["steal"] is None else f", steal {report['steal']:.1%}"
        log.info("worker %s: host timing %s (%s%s)", self.worker_id, report["class"], figures, steal)
        if self.mode == "on" and report["class"] == UNUSABLE and before != UNUSABLE:
            log.warning("worker %s stops claiming: host timing unusable: %s; it calibrates "
                        "again in %.0fs", self.worker_id, "; ".join(report["reasons"]), self.every)
        elif self.mode == "on" and before == UNUSABLE and report["class"] != UNUSABLE:
            log.warning("worker %s claims again: host timing %s", self.worker_id, report["class"])
        return report

    def start(self, pool, done: threading.Event) -> None:
        """Calibrate now, then every `every` seconds until `done` is set,
        on a thread of its own."""
        if not self.enabled or pool is None:
            self.ready.set()
            return

        def loop() -> None:
            try:
                self.measure(pool)
            finally:
                self.ready.set()
            # Sooner while claiming is stopped: the host may have settled.
            while not done.wait(self.every if self.may_claim() else min(self.every, RECHECK)):
                self.measure(pool)

        self._thread = threading.Thread(target=loop, daemon=True, name="judge-calibration")
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["HostTiming", "MODES", "DEFAULT_EVERY"]
