"""Per-run overhead of rustbox next to its peers, on /bin/true, and batch throughput.

What is measured: the wall-clock time of one run of /bin/true as this
(parent) process sees it, time.perf_counter() from launch to reap, through

    floor    os.posix_spawn + waitpid from this process. glibc's posix_spawn
             clones with CLONE_VM|CLONE_VFORK (no page tables copied), so
             the size of this interpreter does not inflate the floor.
    unshare  util-linux `unshare --net --pid --fork --mount --ipc --uts /bin/true`
    bwrap    `bwrap --unshare-all --ro-bind / / /bin/true` (bubblewrap)
    python   the venv's own `python -c pass`: the yardstick of the CLI
    cli      `rustbox run --box-id 993 /bin/true`, one process per run
    api      `box.run(["/bin/true"])` on a rustbox.Box(992) kept open; the
             box sits idle while the other methods run. api-2nd: a second
             call right after it, timed too (back to back, as a judge's
             tests run); api is the figure judged against the target

Every external command is launched the same way (os.posix_spawn, stdio on
/dev/null), so they all pay the same launch cost as the floor. The methods
are interleaved: iteration i runs each method once, in an order rotated by
one every iteration, so machine noise hits all of them alike. Warm-up
iterations are run first and not counted.

Then batch throughput: a JSONL file of 1000 specs of /bin/true goes through
`rustbox batch` (a subprocess; or run_batch in this process with
--batch-via api) over one box (992) and over two (992-993), alternately,
repeated; runs/s = specs / wall time of the whole command, its start-up
included; 5 times each by default. The batch's own summary rate (start-up
excluded) is kept too.

The table gives median, p90, mean and min per method, the ratios to the
targets of issue 4, and everything (raw samples included) goes to --json.

    .venv/bin/python benchmarks/overhead.py [--runs 200] [--json FILE]
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (MachineLoad, Skip, cleanup_boxes, git, positive,  # noqa: E402
                          rustbox_cli, write_report)  # noqa: E402
from rustbox.text import plural  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "benchmarks" / "results" / "overhead.json"
API_BOX, CLI_BOX = 992, 993
TRUE = "/bin/true"


# -- the methods ---------------------------------------------------------------


class Method:
    """One way to run /bin/true; time() returns the wall seconds of one run."""

    name = ""
    label = ""

    def prepare(self) -> None:
        """Check the method works here (raise Skip with the reason if not)."""

    def time(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Spawn(Method):
    """An external command, launched with os.posix_spawn and reaped with waitpid."""

    def __init__(self, name: str, label: str, argv: list[str], tool: str | None = None):
        self.name, self.label, self.argv, self.tool = name, label, argv, tool
        self.failures = 0
        self._devnull = None

    def prepare(self) -> None:
        tool = self.tool or self.argv[0]
        if not Path(self.argv[0]).is_absolute():
            found = shutil.which(self.argv[0])
            if found is None:
                raise Skip(f"missing tool: {tool} (not on PATH)")
            self.argv = [found, *self.argv[1:]]
        elif not os.access(self.argv[0], os.X_OK):
            raise Skip(f"missing tool: {tool} ({self.argv[0]} not found)")
        # One run with its output captured, so a failure can say why.
        probe = subprocess.run(self.argv, capture_output=True, text=True)
        if probe.returncode != 0:
            detail = (probe.stderr.strip() or probe.stdout.strip()).splitlines()
            raise Skip(f"{tool} failed (exit {probe.returncode})"
                       + (f": {detail[-1]}" if detail else ""))
        self._devnull = os.open(os.devnull, os.O_RDWR)

    def time(self) -> float:
        actions = [(os.POSIX_SPAWN_DUP2, self._devnull, fd) for fd in (0, 1, 2)]
        start = time.perf_counter()
        pid = os.posix_spawn(self.argv[0], self.argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            self.failures += 1
        return elapsed

    def close(self) -> None:
        if self._devnull is not None:
            os.close(self._devnull)
            self._devnull = None


class ApiRun(Method):
    """rustbox.Box(N) kept open; box.run timed per call.

    Each sample is the first call after the other methods ran (the box sat
    idle meanwhile), as the interleaving makes it; a second call right
    after it is timed too ("api-2nd"), as a judge running tests back to
    back sees it. Both are kept per iteration, warm-up included; the
    caller drops the warm-up.
    """

    name = "api"
    label_2nd = "the same, 2nd call right after the 1st"

    def __init__(self, box_id: int):
        self.box_id = box_id
        self.label = f'Box({box_id}).run(["{TRUE}"])'
        self.box = None
        self.failures = 0
        self.second: list[float] = []
        self.reported_wall: list[float] = []
        self.reported_cpu: list[float] = []
        self.last_failure = ""

    def prepare(self) -> None:
        try:
            import rustbox
        except ImportError as exc:
            raise Skip(f"cannot import rustbox: {exc}") from None
        try:
            self.box = rustbox.Box(self.box_id).init()
        except rustbox.RustboxError as exc:
            raise Skip(f"rustbox.Box({self.box_id}) failed: {exc}") from None
        verdict = self.box.run([TRUE])
        if verdict.status != "OK":
            raise Skip(f"rustbox API run gave {verdict.status}: {verdict.message}")

    def _call(self):
        start = time.perf_counter()
        verdict = self.box.run([TRUE])
        elapsed = time.perf_counter() - start
        if verdict.status != "OK":
            self.failures += 1
            self.last_failure = f"{verdict.status}: {verdict.message}"
        return elapsed, verdict

    def time(self) -> float:
        first, verdict = self._call()
        self.reported_wall.append(verdict.wall_time)
        self.reported_cpu.append(verdict.cpu_time)
        second, _ = self._call()
        self.second.append(second)
        return first

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None


def build_methods() -> list[Method]:
    cli = rustbox_cli() or "rustbox"
    return [
        Spawn("floor", "os.posix_spawn+waitpid /bin/true", [TRUE]),
        Spawn("unshare", "unshare --net --pid --fork --mount --ipc --uts",
              ["unshare", "--net", "--pid", "--fork", "--mount", "--ipc", "--uts", TRUE]),
        Spawn("bwrap", "bwrap --unshare-all --ro-bind / /",
              ["bwrap", "--unshare-all", "--ro-bind", "/", "/", TRUE]),
        Spawn("python", "venv python -c pass", [sys.executable, "-c", "pass"]),
        Spawn("cli", f"rustbox run --box-id {CLI_BOX} /bin/true",
              [cli, "run", "--box-id", str(CLI_BOX), TRUE], tool="rustbox"),
        ApiRun(API_BOX),
    ]


# -- statistics ----------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise(samples: list[float]) -> dict:
    return {"n": len(samples), "median": statistics.median(samples),
            "p90": percentile(samples, 0.9), "mean": statistics.fmean(samples),
            "min": min(samples), "max": max(samples)}


# -- the interleaved per-run measurement ---------------------------------------


def measure_runs(methods: list[Method], runs: int, warmup: int, log) -> dict:
    results: dict[str, dict] = {}
    ready: list[Method] = []
    for method in methods:
        try:
            method.prepare()
            ready.append(method)
            results[method.name] = {"label": method.label, "status": "ok", "samples": []}
        except Skip as exc:
            method.close()
            results[method.name] = {"label": method.label, "status": "skipped",
                                    "reason": str(exc)}
            log(f"overhead: skipping {method.name}: {exc}")
        except OSError as exc:
            method.close()
            results[method.name] = {"label": method.label, "status": "skipped",
                                    "reason": f"{type(exc).__name__}: {exc}"}
            log(f"overhead: skipping {method.name}: {exc}")
    if not ready:
        return results
    log(f"overhead: {warmup} warm-up + {runs} timed iterations of {len(ready)} methods...")
    for i in range(warmup + runs):
        shift = i % len(ready)
        for method in ready[shift:] + ready[:shift]:
            elapsed = method.time()
            if i >= warmup:
                results[method.name]["samples"].append(elapsed)
    for method in ready:
        entry = results[method.name]
        entry.update(summarise(entry["samples"]))
        entry["failed_runs"] = getattr(method, "failures", 0)
        if entry["failed_runs"]:
            entry["status"] = "failed"
            entry["reason"] = f"{plural(entry['failed_runs'], 'run')} did not exit 0"
            if getattr(method, "last_failure", ""):
                entry["reason"] += f" (last: {method.last_failure})"
        if isinstance(method, ApiRun):
            # Share of the parent-side time the program itself took, as the
            # verdict reports it; the rest is request, set-up and teardown.
            entry["reported_wall_median"] = statistics.median(method.reported_wall[warmup:])
            entry["reported_cpu_median"] = statistics.median(method.reported_cpu[warmup:])
            second = method.second[warmup:]
            results["api-2nd"] = {"label": method.label_2nd, "status": entry["status"],
                                  "samples": second, **summarise(second)}
    return results


# -- batch throughput ----------------------------------------------------------


def batch_once(box_ids: list[int], spec_path: Path, specs: int, via: str, cli: str | None) -> dict:
    """One batch of `specs` /bin/true runs over box_ids; runs/s and OK count."""
    machine = MachineLoad()
    if via == "api":
        from rustbox.batch import run_batch
        out, err = io.BytesIO(), io.StringIO()
        with open(spec_path, "rb") as source:
            start = time.perf_counter()
            run_batch(source, box_ids, len(box_ids), "auto", out, err)
            elapsed = time.perf_counter() - start
        stdout, stderr = out.getvalue().decode(), err.getvalue()
    else:
        if cli is None:
            raise Skip("missing tool: rustbox (not on PATH)")
        boxes = ",".join(map(str, box_ids))
        start = time.perf_counter()
        proc = subprocess.run([cli, "batch", str(spec_path), "--boxes", boxes],
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        stdout, stderr = proc.stdout, proc.stderr
    ok = 0
    for line in stdout.splitlines():
        try:
            ok += json.loads(line).get("status") == "OK"
        except (ValueError, AttributeError):
            pass
    if ok != specs:
        tail = stderr.strip().splitlines()
        raise Skip(f"batch over {len(box_ids)} box(es): {ok}/{specs} OK"
                   + (f" ({tail[-1]})" if tail else ""))
    reported = None
    match = re.search(r"in ([0-9.]+) s, ([0-9.]+)/s", stderr)
    if match:
        reported = float(match.group(2))
    return {"seconds": elapsed, "rate": specs / elapsed, "reported_rate": reported,
            "other_cores": machine.report()["other_cores"]}


def measure_batch(specs: int, repeats: int, via: str, workdir: Path, log) -> dict:
    cli = rustbox_cli()
    spec_path = workdir / "true.jsonl"
    with open(spec_path, "w") as f:
        for i in range(specs):
            f.write(json.dumps({"id": f"t{i}", "argv": [TRUE]}) + "\n")
    layouts = {"1box": [API_BOX], "2box": [API_BOX, CLI_BOX]}
    result: dict = {"specs": specs, "repeats": repeats, "via": via,
                    "command": ("rustbox batch SPEC --boxes {ids}" if via == "cli"
                                else "rustbox.batch.run_batch(...) in-process")}
    runs: dict[str, list[dict]] = {name: [] for name in layouts}
    log(f"overhead: batch of {specs} x /bin/true, 1 box and 2 boxes, {repeats} times each...")
    try:
        for _ in range(repeats):
            for name, ids in layouts.items():
                runs[name].append(batch_once(ids, spec_path, specs, via, cli))
    except Skip as exc:
        result.update(status="skipped", reason=str(exc))
        log(f"overhead: skipping batch: {exc}")
        return result
    result["status"] = "ok"
    for name, items in runs.items():
        rates = [item["rate"] for item in items]
        reported = [item["reported_rate"] for item in items if item["reported_rate"]]
        others = [item["other_cores"] for item in items if item["other_cores"] is not None]
        result[name] = {"boxes": layouts[name], "rates": rates,
                        "rate_median": statistics.median(rates), "rate_best": max(rates),
                        "other_cores": [item["other_cores"] for item in items],
                        "other_cores_max": max(others) if others else None,
                        "reported_rate_median": statistics.median(reported) if reported else None,
                        "per_run_ms": 1000.0 / statistics.median(rates)}
    result["ratio_2box_1box"] = result["2box"]["rate_median"] / result["1box"]["rate_median"]
    return result


# -- report --------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def verdict_word(value: float | None, limit: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value >= limit if higher_is_better else value <= limit
    return "PASS" if ok else "FAIL"


def ratios(results: dict, batch: dict) -> dict:
    def median(name):
        entry = results.get(name, {})
        return entry.get("median") if entry.get("status") == "ok" else None

    def ratio(a, b):
        x, y = median(a), median(b)
        return None if x is None or y is None else x / y

    out = {"api_bwrap": ratio("api", "bwrap"), "api_2nd_bwrap": ratio("api-2nd", "bwrap"),
           "cli_python": ratio("cli", "python"),
           "batch_2box_1box": batch.get("ratio_2box_1box")}
    floor = median("floor")
    if floor is not None and median("api") is not None and median("bwrap") is not None:
        out["api_bwrap_above_floor"] = (median("api") - floor) / (median("bwrap") - floor)
    else:
        out["api_bwrap_above_floor"] = None
    return out


def render(results: dict, batch: dict, rat: dict, runs: int, warmup: int,
           notes: list[str]) -> str:
    lines = [f"rustbox overhead: /bin/true, {plural(runs, 'run')} per method, interleaved round-robin "
             f"({warmup} warm-up), wall clock per run from the parent, ms",
             *notes,
             "",
             f"{'method':<8} {'how':<48} {'median':>8} {'p90':>8} {'mean':>8} {'min':>8}"]
    for name, entry in results.items():
        if entry["status"] == "skipped":
            lines.append(f"{name:<8} {entry['label']:<48} {'SKIPPED: ' + entry['reason']}")
            continue
        row = (f"{name:<8} {entry['label']:<48} {ms(entry['median'])} {ms(entry['p90'])} "
               f"{ms(entry['mean'])} {ms(entry['min'])}")
        if entry["status"] == "failed":
            row += f"   FAILED: {entry['reason']}"
        lines.append(row)
    api = results.get("api", {})
    if api.get("status") == "ok":
        lines.append(f"{'':<8} (api: program wall as reported by the verdict, median "
                     f"{api['reported_wall_median'] * 1000:.2f} ms; cpu "
                     f"{api['reported_cpu_median'] * 1000:.2f} ms)")
    lines.append("")
    if batch.get("status") == "ok":
        lines.append(f"batch: {batch['specs']} x /bin/true via {batch['via']}, "
                     f"median of {batch['repeats']} (runs/s, whole command timed)")
        lines.append(f"  {'':<18} {'median':>8}          {'ms/run':>6}  {'best':>7}  "
                     f"{'own rate':>8}  others' load (max)")
        for name, label in (("1box", "1 box  (992)"), ("2box", "2 boxes (992-993)")):
            b = batch[name]
            own = (f"{b['reported_rate_median']:6.1f}/s" if b["reported_rate_median"]
                   else "     n/a")
            load = ("n/a" if b["other_cores_max"] is None
                    else f"{b['other_cores_max']:.2f} cores")
            lines.append(f"  {label:<18} {b['rate_median']:8.1f} runs/s  "
                         f"{b['per_run_ms']:6.2f}  {b['rate_best']:7.1f}  {own}  {load}")
    else:
        lines.append(f"batch: SKIPPED: {batch.get('reason', 'not run')}")
    lines.append("")

    def fmt(value):
        return "n/a" if value is None else f"{value:.2f}"

    api_bwrap = rat["api_bwrap"]
    stretch = "n/a" if api_bwrap is None else ("met" if api_bwrap <= 0.5 else "not met")
    lines += [
        "ratios (medians)                      value   target",
        f"  api / bwrap                         {fmt(api_bwrap):>5}   <= 1.0   "
        f"{verdict_word(api_bwrap, 1.0)}  (stretch <= 0.5: {stretch})",
        f"  (api-floor) / (bwrap-floor)         {fmt(rat['api_bwrap_above_floor']):>5}   "
        "(information)",
        f"  api-2nd / bwrap                     {fmt(rat['api_2nd_bwrap']):>5}   "
        "(information: back-to-back call)",
        f"  cli / python -c pass                {fmt(rat['cli_python']):>5}   <= 2.0   "
        f"{verdict_word(rat['cli_python'], 2.0)}",
        f"  batch 2 boxes / 1 box               {fmt(rat['batch_2box_1box']):>5}   >= 1.6   "
        f"{verdict_word(rat['batch_2box_1box'], 1.6, higher_is_better=True)}",
    ]
    return "\n".join(lines)


def host_info() -> dict:
    dirty = git("status", "--porcelain", "rustbox")
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "executable": sys.executable,
            "commit": git("rev-parse", "--short", "HEAD"),
            "rustbox_tree_dirty": None if dirty is None else bool(dirty),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="benchmarks/overhead.py",
        description="Per-run overhead of /bin/true through a bare spawn, unshare, bwrap, "
                    "python -c pass, the rustbox CLI and the rustbox API (interleaved), "
                    "and rustbox batch throughput over 1 and 2 boxes. Uses boxes 992-993.")
    parser.add_argument("--runs", type=positive, default=200,
                        help="timed runs per method (default 200)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="untimed warm-up iterations first (default 10)")
    parser.add_argument("--batch-specs", type=positive, default=1000,
                        help="spec lines per batch (default 1000)")
    parser.add_argument("--batch-repeats", type=positive, default=5,
                        help="batches per layout, median kept (default 5)")
    parser.add_argument("--batch-via", choices=("cli", "api"), default="cli",
                        help="`rustbox batch` subprocess (default) or run_batch in-process")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch measurement")
    parser.add_argument("--keep-env", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE if set (default: drop it, so the "
                             "Python commands use cached bytecode as an installed package does)")
    parser.add_argument("--json", default=str(DEFAULT_JSON),
                        help=f"write results here (default {DEFAULT_JSON.relative_to(REPO)})")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.warmup < 0:
        print("overhead: error: --warmup must not be negative", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # With PYTHONDONTWRITEBYTECODE set, every `rustbox run` recompiles the
    # rustbox sources (~25 ms here): measure what an installed package costs.
    bytecode_env = os.environ.get("PYTHONDONTWRITEBYTECODE")
    if bytecode_env is not None and not args.keep_env:
        del os.environ["PYTHONDONTWRITEBYTECODE"]
    methods = build_methods()
    machine = MachineLoad()
    batch: dict = {"status": "skipped", "reason": "--no-batch"}
    try:
        try:
            results = measure_runs(methods, args.runs, args.warmup, log)
        finally:
            for method in methods:
                method.close()  # frees box 992 for the batch
        if not args.no_batch:
            with tempfile.TemporaryDirectory(prefix="rustbox-bench-") as workdir:
                batch = measure_batch(args.batch_specs, args.batch_repeats, args.batch_via,
                                      Path(workdir), log)
    except KeyboardInterrupt:
        log("overhead: interrupted")
        cleanup_boxes((API_BOX, CLI_BOX), log, "overhead")
        return 130
    finally:
        for method in methods:
            method.close()
    cleanup_boxes((API_BOX, CLI_BOX), log, "overhead")
    load = machine.report()

    rat = ratios(results, batch)
    notes = []
    if bytecode_env is not None:
        notes.append("(PYTHONDONTWRITEBYTECODE was set: "
                     + ("kept, so rustbox run recompiles its sources on every run)"
                        if args.keep_env else "dropped for the commands run, "
                        "so they use cached bytecode; --keep-env keeps it)"))
    host = host_info()
    notes.insert(0, f"rustbox at commit {host['commit'] or '?'}"
                 + (" + uncommitted changes in rustbox/" if host["rustbox_tree_dirty"] else ""))
    print(render(results, batch, rat, args.runs, args.warmup, notes))
    print(MachineLoad.note(load), flush=True)
    report = {"benchmark": "overhead", "host": host, "machine_load": load,
              "settings": {"runs": args.runs, "warmup": args.warmup,
                           "PYTHONDONTWRITEBYTECODE": (os.environ.get("PYTHONDONTWRITEBYTECODE")
                                                       if args.keep_env else None),
                           "floor": "os.posix_spawn + waitpid from the benchmark process "
                                    "(glibc: clone CLONE_VM|CLONE_VFORK)",
                           "external_launch": "os.posix_spawn, stdio on /dev/null"},
              "methods": results, "batch": batch, "ratios": rat,
              "targets": {"api_bwrap": 1.0, "api_bwrap_stretch": 0.5, "cli_python": 2.0,
                          "batch_2box_1box": 1.6}}
    return write_report(args.json, report, log, "overhead")


if __name__ == "__main__":
    sys.exit(main())
