"""One-line round trips between two programs: connected runs against a plain pipe.

What is measured: `ping N` writes a number, one line, and waits for `pong`
to send it back plus one, N times (100 000 by default); both are small C
programs (stdio, a flush per line), compiled here. The same two programs,
joined the same way (each one's stdout into the other's stdin), run

    pipe         outside any sandbox: two os.pipe()s and subprocess.Popen
    connected    rustbox connected runs in boxes 967 and 968 (BoxPool.run_connected),
                 the kernel pipes passed straight to the programs
    transcript   the same with a transcript (a relay thread in this process
                 copies and records every line; capped at 1 MiB)

The figure is the wall-clock time from launch to both programs reaped, as
this process sees it (for the boxes: run_connected's whole call, box set-up
included), the best of --repeat runs, methods interleaved so machine noise
hits all alike. Printed: each method's time and its ratio to the pipe.
Goal (issue 13): connected runs without transcript at most 1.5x the pipe.
Needs root. Other work on the host skews every figure: the load report
says how much of the machine others used meanwhile.

    python3 benchmarks/interactive.py [--trips 100000] [--repeat 3] [--json FILE]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_common import MachineLoad, positive, write_report  # noqa: E402

BOXES = [967, 968]
PING = r'''#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]), x = 0, y;
    for (long i = 0; i < n; i++) {
        printf("%ld\n", x);
        fflush(stdout);
        if (scanf("%ld", &y) != 1 || y != x + 1)
            return 1;
        x = y;
    }
    return 0;
}
'''
PONG = r'''#include <stdio.h>
int main(void) {
    long x;
    while (scanf("%ld", &x) == 1) {
        printf("%ld\n", x + 1);
        fflush(stdout);
    }
    return 0;
}
'''


def build(directory: Path) -> None:
    for name, source in (("ping", PING), ("pong", PONG)):
        (directory / f"{name}.c").write_text(source)
        subprocess.run(["gcc", "-O2", "-o", str(directory / name), str(directory / f"{name}.c")],
                       check=True)
    os.chmod(directory, 0o755)


def plain_pipe(directory: Path, trips: int) -> float:
    to_pong_r, to_pong_w = os.pipe()
    to_ping_r, to_ping_w = os.pipe()
    start = time.perf_counter()
    ping = subprocess.Popen([str(directory / "ping"), str(trips)], stdin=to_ping_r, stdout=to_pong_w)
    pong = subprocess.Popen([str(directory / "pong")], stdin=to_pong_r, stdout=to_ping_w)
    for fd in (to_pong_r, to_pong_w, to_ping_r, to_ping_w):
        os.close(fd)
    codes = (ping.wait(), pong.wait())
    took = time.perf_counter() - start
    if codes != (0, 0):
        raise RuntimeError(f"plain pipe: exit codes {codes}")
    return took


def connected(pool, directory: Path, trips: int, transcript: int | None) -> float:
    group = {"group": [
        {"id": "ping", "argv": ["/bench/ping", str(trips)], "time": 60, "dir": [f"{directory}:/bench"]},
        {"id": "pong", "argv": ["/bench/pong"], "time": 60, "dir": [f"{directory}:/bench"]}],
        "pipes": [["ping", "pong"], ["pong", "ping"]], "wall_time": 120}
    if transcript:
        group["transcript"] = transcript
    start = time.perf_counter()
    result = pool.run_connected(group)
    took = time.perf_counter() - start
    statuses = [v.status for v in result.verdicts]
    if statuses != ["OK", "OK"]:
        raise RuntimeError(f"connected: {statuses} {[v.message for v in result.verdicts]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=positive, default=100_000)
    parser.add_argument("--repeat", type=positive, default=3)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("interactive.py: needs root (rustbox boxes)", file=sys.stderr)
        return 2
    from rustbox import Box, BoxPool
    directory = Path(tempfile.mkdtemp(prefix="rustbox-bench-"))
    load = MachineLoad()
    times: dict[str, list[float]] = {"pipe": [], "connected": [], "transcript": []}
    try:
        build(directory)
        with BoxPool(BOXES) as pool:
            connected(pool, directory, 100, None)           # warm up: helpers, filters
            for _ in range(args.repeat):
                times["pipe"].append(plain_pipe(directory, args.trips))
                times["connected"].append(connected(pool, directory, args.trips, None))
                times["transcript"].append(connected(pool, directory, args.trips, 1 << 20))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        for box_id in BOXES:
            Box(box_id).cleanup()
    best = {method: min(values) for method, values in times.items()}
    print(f"{args.trips} one-line round trips, best of {args.repeat} (s, whole run)")
    for method in ("pipe", "connected", "transcript"):
        ratio = best[method] / best["pipe"]
        print(f"  {method:<11} {best[method]:7.3f}   {ratio:5.2f}x the plain pipe")
    verdict = "PASS" if best["connected"] <= 1.5 * best["pipe"] else "FAIL"
    print(f"goal: connected at most 1.5x the plain pipe: {verdict}")
    report = load.report()
    print(MachineLoad.note(report))
    if args.json:
        return write_report(args.json, {"trips": args.trips, "times": times, "best": best,
                                        "load": report},
                            lambda line: print(line, file=sys.stderr), "interactive.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
