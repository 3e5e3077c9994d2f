"""The same guarantees through `rustbox batch`, whose box helper keeps one
long-lived process per box (which moves to new namespaces for every run).
"""
from __future__ import annotations

import subprocess

import orjson

from .conftest import RUSTBOX, box_uid_processes

BATCH_BOX = "706"


def batch(lines: list[dict], cwd) -> list[dict]:
    spec = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", BATCH_BOX], input=spec, cwd=cwd,
                          capture_output=True, timeout=300)
    verdicts = [orjson.loads(line) for line in proc.stdout.splitlines() if line.startswith(b"{")]
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", BATCH_BOX], capture_output=True, check=True)
    return verdicts


def test_every_kill_of_a_burst_is_named_from_the_helper(build_dir):
    # More kills than printk's 10 per 5 s: the names must come from the
    # audit netlink group, heard from the helper's private netns.
    verdicts = batch([{"id": f"k{i}", "argv": ["./attack", "ptrace_traceme"]} for i in range(15)],
                     build_dir)
    assert len(verdicts) == 15
    assert {(v["status"], v["signal"], v["message"]) for v in verdicts} == {
        ("SG", 31, "forbidden system call: ptrace")}


LATER = """
import os, time
time.sleep(1.5)                      # past the daemon's wake-up
if os.path.exists("/box/daemon_was_here"):
    raise SystemExit(42)
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
raise SystemExit(43 if others else 0)
"""


def test_a_daemon_does_not_survive_into_the_next_run_of_the_helper(build_dir):
    verdicts = batch([
        {"id": "daemon", "argv": ["./daemon", "1"], "processes": 5},
        {"id": "later", "argv": ["/usr/bin/python3", "-c", LATER]},
    ], build_dir)
    by_id = {v["id"]: v for v in verdicts}
    assert by_id["daemon"]["status"] == "OK", verdicts
    assert by_id["later"]["status"] == "OK", verdicts   # 42: it wrote; 43: it is still there
    assert not box_uid_processes()
