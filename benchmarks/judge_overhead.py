#!/usr/bin/env python3
"""How much of a grading's wall time is spent outside the submission's runs.

Grades testdata/problems/aplusb (122 tests) with its C++ accepted submission
through judge.grade_submission and splits the wall time:

    compile      the in-box g++ build
    runs         wall time during which at least one of the submission's
                 Box.run calls was in progress (the union over boxes)
    overhead     the testing phase minus `runs`: copying inputs, reading
                 outputs, validating, aggregating, thread hand-offs

Acceptance (issue 5): overhead < 10% of the testing phase's wall time. The
share of the whole grading (compile included) is printed too.

    sudo .venv/bin/python benchmarks/judge_overhead.py [--boxes 800-801] [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from judge import grade_submission  # noqa: E402
from judge.cli import parse_boxes  # noqa: E402
from rustbox import BoxPool  # noqa: E402
from rustbox.text import plural  # noqa: E402

PROBLEM = REPO / "testdata" / "problems" / "aplusb"
SOURCE = PROBLEM / "submissions" / "accepted" / "sum.cpp"


def measure(pool: BoxPool, cache: str) -> dict:
    timings: dict = {}
    result = grade_submission(PROBLEM, SOURCE, pool=pool, cache_dir=cache, timings=timings)
    if result["verdict"] != "AC":
        raise SystemExit(f"expected AC, got {result['verdict']}")
    timings["overhead"] = timings["tests_phase"] - timings["runs_union"]
    timings["overhead_share"] = 100 * timings["overhead"] / timings["tests_phase"]
    timings["outside_share"] = 100 * (timings["total"] - timings["runs_union"]) / timings["total"]
    timings["judge_share"] = 100 * (timings["total"] - timings["runs_union"] - timings["compile"]) / timings["total"]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boxes", default="800-801", help="box ids (default 800-801)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ids = parse_boxes(args.boxes)
    print(f"aplusb: {plural(len(list(PROBLEM.glob('data/*/*.in'))), 'test')}, C++ sum.cpp")
    for count in sorted({1, len(ids)}):
        pool = BoxPool(ids[:count])
        with tempfile.TemporaryDirectory() as cache:
            measure(pool, cache)                           # warm: helpers started, caches hot
            rows = [measure(pool, cache) for _ in range(args.repeat)]
        pool.cleanup()  # the benchmark leaves no box behind
        med = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        share = med["overhead_share"]
        print(f"\n{plural(count, 'box', 'boxes')}, median of {args.repeat}:")
        print(f"  total grading wall      {med['total']:.3f} s")
        print(f"  compile (in a box)      {med['compile']:.3f} s")
        print(f"  testing phase           {med['tests_phase']:.3f} s for {plural(int(med['runs']), 'run')}")
        print(f"  inside the runs (union) {med['runs_union']:.3f} s "
              f"(sum over boxes {med['runs_sum']:.3f} s; the programs' own wall {med['program_wall_sum']:.3f} s,"
              f" cpu {med['program_cpu_sum']:.3f} s)")
        print(f"  judge overhead          {med['overhead']:.3f} s = {share:.1f}% of the testing phase"
              f" [{'PASS' if share < 10 else 'FAIL'} < 10%]")
        print(f"  of the whole grading: {med['judge_share']:.1f}% outside the runs and the compile,"
              f" {med['outside_share']:.1f}% outside the runs (the compile included)")
        print(f"  per test: {1000 * med['tests_phase'] / med['runs']:.2f} ms wall, "
              f"{1000 * med['runs_sum'] / med['runs']:.2f} ms in Box.run, "
              f"{1000 * med['program_wall_sum'] / med['runs']:.2f} ms the program itself")


if __name__ == "__main__":
    main()
