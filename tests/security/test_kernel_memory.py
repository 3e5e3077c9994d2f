"""Memory the kernel holds for a box is the box's (issue 9, class 2).

Socket buffers nobody reads, pipe buffers and the like are kernel memory a
program can pin without touching a page of its own. On cgroup v1, TCP and
UDP buffers were charged to nobody: a `--mem 32M --processes 4` box pinned
over 100 MiB of loopback TCP per process and got OK with a 1 MB
memory_peak. Whatever the kind, the box may hold at most --mem of it, and
what it holds shows in memory_peak (or the run is ML).
"""
from __future__ import annotations

import subprocess

import orjson
import pytest

from .conftest import RUSTBOX, cleanup, init_box

MiB = 1 << 20
MEM = 32 * MiB
BATCH_BOX = 720
# SO_MEMINFO counts a buffer in flight on both ends of a loopback socket (the
# sender's queue until acked, the receiver's once received): under load up to a
# few MiB are counted twice (35.5 MiB "pinned" was seen under a 32 MiB limit).
# Unbounded, a box pinned over 100 MiB per process.
SLACK = 4 * MiB
KINDS = ("tcp", "udp", "unix", "pipe")


def check(verdict: dict, output: str, kind: str) -> None:
    pinned = sum(int(line.split()[1]) for line in output.splitlines()
                 if line.startswith("pinned "))
    assert verdict["status"] in ("OK", "ML"), (kind, verdict, output)
    assert pinned <= MEM + SLACK, (kind, pinned, verdict)
    if verdict["status"] == "OK":
        assert verdict["memory_peak"] >= pinned, (kind, pinned, verdict)


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_buffers_are_held_to_the_memory_limit(run_box, kind):
    run = run_box("--mem", "32M", "--processes", 4, "--open-files", 256, "--wall-time", 20,
                  "./pin_kernel", kind, 96, 4)
    check(run.verdict, run.output, kind)


def test_kernel_buffers_are_held_to_the_memory_limit_in_batch(build_dir):
    spec = b"".join(orjson.dumps({"id": kind, "argv": ["./pin_kernel", kind, "96", "4"],
                                  "mem": "32M", "processes": 4, "open_files": 256,
                                  "wall_time": 20, "stdout": f"{kind}.out"}) + b"\n"
                    for kind in KINDS)
    box_dir = init_box(BATCH_BOX)   # batch removes boxes it made: keep the outputs
    try:
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX)], input=spec,
                              cwd=build_dir, capture_output=True, timeout=300)
        verdicts = {v["id"]: v for v in map(orjson.loads, proc.stdout.splitlines())}
        assert sorted(verdicts) == sorted(KINDS), proc.stderr
        for kind in KINDS:
            output = (box_dir / f"{kind}.out").read_text()
            check(verdicts[kind], output, kind)
    finally:
        cleanup(BATCH_BOX)
