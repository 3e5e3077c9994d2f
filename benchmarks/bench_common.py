"""What both benchmark scripts share: the machine-load report, `Skip`,
the commit being measured, and small command-line helpers."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class MachineLoad:
    """CPU time the machine spent outside this process tree while we measured.

    Other people's work on the host skews every figure here. /proc/stat's
    busy time minus our own (os.times() counts reaped children: the box
    helpers and all they ran) is what the rest of the machine used. Kernel
    threads and interrupts are counted apart: much of that is work our own
    runs cause (namespace and cgroup teardown, RCU), so only the rest,
    other processes, is the warning sign.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self):
        self.start = time.monotonic()
        self.busy0, self.own0, self.kernel0 = self._busy(), self._own(), self._kernel()

    @classmethod
    def _stat(cls) -> list[int] | None:
        try:
            with open("/proc/stat") as f:
                return [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None

    @classmethod
    def _busy(cls) -> float | None:
        fields = cls._stat()
        if fields is None:
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / cls.TICK

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    @classmethod
    def _kernel(cls) -> dict[str, float]:
        """CPU seconds per kernel thread (parent kthreadd), plus irq and softirq."""
        out: dict[str, float] = {}
        fields = cls._stat()
        if fields is not None and len(fields) > 6:
            out["irq"] = (fields[5] + fields[6]) / cls.TICK
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            rest = text[text.rindex(")") + 2:].split()
            if rest[1] == "2" or pid == "2":
                out[pid] = (int(rest[11]) + int(rest[12])) / cls.TICK
        return out

    def report(self) -> dict:
        busy = self._busy()
        elapsed = time.monotonic() - self.start
        if busy is None or self.busy0 is None or elapsed <= 0:
            return {"elapsed": elapsed, "other_cpu": None, "other_cores": None,
                    "kernel_cores": None}
        outside = max(0.0, (busy - self.busy0) - (self._own() - self.own0))
        kernel_now = self._kernel()
        kernel = sum(max(0.0, value - self.kernel0.get(key, 0.0))
                     for key, value in kernel_now.items())
        kernel = min(kernel, outside)
        other = outside - kernel
        return {"elapsed": elapsed, "other_cpu": other, "other_cores": other / elapsed,
                "kernel_cpu": kernel, "kernel_cores": kernel / elapsed}

    @staticmethod
    def note(report: dict) -> str:
        cores = report.get("other_cores")
        if cores is None:
            return "machine load: unknown (/proc/stat unreadable)"
        text = (f"machine load outside this benchmark over {report['elapsed']:.0f} s: "
                f"other processes {cores:.2f} cores, kernel threads and interrupts "
                f"{report['kernel_cores']:.2f} cores (partly caused by the runs measured)")
        if cores > 0.15:
            text += "\n  -- WARNING: other processes were busy; figures are skewed"
        return text


class Skip(Exception):
    """A path or a program cannot run here; says why."""


def git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    except OSError:
        return None  # no git: the report just lacks the commit
    return proc.stdout.strip() if proc.returncode == 0 else None


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def write_report(path: str, report: dict, log, who: str) -> int:
    """Write the JSON report; 0, or 2 with a one-line error."""
    try:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        log(f"{who}: results written to {out}")
    except OSError as exc:
        log(f"{who}: error: cannot write {path}: {exc.strerror or exc}")
        return 2
    return 0


def rustbox_cli() -> str | None:
    """The venv's rustbox script (next to this interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "rustbox"
    if beside.exists():
        return str(beside)
    return shutil.which("rustbox")


def cleanup_boxes(box_ids, log, who: str) -> None:
    """Remove the benchmark's boxes; a failure is one logged line."""
    cli = rustbox_cli()
    for box_id in box_ids:
        if cli is None:
            try:
                from rustbox.session import cleanup_box
                cleanup_box(box_id)
            except Exception as exc:  # noqa: BLE001 - report, never a traceback
                log(f"{who}: cleanup of box {box_id} failed: {exc}")
            continue
        proc = subprocess.run([cli, "cleanup", "--box-id", str(box_id)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            log(f"{who}: cleanup of box {box_id} failed: {proc.stderr.strip()}")
