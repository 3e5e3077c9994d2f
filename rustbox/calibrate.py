"""`rustbox calibrate`: how far this host's CPU time can be trusted, measured in a box.

A verdict near the time limit is only fair if the same program is charged
the same CPU time each run. On a shared host it is not: neighbours compete
for caches, memory bandwidth and (under a hypervisor) the physical core, and
the kernel charges what that costs to the program. This module measures it
the way a judge would see it: fixed workloads (WORKLOADS) run in a box,
round-robin, `runs` times each after one warm-up, charged by the box's
cgroup exactly as a submission is; and the kernel's steal time (/proc/stat)
across the whole calibration.

`classify()` turns the figures into one class, worst of its parts:

    steady     verdicts near the limit repeat; nothing to do
    noisy      a run near the limit can flip: a judge re-runs near-limit
               tests (judge/reruns.py) and judges the fastest run
    unusable   noise larger than re-runs can absorb: a judge worker stops
               claiming (judge/worker.py) until the host settles

The figure that decides is a workload's *spread*: how much slower its
slowest run was than its fastest, (max - min) / min. THRESHOLDS says where
each class ends and why; the judge's default re-run band is derived from
the same figure (see judge/reruns.py). The pure parts (`summarise`,
`classify`, `steal_between`) take figures, so they are tested on tables;
`calibrate()` is the only part that runs anything.
"""
from __future__ import annotations

import os
import shutil
import statistics
import time
from dataclasses import dataclass

from .errors import HostSetupError, RustboxError, UsageError

STEADY, NOISY, UNUSABLE = "steady", "noisy", "unusable"
CLASSES = (STEADY, NOISY, UNUSABLE)            # in order of worsening
DEFAULT_RUNS = 7
MAX_RUNS = 100


@dataclass(frozen=True)
class Workload:
    name: str
    why: str
    code: str            # Python 3, run as `python3 -S -c code` in the box


# Each takes about 0.2 s of CPU on a 2020s server core: long enough that
# the interpreter's start (~15 ms) is small beside it, short enough that the
# whole calibration (2 x (runs + 1) runs) stays a few seconds.
WORKLOADS = (
    Workload("cpu", "integer arithmetic in the interpreter loop: fits in the core's own caches, "
                    "so it measures how much of the core the box really gets",
             "x = 0\n"
             "for i in range(2000000):\n"
             "    x = (x * 1103515245 + 12345) & 0x7fffffff\n"),
    Workload("memory", "copies two 32 MiB buffers back and forth (2.5 GiB in all): larger than "
                       "any last-level cache, so it measures the memory bandwidth the box shares "
                       "with its neighbours",
             "a = bytearray(32 << 20)\n"
             "b = bytearray(32 << 20)\n"
             "for _ in range(40):\n"
             "    a[:] = b\n"
             "    b[:] = a\n"),
)

# Where each class ends: figure -> (steady up to, noisy up to); above the
# second: unusable. Fractions. The host's class is the worst of its figures.
THRESHOLDS = {
    # spread: a workload's slowest run against its fastest, (max - min) / min.
    # Up to 10% is what a dedicated judging machine shows (frequency scaling,
    # cache state), and contest limits are set well above the reference
    # solution's time for it. Beyond, a program near the limit can be charged
    # over it by noise alone: re-run such tests (judge/reruns.py). Beyond
    # 100% one run can be charged more than double its own fastest: a
    # program at 3/4 of the limit then lands past 1.5x the limit, outside
    # the judge's default re-run band, and its TLE would stand.
    "spread": (0.10, 1.00),
    # slowdown: the median run against the fastest, (median - min) / min:
    # how slow a *typical* run is. Re-runs judged on the fastest of three
    # work while slow runs are the exception; once the typical run is
    # charged more than 1.5x the fastest (the default band's top), most of
    # the three are slow too and the fastest run is no longer found.
    "slowdown": (0.05, 0.50),
    # steal: the share of all CPU time the hypervisor gave to other guests
    # while we measured. A few percent is common on cloud machines; past
    # 10% whole time slices go missing under a run, noise the box cannot see.
    "steal": (0.02, 0.10),
}

REASONS = {
    STEADY: "runs of the same work are charged the same CPU time: verdicts near the limit repeat",
    NOISY: "the same work is charged noticeably different CPU times: near-limit tests should "
           "be re-run and judged on their fastest run",
    UNUSABLE: "the noise is larger than re-runs can absorb: a verdict near the limit would "
              "depend on the neighbours",
}


def python_in_box() -> str:
    """The system Python 3 (under /usr, which every box sees)."""
    found = shutil.which("python3", path="/usr/bin:/bin")
    if found is None:
        raise HostSetupError("calibrate needs python3 under /usr/bin (apt install python3)")
    return found


def check_runs(runs) -> int:
    if isinstance(runs, bool) or not isinstance(runs, int) or not 3 <= runs <= MAX_RUNS:
        raise UsageError(f"invalid number of runs: {runs!r} (3-{MAX_RUNS})")
    return runs


def thresholds_from(overrides: dict[str, str | None] | None = None) -> dict:
    """THRESHOLDS with "STEADY,NOISY" overrides by figure (fractions: "0.10,1.0")."""
    out = dict(THRESHOLDS)
    for key, text in (overrides or {}).items():
        if text is None:
            continue
        if key not in THRESHOLDS:
            raise UsageError(f"no threshold named {key!r} (known: {', '.join(THRESHOLDS)})")
        try:
            low, high = (float(part) for part in text.split(","))
            valid = 0 <= low <= high < 1e6
        except ValueError:
            valid = False
        if not valid:
            raise UsageError(f"invalid --{key}: {text!r} (expected STEADY,NOISY fractions, "
                             f"e.g. {THRESHOLDS[key][0]:g},{THRESHOLDS[key][1]:g}, the first "
                             "not above the second)")
        out[key] = (low, high)
    return out


# ---- the pure parts ---------------------------------------------------

def read_cpu_ticks(path: str = "/proc/stat") -> list[int] | None:
    """The aggregate `cpu` line of /proc/stat (user nice system idle iowait
    irq softirq steal guest guest_nice), in clock ticks; None if unreadable."""
    try:
        with open(path) as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    try:
        return [int(x) for x in first[1:]]
    except ValueError:
        return None


def steal_between(before: list[int] | None, after: list[int] | None) -> dict | None:
    """Steal and busy shares of all CPU time between two /proc/stat readings.
    guest and guest_nice are already counted in user and nice, so they are
    left out of the total."""
    if before is None or after is None:
        return None
    delta = [b - a for a, b in zip(before[:8], after[:8])]
    delta += [0] * (8 - len(delta))
    total = sum(delta)
    if total <= 0:
        return {"steal": 0.0, "busy": 0.0, "ticks": 0}
    idle = delta[3] + delta[4]
    return {"steal": delta[7] / total, "busy": (total - idle) / total, "ticks": total}


def summarise(cpu_times: list[float], wall_times: list[float] | None = None) -> dict:
    """One workload's runs: median, extremes, stdev, spread ((max-min)/min)
    and slowdown ((median-min)/min)."""
    if not cpu_times:
        raise ValueError("no runs to summarise")
    fastest, slowest = min(cpu_times), max(cpu_times)
    median = statistics.median(cpu_times)

    def over_fastest(value: float) -> float:
        return (value - fastest) / fastest if fastest > 0 else float("inf")

    figures = {"median": median, "min": fastest, "max": slowest,
               "spread": over_fastest(slowest), "slowdown": over_fastest(median),
               "stdev": statistics.stdev(cpu_times) if len(cpu_times) > 1 else 0.0,
               "samples": list(cpu_times)}
    if wall_times:
        figures["wall_median"] = statistics.median(wall_times)
    return figures


def _level(value: float, limits: tuple[float, float]) -> str:
    steady_max, noisy_max = limits
    if value <= steady_max:
        return STEADY
    return NOISY if value <= noisy_max else UNUSABLE


def classify(workloads: dict[str, dict], steal: float | None,
             thresholds: dict | None = None) -> tuple[str, list[str]]:
    """The host's class (worst of every workload's spread and the steal
    share) and, for each part that is not steady, why."""
    thresholds = thresholds or THRESHOLDS
    worst, reasons = STEADY, []

    def judge(level: str, text: str, limits) -> None:
        nonlocal worst
        if CLASSES.index(level) > CLASSES.index(worst):
            worst = level
        if level != STEADY:
            bound = limits[0] if level == NOISY else limits[1]
            reasons.append(f"{text} > {bound:.0%} ({level})")

    for name, figures in workloads.items():
        for key, what in (("spread", f"slowest {figures['max']:.3f} s"),
                          ("slowdown", f"median {figures['median']:.3f} s")):
            limits = thresholds[key]
            judge(_level(figures[key], limits),
                  f"{name} {key} {figures[key]:.0%} ({what}, fastest {figures['min']:.3f} s)",
                  limits)
    if steal is not None:
        limits = thresholds["steal"]
        judge(_level(steal, limits), f"steal {steal:.1%} of all CPU time", limits)
    return worst, reasons


def worse(a: str, b: str) -> str:
    return a if CLASSES.index(a) >= CLASSES.index(b) else b


# ---- measuring --------------------------------------------------------

def calibrate(box, runs: int = DEFAULT_RUNS, thresholds: dict | None = None) -> dict:
    """Run every workload `runs` times in `box` (an open rustbox Box or a
    pool's box: anything with .run(argv, limits)) and classify the host.

    The workloads alternate (cpu, memory, cpu, ...) so that a burst of
    noise hits both alike; the first round warms caches and the page cache
    and is not counted. A run that does not end OK is the sandbox's or the
    host's failure, not noise: RustboxError."""
    from .limits import Limits

    check_runs(runs)
    thresholds = thresholds or THRESHOLDS
    python = python_in_box()
    # Far above the workloads' 0.2 s: a host slower than that is reported
    # as failing, not measured.
    limits = Limits(time=20, wall_time=60, mem=256 << 20)
    cpu: dict[str, list[float]] = {w.name: [] for w in WORKLOADS}
    wall: dict[str, list[float]] = {w.name: [] for w in WORKLOADS}
    started, ticks_before = time.monotonic(), read_cpu_ticks()
    for round_number in range(runs + 1):
        for workload in WORKLOADS:
            verdict = box.run([python, "-S", "-c", workload.code], limits)
            if verdict.status != "OK":
                raise RustboxError(f"calibration run {workload.name} failed: {verdict.status} "
                                   f"({verdict.message})")
            if round_number:
                cpu[workload.name].append(verdict.cpu_time)
                wall[workload.name].append(verdict.wall_time)
    elapsed = time.monotonic() - started
    host = steal_between(ticks_before, read_cpu_ticks())
    figures = {name: summarise(cpu[name], wall[name]) for name in cpu}
    steal = None if host is None else host["steal"]
    klass, reasons = classify(figures, steal, thresholds)
    report = {"class": klass, "reasons": reasons, "meaning": REASONS[klass],
              "runs": runs, "measured_at": time.time(), "seconds": elapsed,
              "workloads": figures, "steal": steal, "cpus": os.cpu_count() or 1,
              "thresholds": {k: list(v) for k, v in thresholds.items()}}
    if host is not None:
        # Busy time of the whole machine beyond our own runs' charged CPU
        # time: the neighbours' load, in cores (it explains the noise).
        ours = sum(sum(v) for v in cpu.values())
        busy = host["busy"] * host["ticks"] / os.sysconf("SC_CLK_TCK")
        report["other_load"] = max(0.0, (busy - ours) / elapsed) if elapsed > 0 else 0.0
    return report


def summary(report: dict) -> dict:
    """What a grading result carries: the class and its deciding figures."""
    return {"class": report["class"], "measured_at": round(report["measured_at"], 3),
            "spread": {name: round(f["spread"], 4) for name, f in report["workloads"].items()},
            "slowdown": {name: round(f["slowdown"], 4) for name, f in report["workloads"].items()},
            "steal": None if report["steal"] is None else round(report["steal"], 4)}


def format_report(report: dict) -> list[str]:
    """The human table `rustbox calibrate` prints."""
    lines = [f"{'workload':<8} {'median':>8} {'min':>8} {'max':>8} {'stdev':>8} {'spread':>7}"
             f" {'slowdown':>8} {'wall':>8}"]
    for name, f in report["workloads"].items():
        lines.append(f"{name:<8} {f['median']:>7.3f}s {f['min']:>7.3f}s {f['max']:>7.3f}s "
                     f"{f['stdev']:>7.3f}s {f['spread']:>6.0%} {f['slowdown']:>7.0%} "
                     f"{f.get('wall_median', 0):>7.3f}s")
    steal_text = "unknown" if report["steal"] is None else f"{report['steal']:.2%}"
    lines.append(f"steal time: {steal_text} of all CPU time; "
                 f"other load: {report.get('other_load', 0):.2f} of {report['cpus']} cores busy "
                 f"besides these runs; {report['runs']} runs each in {report['seconds']:.1f} s")
    shown = "; ".join(f"{key} steady <= {low:.0%}, noisy <= {high:.0%}"
                      for key, (low, high) in report["thresholds"].items())
    lines.append(f"thresholds: {shown}; beyond: unusable")
    lines.append(f"class: {report['class']}: {report['meaning']}")
    lines.extend(f"  because {reason}" for reason in report["reasons"])
    return lines


__all__ = ["calibrate", "classify", "summarise", "steal_between", "read_cpu_ticks", "summary",
           "format_report", "worse", "thresholds_from", "THRESHOLDS", "WORKLOADS", "STEADY", "NOISY", "UNUSABLE",
           "CLASSES", "DEFAULT_RUNS"]
