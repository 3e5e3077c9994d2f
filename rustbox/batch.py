"""Batch mode: many run specs over a pool of boxes, one verdict line each.

Workers are threads, each owning one box at a time through the BoxPool; a
verdict line is written and flushed the moment it is known, so a judge can
stream results. A bad spec line becomes an XX verdict for its id alone.

Ctrl-C or SIGTERM: no new run starts, the runs in progress are killed (and
print no verdict: the program did not fail, we stopped it), the boxes are
released and the summary line says what ran and how many runs were cut.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson

from .api import BoxPool
from .box import box_root, check_box_id
from .connected import ConnectedGroup
from .errors import RustboxError, UsageError
from .request import RunRequest
from .text import plural
from .verdict import OK, XX, Verdict, sandbox_failure


def parse_box_ids(text: str) -> list[int]:
    """'0-3' -> [0,1,2,3]; '0,2,5' and '0-1,4' too."""
    ids: list[int] = []
    for part in str(text).split(","):
        first, sep, last = part.strip().partition("-")
        try:
            lo = int(first)
            hi = int(last) if sep else lo
        except ValueError:
            raise UsageError(f"invalid --boxes {text!r} (expected e.g. 0-3 or 0,2,5)") from None
        if hi < lo:
            raise UsageError(f"invalid --boxes {text!r}: {part} is an empty range")
        ids.extend(check_box_id(i) for i in range(lo, hi + 1))
    if len(set(ids)) != len(ids):
        raise UsageError(f"invalid --boxes {text!r}: a box is listed twice")
    return ids


@dataclass
class BatchSummary:
    statuses: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    lost: str | None = None    # why verdict lines could not be written, if they could not
    cut: int = 0            # runs in progress when interrupted, killed without a verdict

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def all_ok(self) -> bool:
        return not self.interrupted and not self.lost and set(self.statuses) <= {OK}

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        rate = self.total / elapsed if elapsed > 0 else 0.0
        tail = f" (interrupted; {self.cut} cut short)" if self.interrupted else ""
        if self.lost:
            tail += f"; verdicts could not be written to stdout ({self.lost}): stopped"
        return (f"batch: {plural(self.total, 'run')} ({parts or 'none'}) in {elapsed:.2f} s, "
                f"{rate:.1f}/s{tail}")


class _Specs:
    """Thread-safe reader of spec lines: (verdict id, request or error)."""

    def __init__(self, source):
        self.source, self.number, self.lock = source, 0, threading.Lock()
        self.stopped = False

    def next(self):
        with self.lock:
            while not self.stopped:
                raw = self.source.readline()
                if not raw:
                    return None
                self.number += 1
                if raw.strip():
                    return self._parse(raw)
            return None

    def _parse(self, raw: bytes):
        fallback_id = f"line-{self.number}"
        try:
            spec = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return fallback_id, UsageError(f"line {self.number} is not JSON: {exc}")
        spec_id = str(spec["id"]) if isinstance(spec, dict) and "id" in spec else fallback_id
        try:
            if isinstance(spec, dict) and "group" in spec:   # a connected group (connected.py)
                return spec_id, ConnectedGroup.from_options({"id": spec_id, **spec},
                                                            str(box_root()))
            return spec_id, RunRequest.from_options(spec, str(box_root()))
        except RustboxError as exc:
            return spec_id, UsageError(f"line {self.number}: {exc}")


def run_batch(source, box_ids: list[int], parallel: int, cg: str, out, err=sys.stderr,
              pool: BoxPool | None = None) -> BatchSummary:
    specs = _Specs(source)
    summary = BatchSummary()
    write_lock = threading.Lock()
    own_pool = pool is None
    pool = pool or BoxPool(box_ids, cg=cg)
    fresh = [box.box_id for box in pool.boxes if not box.initialised]
    progress = err.isatty() if hasattr(err, "isatty") else False

    def emit(verdict: Verdict, line: bytes | None = None) -> None:
        with write_lock:
            if summary.lost:
                return
            try:
                out.write((verdict.to_json() if line is None else line) + b"\n")
                out.flush()
            except OSError as exc:   # a verdict that cannot be written stops the batch
                summary.lost = exc.strerror or str(exc)
                specs.stopped = True
                return
            summary.statuses[verdict.status] += 1
            if progress:
                err.write(f"\r{summary.total} done ({summary.statuses[OK]} OK)")
                err.flush()

    def run_group(spec_id: str, group: ConnectedGroup) -> None:
        """One line per program of a connected group, all written together."""
        try:
            result = pool.run_connected(group)
            lines = [orjson.dumps(line) for line in result.lines()]
            verdicts = result.verdicts
        except Exception as exc:  # noqa: BLE001 - one line's fault never stops the batch
            message = str(exc) if isinstance(exc, RustboxError) else (
                f"internal error: {type(exc).__name__}: {exc}")
            verdicts = [sandbox_failure(-1, message, id=f"{spec_id}/{name}")
                        for name in group.names]
            lines = [v.to_json() for v in verdicts]
        if specs.stopped and any(v.status == XX for v in verdicts):
            with write_lock:
                summary.cut += len(verdicts)
            return
        for verdict, line in zip(verdicts, lines):
            emit(verdict, line)

    def worker() -> None:
        while True:
            item = specs.next()
            if item is None:
                return
            spec_id, request = item
            if isinstance(request, Exception):
                emit(sandbox_failure(-1, str(request), id=spec_id))
                continue
            if isinstance(request, ConnectedGroup):
                run_group(spec_id, request)
                if specs.stopped:
                    return
                continue
            try:
                with pool.box() as box:
                    verdict = box.run_request(request)
                verdict.id = spec_id
                verdict.to_json()  # a verdict that cannot be printed is this line's XX
            except RustboxError as exc:
                verdict = sandbox_failure(-1, str(exc), id=spec_id)
            except Exception as exc:  # noqa: BLE001 - one line's fault never stops the batch
                verdict = sandbox_failure(-1, f"internal error: {type(exc).__name__}: {exc}",
                                          id=spec_id)
            if specs.stopped and verdict.status == XX:
                with write_lock:        # killed by the interruption, not failed
                    summary.cut += 1
                return
            emit(verdict)

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(max(1, min(parallel, len(pool))))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        summary.interrupted = True
        specs.stopped = True
    finally:
        if own_pool:
            pool.close(kill=summary.interrupted)  # a killed helper takes its run with it
            if summary.interrupted:
                for thread in threads:    # their runs are dead: they end at once
                    thread.join(1.0)
            for box in pool.boxes:
                if box.box_id in fresh:
                    box.cleanup()
        if progress:
            err.write("\r")
        err.write(summary.line() + "\n")
        err.flush()
    return summary
