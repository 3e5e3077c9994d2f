"""How exact rustbox's verdict figures are, on programs whose answer is known.

The test programs (testdata/programs/spin.c, touch_mem.c, threads.c) are
compiled by this script with the host's C compiler into a temporary
directory and copied into the box. Each case runs R times (default 5),
round-robin over the cases so slow drift hits all of them alike:

    busy S        `./spin S` burns S s of its own CPU (clock()), S = 0.5, 1, 2;
                  error = verdict cpu_time - S
    touch M       `./touch_mem M` touches M MiB, --mem 512M, M = 16, 64, 256;
                  error = verdict memory_peak - M MiB
    threads       `./threads 2 0.5`: two threads of 0.5 s CPU each;
                  error = cpu_time - 1.0 (and wall_time - 0.5 alongside)
    TLE L         `./spin` (forever) under --time L, L = 0.5, 1, 2;
                  stop latency = cpu_time - L (and wall_time - L alongside);
                  the verdict must be TO

Path `api` is a rustbox.Box(994) kept open, box.run(...) per run; path
`cli` (with --cli) is `rustbox run --box-id 995 ...` as a subprocess,
its verdict read from stdout. The table shows the median and the largest
error per case; the targets of issue 4 are judged on the largest error
seen (every run must meet them):

    CPU error   |cpu_time - 1.0|      <= 5 ms   on busy 1 s
    peak error  |memory_peak - 64Mi|  <= 2 MiB  on touch 64 MiB
    TLE stop    cpu_time - limit      <= 20 ms  on every TLE case

    .venv/bin/python benchmarks/accuracy.py [--repeats 5] [--cli] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (MachineLoad, Skip, cleanup_boxes, git, positive,  # noqa: E402
                          rustbox_cli, write_report)  # noqa: E402
from rustbox.text import plural  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = REPO / "testdata" / "programs"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "accuracy.json"
API_BOX, CLI_BOX = 994, 995
MiB = 1 << 20

TARGET_CPU_S = 0.005
TARGET_PEAK_B = 2 * MiB
TARGET_TLE_S = 0.020


@dataclass
class Case:
    """One known program: what to run, under which limits, and its true figures."""

    name: str
    program: str                 # source stem in testdata/programs
    args: list[str]
    limits: dict                 # contract flag names -> values (as the CLI takes them)
    kind: str                    # "cpu", "mem", "tle"
    nominal: float               # seconds of CPU, or bytes, or the time limit
    nominal_wall: float | None = None
    expect: str = "OK"
    samples: dict = field(default_factory=dict)   # path -> list of verdict dicts


def build_cases() -> list[Case]:
    cases = []
    for seconds in (0.5, 1.0, 2.0):
        cases.append(Case(f"busy {seconds:g} s", "spin", [f"{seconds:g}"],
                          {"time": seconds + 2}, "cpu", seconds))
    for mib in (16, 64, 256):
        cases.append(Case(f"touch {mib} MiB", "touch_mem", [str(mib)],
                          {"mem": "512M", "time": 5}, "mem", mib * MiB))
    cases.append(Case("threads 2 x 0.5 s", "threads", ["2", "0.5"],
                      {"time": 3, "processes": 4}, "cpu", 1.0, nominal_wall=0.5))
    for limit in (0.5, 1.0, 2.0):
        cases.append(Case(f"TLE {limit:g} s", "spin", [],
                          {"time": limit}, "tle", limit, nominal_wall=limit, expect="TO"))
    return cases


# -- compiling ---------------------------------------------------------------


def find_compiler() -> str:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise Skip("missing tool: a C compiler (cc, gcc or clang; or set CC)")


def compile_programs(names: set[str], workdir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """-> (stem -> binary, stem -> why it failed)."""
    compiler = find_compiler()
    built, failed = {}, {}
    for stem in sorted(names):
        source = PROGRAMS / f"{stem}.c"
        if not source.exists():
            failed[stem] = f"source {source} not found"
            continue
        binary = workdir / stem
        proc = subprocess.run([compiler, "-O2", "-o", str(binary), str(source), "-pthread"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            failed[stem] = f"{Path(compiler).name} failed on {source.name}" + (
                f": {lines[0]}" if lines else "")
        else:
            built[stem] = binary
    return built, failed


# -- the two paths -----------------------------------------------------------


class ApiPath:
    name = "api"

    def __init__(self, binaries: dict[str, Path]):
        self.binaries, self.box = binaries, None

    def open(self) -> None:
        try:
            import rustbox
        except ImportError as exc:
            raise Skip(f"cannot import rustbox: {exc}") from None
        try:
            self.box = rustbox.Box(API_BOX).init()
        except rustbox.RustboxError as exc:
            raise Skip(f"rustbox.Box({API_BOX}) failed: {exc}") from None
        for stem, binary in self.binaries.items():
            target = self.box.path / stem
            shutil.copyfile(binary, target)
            os.chmod(target, 0o755)

    def run(self, case: Case) -> dict:
        from rustbox import limits_from
        verdict = self.box.run([f"./{case.program}", *case.args], limits_from(case.limits))
        return verdict.to_dict()

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None


class CliPath:
    name = "cli"

    def __init__(self, binaries: dict[str, Path], workdir: Path):
        self.binaries, self.workdir = binaries, workdir
        self.cli = rustbox_cli()

    def open(self) -> None:
        if self.cli is None:
            raise Skip("missing tool: rustbox (not on PATH)")
        proc = subprocess.run([self.cli, "init", "--box-id", str(CLI_BOX)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise Skip(f"rustbox init --box-id {CLI_BOX} failed: {proc.stderr.strip()}")

    def run(self, case: Case) -> dict:
        flags = []
        for key, value in case.limits.items():
            flags += [f"--{key.replace('_', '-')}", str(value)]
        # Run from the directory holding the binaries: `./spin` is copied in,
        # as the contract promises for a freshly compiled program.
        proc = subprocess.run([self.cli, "run", "--box-id", str(CLI_BOX), *flags, "--",
                               f"./{case.program}", *case.args],
                              capture_output=True, text=True, cwd=self.workdir)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            message = (proc.stderr.strip().splitlines() or ["no verdict on stdout"])[-1]
            return {"status": "XX", "message": message}

    def close(self) -> None:
        pass


# -- measuring ---------------------------------------------------------------


def error_of(case: Case, verdict: dict) -> float | None:
    if case.kind == "mem":
        peak = verdict.get("memory_peak")
        return None if peak is None else peak - case.nominal
    cpu = verdict.get("cpu_time")
    return None if cpu is None else cpu - case.nominal


def wall_error_of(case: Case, verdict: dict) -> float | None:
    wall = verdict.get("wall_time")
    if case.nominal_wall is None or wall is None:
        return None
    return wall - case.nominal_wall


def largest(values: list[float]) -> float:
    """The error furthest from zero, sign kept."""
    return max(values, key=abs)


def summarise(case: Case, verdicts: list[dict]) -> dict:
    wrong = [v for v in verdicts if v.get("status") != case.expect]
    errors = [e for e in (error_of(case, v) for v in verdicts) if e is not None]
    walls = [e for e in (wall_error_of(case, v) for v in verdicts) if e is not None]
    out = {"case": case.name, "kind": case.kind, "nominal": case.nominal,
           "expect": case.expect, "runs": len(verdicts),
           "statuses": [v.get("status") for v in verdicts],
           "wrong_status": len(wrong),
           "errors": errors, "wall_errors": walls}
    if wrong:
        out["first_wrong"] = f"{wrong[0].get('status')}: {wrong[0].get('message')}"
    if errors:
        out["median_error"] = statistics.median(errors)
        out["max_error"] = largest(errors)
    if walls:
        out["median_wall_error"] = statistics.median(walls)
        out["max_wall_error"] = largest(walls)
    return out


def measure(path, cases: list[Case], repeats: int, log) -> dict:
    try:
        path.open()
    except Skip as exc:
        path.close()
        log(f"accuracy: skipping path {path.name}: {exc}")
        return {"status": "skipped", "reason": str(exc)}
    runnable = [c for c in cases if c.program in path.binaries]
    per_case: dict[str, list[dict]] = {c.name: [] for c in runnable}
    try:
        for i in range(repeats):
            log(f"accuracy: {path.name} round {i + 1}/{repeats}...")
            for case in runnable:
                per_case[case.name].append(path.run(case))
    finally:
        path.close()
    return {"status": "ok",
            "cases": {c.name: summarise(c, per_case[c.name]) for c in runnable}}


# -- report ------------------------------------------------------------------


def fmt_error(case: Case, value: float | None) -> str:
    if value is None:
        return "n/a"
    if case.kind == "mem":
        return f"{value / MiB:+.2f} MiB"
    return f"{value * 1000:+.1f} ms"


def render(paths: dict, cases: list[Case], failed: dict, repeats: int, version: str) -> str:
    lines = [f"rustbox accuracy: {plural(repeats, 'run')} per case, error = measured - nominal "
             "(median, and the largest seen)", version]
    for name, result in paths.items():
        lines.append("")
        if result["status"] != "ok":
            lines.append(f"[{name}] SKIPPED: {result['reason']}")
            continue
        lines.append(f"[{name}]")
        lines.append(f"  {'case':<19} {'measured':<12} {'median err':>12} {'max err':>12}"
                     f"   {'wall median':>12} {'wall max':>12}  status")
        for case in cases:
            if case.program in failed:
                lines.append(f"  {case.name:<19} SKIPPED: {failed[case.program]}")
                continue
            row = result["cases"][case.name]
            what = {"cpu": "cpu_time", "mem": "memory_peak", "tle": "cpu - limit"}[case.kind]
            wall_med = wall_max = ""
            if "median_wall_error" in row:
                wall_med = f"{row['median_wall_error'] * 1000:+.1f} ms"
                wall_max = f"{row['max_wall_error'] * 1000:+.1f} ms"
            status = (f"{case.expect} x{row['runs']}" if not row["wrong_status"]
                      else f"WRONG {row['wrong_status']}/{row['runs']} ({row['first_wrong']})")
            lines.append(f"  {case.name:<19} {what:<12} "
                         f"{fmt_error(case, row.get('median_error')):>12} "
                         f"{fmt_error(case, row.get('max_error')):>12}   "
                         f"{wall_med:>12} {wall_max:>12}  {status}")
    lines.append("")
    lines.append("targets (issue 4), judged on the largest error of every run:")
    for name, result in paths.items():
        for target in judge(result, cases):
            lines.append(f"  [{name}] {target['what']:<34} {target['seen']:>12}   "
                         f"{target['limit']:<9} {target['verdict']}")
    return "\n".join(lines)


def judge(result: dict, cases: list[Case]) -> list[dict]:
    """PASS/FAIL per target of issue 4 for one path."""
    rows = result.get("cases", {}) if result.get("status") == "ok" else {}

    def target(what, names, limit, scale, unit, signed=False):
        seen = []
        wrong = 0
        for name in names:
            row = rows.get(name)
            if row is None or not row["errors"]:
                return {"what": what, "seen": "n/a", "limit": f"<= {limit:g} {unit}",
                        "verdict": "n/a (not run)"}
            seen += row["errors"]
            wrong += row["wrong_status"]
        worst = max(seen) if signed else max(abs(e) for e in seen)
        ok = worst <= limit / scale and not wrong
        verdict = "PASS" if ok else "FAIL"
        if wrong:
            verdict += f" ({plural(wrong, 'run')} with a wrong status)"
        return {"what": what, "seen": f"{worst * scale:.2f} {unit}",
                "limit": f"<= {limit:g} {unit}", "verdict": verdict,
                "value": worst, "pass": ok}

    tle_names = [c.name for c in cases if c.kind == "tle"]
    return [
        target("CPU error, busy 1 s", ["busy 1 s"], TARGET_CPU_S * 1000, 1000, "ms"),
        target("peak error, touch 64 MiB", ["touch 64 MiB"], TARGET_PEAK_B / MiB, 1 / MiB, "MiB"),
        target("TLE stop latency (cpu), all limits", tle_names, TARGET_TLE_S * 1000, 1000, "ms",
               signed=True),
    ]


def version_note() -> tuple[str | None, bool | None, str]:
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "rustbox")
    dirty = None if dirty is None else bool(dirty)
    return commit, dirty, (f"rustbox at commit {commit or '?'}"
                           + (" + uncommitted changes in rustbox/" if dirty else ""))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="benchmarks/accuracy.py",
        description="CPU-time, peak-memory and TLE-stop error of rustbox verdicts on "
                    "programs with known answers (compiled from testdata/programs). "
                    "Uses boxes 994-995.")
    parser.add_argument("--repeats", type=positive, default=5,
                        help="runs per case (default 5)")
    parser.add_argument("--cli", action="store_true",
                        help="also measure `rustbox run` as a subprocess (box 995)")
    parser.add_argument("--no-api", action="store_true", help="skip the API path (box 994)")
    parser.add_argument("--json", default=str(DEFAULT_JSON),
                        help=f"write results here (default {DEFAULT_JSON.relative_to(REPO)})")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.no_api and not args.cli:
        print("accuracy: error: nothing to measure (--no-api without --cli)", file=sys.stderr)
        return 2
    cases = build_cases()
    machine = MachineLoad()
    paths: dict[str, dict] = {}
    used_boxes = []
    with tempfile.TemporaryDirectory(prefix="rustbox-accuracy-") as workdir:
        try:
            binaries, failed = compile_programs({c.program for c in cases}, Path(workdir))
        except Skip as exc:
            print(f"accuracy: error: {exc}; cannot build the test programs", file=sys.stderr)
            return 2
        for stem, why in failed.items():
            log(f"accuracy: skipping {stem} cases: {why}")
        chosen = [] if args.no_api else [ApiPath(binaries)]
        if args.cli:
            chosen.append(CliPath(binaries, Path(workdir)))
        try:
            for path in chosen:
                used_boxes.append(API_BOX if path.name == "api" else CLI_BOX)
                paths[path.name] = measure(path, cases, args.repeats, log)
        except KeyboardInterrupt:
            log("accuracy: interrupted")
            cleanup_boxes(used_boxes, log, "accuracy")
            return 130
    cleanup_boxes(used_boxes, log, "accuracy")
    load = machine.report()

    commit, dirty, version = version_note()
    print(render(paths, cases, failed, args.repeats, version))
    print(MachineLoad.note(load), flush=True)
    report = {"benchmark": "accuracy", "machine_load": load, "host": {
                  "kernel": platform.release(), "cpus": os.cpu_count(),
                  "python": platform.python_version(), "commit": commit,
                  "rustbox_tree_dirty": dirty,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
              "settings": {"repeats": args.repeats},
              "compile_failures": failed,
              "paths": paths,
              "targets": {name: judge(result, cases) for name, result in paths.items()}}
    return write_report(args.json, report, log, "accuracy")


if __name__ == "__main__":
    sys.exit(main())
