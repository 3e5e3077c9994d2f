"""One table of runs, each with the verdict it must get, on any cgroup version.

The same programs run through `rustbox run` on this host (cgroup v1) and in
the cgroup v2 VM of the CI stage; both must give the expected status, and
agree with each other on status, oom, tle, output_limit and exit code or
signal, with memory peaks within 1 MiB.

    python -m tests.verdict_table run OUT.json [--against REF.json] [--programs DIR]
    python -m tests.verdict_table compare A.json B.json

`run` runs the table, prints one line per case, writes the verdicts to
OUT.json, and exits 1 when a case misses its expectation or disagrees with
REF.json; `compare` prints two hosts' verdicts side by side and exits 1 when
they disagree. tests/integration/test_verdict_table.py runs the table under
pytest (on this host, and in the VM of `.ci/v2-vm`).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = REPO / "testdata" / "programs"
MiB = 1 << 20
PEAK_TOLERANCE = MiB
COMPARED = ("status", "oom", "tle", "output_limit", "exit_code", "signal")


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]                     # rustbox run flags, then the program
    expect: dict = field(default_factory=dict)  # verdict keys that must hold
    peak_between: tuple[int, int] | None = None
    # --cpus Q: the kernel's quota keeps wall >= cpu/Q (less a period's slack).
    quota: float | None = None


CASES = [
    Case("ok", ("/bin/true",), {"status": "OK", "exit_code": 0}, (0, MiB)),
    Case("re", ("./exit3",), {"status": "RE", "exit_code": 3}),
    Case("sg", ("./segv",), {"status": "SG", "signal": 11}),
    Case("abort", ("./abort",), {"status": "SG", "signal": 6}),
    Case("to-cpu", ("--time", "0.5", "./spin"), {"status": "TO", "tle": True}),
    Case("to-wall", ("--time", "1", "--wall-time", "1.5", "/bin/sleep", "100"),
         {"status": "TO", "tle": True}),
    Case("ml", ("--mem", "32M", "./touch_mem", "128"), {"status": "ML", "oom": True},
         (28 * MiB, 32 * MiB)),
    Case("ok-48m", ("--mem", "128M", "./touch_mem", "48"), {"status": "OK", "oom": False},
         (48 * MiB, 51 * MiB)),
    Case("ol", ("--fsize", "1M", "./write_big", "8"), {"status": "OL", "output_limit": True,
                                                        "signal": 25}),
    Case("pids-1", ("./try_fork",), {"status": "RE", "exit_code": 1}),
    Case("pids-2", ("--processes", "2", "./try_fork"), {"status": "OK"}),
    Case("cpus", ("--cpus", "0.5", "--processes", "4", "--time", "30", "./threads", "2", "0.3"),
         {"status": "OK"}, quota=0.5),
]


def compile_programs(out: Path) -> Path:
    """testdata/programs/*.c built with gcc -O2 into `out` (as tests/conftest.py does)."""
    out.mkdir(parents=True, exist_ok=True)
    for source in PROGRAMS.glob("*.c"):
        subprocess.run(["gcc", "-O2", "-pthread", "-o", str(out / source.stem), str(source)],
                       check=True)
    return out


def run_case(case: Case, programs: Path, box_id: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "rustbox", "run", "--box-id", str(box_id),
                           *case.args], cwd=programs, capture_output=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(b'{"box_id"')]
    if not lines:
        return {"status": "no verdict", "stderr": proc.stderr.decode(errors="replace")}
    return orjson.loads(lines[-1])


def misses(case: Case, verdict: dict) -> list[str]:
    """How `verdict` misses the case's expectation (empty: it holds)."""
    found = [f"{key}={verdict.get(key)!r}, expected {want!r}"
             for key, want in case.expect.items() if verdict.get(key) != want]
    if case.peak_between is not None and "memory_peak" in verdict:
        low, high = case.peak_between
        if not low <= verdict["memory_peak"] <= high:
            found.append(f"memory_peak={verdict['memory_peak']}, expected {low}..{high}")
    if case.quota is not None and "cpu_time" in verdict:
        # 0.1 s: one CFS period of burst at the start of the run.
        if verdict["wall_time"] < verdict["cpu_time"] / case.quota - 0.1:
            found.append(f"wall_time={verdict['wall_time']} under cpu_time/{case.quota} "
                         f"({verdict['cpu_time']}): --cpus not enforced")
    return found


def disagreements(mine: dict, reference: dict) -> list[str]:
    """Where two verdicts of one case differ (another host, another version)."""
    found = [f"{key}: {mine.get(key)!r} here, {reference.get(key)!r} there"
             for key in COMPARED if mine.get(key) != reference.get(key)]
    if abs(mine.get("memory_peak", 0) - reference.get("memory_peak", 0)) > PEAK_TOLERANCE:
        found.append(f"memory_peak: {mine.get('memory_peak')} here, "
                     f"{reference.get('memory_peak')} there (more than 1 MiB apart)")
    return found


def run_table(programs: Path, box_id: int, reference: dict | None = None,
              echo=print) -> tuple[dict, list[str]]:
    """Run every case in box `box_id`; returns (verdicts by name, problems)."""
    verdicts, problems = {}, []
    try:
        for case in CASES:
            verdict = run_case(case, programs, box_id)
            verdicts[case.name] = verdict
            found = misses(case, verdict)
            if reference is not None:
                if case.name not in reference:
                    found.append("missing from the reference")
                else:
                    found += disagreements(verdict, reference[case.name])
            peak = verdict.get("memory_peak")
            there = "" if reference is None or case.name not in reference else \
                f" | reference {reference[case.name].get('status')} peak {reference[case.name].get('memory_peak')}"
            echo(f"{case.name:8} {verdict.get('cgroup', '?')} {verdict.get('status'):3} "
                 f"oom={verdict.get('oom')} tle={verdict.get('tle')} "
                 f"ol={verdict.get('output_limit')} peak={peak}{there}"
                 + ("" if not found else "  <-- " + "; ".join(found)))
            problems += [f"{case.name}: {text}" for text in found]
    finally:
        subprocess.run([sys.executable, "-m", "rustbox", "cleanup", "--box-id", str(box_id)],
                       capture_output=True)
    return verdicts, problems


def compare(first: dict, second: dict, echo=print) -> list[str]:
    """Two hosts' verdicts of the table, one line per case; the disagreements."""
    problems = []
    echo(f"{'case':8} {'A':18} {'B':18} peak A / B (bytes)")
    for case in CASES:
        a, b = first.get(case.name), second.get(case.name)
        if a is None or b is None:
            problems.append(f"{case.name}: missing from {'A' if a is None else 'B'}")
            continue
        found = disagreements(b, a)
        def short(v):
            flags = [k for k in ("oom", "tle", "output_limit") if v.get(k)]
            return f"{v.get('cgroup')} {v.get('status')} {','.join(flags) or '-'}"
        echo(f"{case.name:8} {short(a):18} {short(b):18} {a.get('memory_peak')} / "
             f"{b.get('memory_peak')}" + ("" if not found else "  <-- " + "; ".join(found)))
        problems += [f"{case.name}: {text}" for text in found]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.verdict_table")
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run the table here")
    run.add_argument("out", type=Path)
    run.add_argument("--against", type=Path, help="verdicts from another host to agree with")
    run.add_argument("--programs", type=Path, help="already built test programs")
    run.add_argument("--box-id", type=int, default=40)
    both = verbs.add_parser("compare", help="two hosts' verdicts side by side")
    both.add_argument("first", type=Path)
    both.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    if args.verb == "compare":
        problems = compare(orjson.loads(args.first.read_bytes()), orjson.loads(args.second.read_bytes()))
        cases = {problem.split(":")[0] for problem in problems}
        print(f"verdict table: A and B {'disagree' if problems else 'agree'} on "
              f"{len(cases) if problems else len(CASES)} of {len(CASES)} cases "
              "(status, oom, tle, output_limit, exit code, signal; peaks within 1 MiB)")
        return 1 if problems else 0
    reference = orjson.loads(args.against.read_bytes()) if args.against else None
    with tempfile.TemporaryDirectory() as tmp:
        programs = args.programs or compile_programs(Path(tmp))
        verdicts, problems = run_table(programs, args.box_id, reference)
    args.out.write_bytes(orjson.dumps(verdicts, option=orjson.OPT_INDENT_2))
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    print(f"verdict table: {len(CASES) - len({p.split(':')[0] for p in problems})} of "
          f"{len(CASES)} cases as expected{' and in agreement' if reference else ''}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
