"""Queue throughput: N submissions through each backend with 1 and 2 workers.

For every backend (sqlite: a fresh file; redis: a private redis-server on
loopback with AOF fsync on every write, see tests/localredis.py) and
every worker count, a fresh queue gets N submissions enqueued up front;
then `judge worker` processes start (disjoint boxes from 830 up, one box
per core in total unless --boxes-per-worker says otherwise) and the clock
runs from their launch (start-up included) until the last result is
stored. It prints submissions/s and tests/s (test runs per second, summed
over the results).

By default every submission is the same accepted file of one small problem.
--queue-only swaps the grader for one that returns at once (`noop_grade`
below, through `judge worker --grader`): what is left is the queue's and
the worker's own cost per submission.
--mix cycles through every file under submissions/ of every package in
testdata/problems instead (mixed verdicts and languages), and --check
verifies, per run, that every submission has exactly one result, that no
worker graded one twice, and that each result equals what `judge run --json`
prints for its file (measured times and memory aside): issue 6's acceptance.

The machine is shared: the CPU that other processes used while a run went
on is printed next to it ("other load", in cores), and so is the CPU the
hypervisor gave to other guests ("stolen").

    .venv/bin/python benchmarks/throughput.py [-n 40] [--problem aplusb]
        [--submission accepted/sum.c] [--mix] [--check] [--queue-only] [--backends sqlite,redis]
        [--workers 1,2] [--boxes-per-worker K] [--json FILE]
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from judge.queue import DONE, Submission, new_id, open_queue  # noqa: E402
from tests.localredis import LocalRedis  # noqa: E402
from rustbox.text import plural  # noqa: E402

PROBLEMS = REPO / "testdata" / "problems"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "throughput.json"
FIRST_BOX, CHECK_BOXES = 830, "838-839"
MEASURED = {"cpu_time", "wall_time", "memory_peak"}
ADDED_BY_WORKER = {"submission", "state", "worker", "attempt", "finished_at", "timings"}
_STOPPED = re.compile(r"stopped: (\d+) done, (\d+) failed, (\d+) graded but stored first")


# A message may quote what was measured ("(CPU time 1.003 s)"): masked.
_MEASURED_FIGURE = re.compile(r"\d+\.\d{3} s\b")


def comparable(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in ADDED_BY_WORKER}
    out["tests"] = [{k: (_MEASURED_FIGURE.sub("<measured> s", v) if k == "message" else v)
                     for k, v in t.items() if k not in MEASURED} for t in result["tests"]]
    return out


def noop_grade(problem_dir, source_path, language=None, time_limit=None, pool=None,
               submission_id=None, progress=None) -> dict:
    """A grader that grades nothing (--queue-only)."""
    return {"submission": submission_id, "problem": Path(problem_dir).name,
            "language": language, "verdict": "AC", "score": None, "max_score": None,
            "time_limit": time_limit or 1.0, "compile": {"status": "OK", "message": ""},
            "tests": []}


def first_difference(got, want, path: str = "") -> str | None:
    """Where two results differ first, as 'path: got != want' (None if equal)."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            found = first_difference(got.get(key), want.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want)):
            found = first_difference(g, w, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if got == want else f"{path}: {str(got)[:80]!r} != {str(want)[:80]!r}"


def verdicts_of(result: dict) -> tuple:
    return result["verdict"], result.get("score"), tuple(
        (t["name"], t["verdict"]) for t in result["tests"])


def cases(args) -> list[tuple[str, Path]]:
    """(problem name, source file) of each submission, N of them."""
    if args.mix:
        files = sorted((pkg.name, f) for pkg in PROBLEMS.iterdir()
                       for f in (pkg / "submissions").glob("*/*") if f.is_file())
    else:
        files = [(args.problem, PROBLEMS / args.problem / "submissions" / args.submission)]
    return list(itertools.islice(itertools.cycle(files), args.n))


def judge_run(problem: str, source: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "judge", "run", str(PROBLEMS / problem),
                          str(source), "--json", "--boxes", CHECK_BOXES],
                         cwd=REPO, capture_output=True, check=True)
    return orjson.loads(out.stdout)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, stolen) of the whole machine: user+nice+system+irq+softirq, and
    the time the hypervisor gave to other guests (guest time is in user)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return f[0] + f[1] + f[2] + f[5] + f[6], f[7]


def own_cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one_run(url: str, workers: int, boxes_per_worker: int, work, expected, tmp: Path,
            grader: list[str]) -> dict:
    queue = open_queue(url)
    subs = []
    for problem, source in work:
        sub = Submission(new_id(), problem, source.read_text(), source.name)
        queue.enqueue(sub)
        subs.append((sub, problem, source))
    ticks = os.sysconf("SC_CLK_TCK")
    (busy0, steal0), own0 = cpu_jiffies(), own_cpu()
    started = time.monotonic()
    procs = []
    for i in range(workers):
        first = FIRST_BOX + i * boxes_per_worker
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "judge", "worker", "--queue", url, "--problems",
             str(PROBLEMS), "--boxes", f"{first}-{first + boxes_per_worker - 1}",
             "--worker-id", f"bench-{i}", *grader],
            cwd=REPO, stderr=open(tmp / f"worker-{i}.err", "wb")))
    records = [queue.wait_result(sub.id, timeout=3600, poll=0.05) for sub, _, _ in subs]
    wall = time.monotonic() - started
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(120) for proc in procs]
    # Over the same span as our own CPU: until the workers were reaped.
    span = time.monotonic() - started
    busy1, steal1 = cpu_jiffies()
    other = ((busy1 - busy0) / ticks - (own_cpu() - own0)) / span
    stolen = (steal1 - steal0) / ticks / span
    logs = "".join((tmp / f"worker-{i}.err").read_text() for i in range(workers))
    counts = [tuple(int(x) for x in m) for m in _STOPPED.findall(logs)]
    tests = sum(len(r["tests"]) for r in records if r and r.get("tests"))
    verdicts: dict[str, int] = {}
    for r in records:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    report = {"workers": workers, "boxes_per_worker": boxes_per_worker,
              "submissions": len(subs), "tests": tests, "wall": wall,
              "submissions_per_s": len(subs) / wall, "tests_per_s": tests / wall,
              "grading_median": statistics.median(r["timings"]["grading"] for r in records),
              "other_load_cores": max(other, 0.0), "stolen_cores": stolen,
              "verdicts": verdicts,
              "worker_exit_codes": codes}
    if expected is not None:
        stored = {e.id for e in queue.list(limit=len(subs) + 10) if e.state == DONE}
        mismatches = [{"id": sub.id, "file": f"{problem}/{source.name}",
                       "same_verdicts": verdicts_of(r) == verdicts_of(expected[(problem, source)]),
                       "difference": first_difference(comparable(r), expected[(problem, source)])}
                      for (sub, problem, source), r in zip(subs, records)
                      if comparable(r) != expected[(problem, source)]]
        report["check"] = {
            "one_result_each": stored == {sub.id for sub, _, _ in subs}
                               and len(counts) == workers
                               and sum(c[0] for c in counts) == len(subs),
            "graded_twice": sum(c[2] for c in counts),
            "mismatches": mismatches}
    queue.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=40, help="submissions per run")
    parser.add_argument("--problem", default="aplusb")
    parser.add_argument("--submission", default="accepted/sum.c")
    parser.add_argument("--mix", action="store_true", help="every submission file, cycled")
    parser.add_argument("--check", action="store_true",
                        help="compare each result to `judge run --json`")
    parser.add_argument("--queue-only", action="store_true",
                        help="a grader that returns at once: the queue's own cost")
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--boxes-per-worker", type=int, default=None,
                        help="default: one box per core over all workers")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()

    work = cases(args)
    grader = ["--grader", "benchmarks.throughput:noop_grade"] if args.queue_only else []
    expected = None
    if args.check:
        distinct = sorted(set(work))
        print(f"judge run --json on {len(distinct)} distinct files ...", flush=True)
        expected = {case: comparable(judge_run(*case)) for case in distinct}
    cores = os.cpu_count() or 1
    reports = []
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in args.backends.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                per_worker = args.boxes_per_worker or max(1, cores // workers)
                run_dir = tmp / f"{backend}-{workers}"
                run_dir.mkdir()
                if backend == "redis":
                    with LocalRedis(run_dir / "redis") as server:
                        report = one_run(server.url, workers, per_worker, work, expected,
                                         run_dir, grader)
                else:
                    report = one_run(f"sqlite://{run_dir}/queue.db", workers, per_worker,
                                     work, expected, run_dir, grader)
                report["backend"] = backend
                reports.append(report)
                print_row(report)
    cleanup_boxes(reports, checked=args.check)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps({"argv": sys.argv[1:], "cores": cores,
                                        "queue_only": args.queue_only,
                                        "runs": reports}, option=orjson.OPT_INDENT_2))
    print(f"(raw figures in {args.json})")
    if any(r.get("check") and (r["check"]["mismatches"] or not r["check"]["one_result_each"])
           for r in reports):
        sys.exit(1)


def cleanup_boxes(reports: list[dict], checked: bool) -> None:
    """Remove the boxes the workers (and judge run) used: no cgroups left behind."""
    from rustbox.batch import parse_box_ids
    from rustbox.session import cleanup_box

    used = max(r["workers"] * r["boxes_per_worker"] for r in reports)
    boxes = list(range(FIRST_BOX, FIRST_BOX + used))
    for box in boxes + (parse_box_ids(CHECK_BOXES) if checked else []):
        cleanup_box(box)


def print_row(r: dict) -> None:
    line = (f"{r['backend']:<7} workers {r['workers']} x {plural(r['boxes_per_worker'], 'box', 'boxes')}: "
            f"{plural(r['submissions'], 'submission')}, {plural(r['tests'], 'test')} in {r['wall']:.1f} s = "
            f"{r['submissions_per_s']:.2f} submissions/s, {r['tests_per_s']:.0f} tests/s "
            f"(median grading {r['grading_median']:.2f} s; other load "
            f"{r['other_load_cores']:.2f} cores, stolen {r['stolen_cores']:.2f})")
    if "check" in r:
        c = r["check"]
        verdicts = sum(1 for m in c["mismatches"] if not m["same_verdicts"])
        line += (f"\n        check: one result each {'yes' if c['one_result_each'] else 'NO'}, "
                 f"graded twice {c['graded_twice']}, different from judge run: "
                 f"{len(c['mismatches'])} (in a verdict: {verdicts})")
        for m in c["mismatches"][:5]:
            line += f"\n          {m['file']} {m['difference']}"
    print(line, flush=True)


if __name__ == "__main__":
    main()
