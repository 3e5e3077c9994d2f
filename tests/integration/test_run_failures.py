"""One failure boundary: the sandbox failing during a run is the same XX
verdict whichever way the run came in (the CLI, the Python API, batch).

Each failure is made for real: a cgroup write the kernel refuses (a
process of ours holds memory in the box's own memory cgroup, so a lower
limit cannot be set), a program that does not exist, a --dir whose host
path does not exist, a seccomp policy file that does not load. Box 760.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rustbox import Box, Limits
from rustbox.verdict import Verdict
from tests.conftest import RUSTBOX

BOX_ID = 760
# What must agree between the three ways in (id and timings aside).
SAME = ("box_id", "status", "message", "exit_code", "signal", "cgroup", "limits")


def _cli(argv: list[str], options: list[str]) -> tuple[dict, int]:
    proc = subprocess.run([*RUSTBOX, "run", "--box-id", str(BOX_ID), *options, "--", *argv],
                          capture_output=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)   # the verdict JSON, always
    return orjson.loads(lines[0]), proc.returncode


def _api(argv: list[str], api_options: dict) -> tuple[dict, int]:
    with Box(BOX_ID) as box:
        verdict = box.run(argv, **api_options)
    return verdict.to_dict(), verdict.exit_status


def _batch(argv: list[str], spec_options: dict, tmp_path: Path) -> tuple[dict, int]:
    spec = tmp_path / "spec.jsonl"
    spec.write_bytes(orjson.dumps({"id": "one", "argv": argv, **spec_options}) + b"\n")
    proc = subprocess.run([*RUSTBOX, "batch", str(spec), "--boxes", str(BOX_ID)],
                          capture_output=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    data = orjson.loads(lines[0])
    assert proc.returncode == 1   # batch: some run was not OK
    return data, Verdict.from_dict(data).exit_status


def _same_everywhere(argv, cli_options, api_options, spec_options, tmp_path) -> dict:
    cli, cli_exit = _cli(argv, cli_options)
    api, api_exit = _api(argv, api_options)
    batch, batch_exit = _batch(argv, spec_options, tmp_path)
    assert cli["status"] == "XX", cli
    assert cli_exit == api_exit == batch_exit == 2
    for name in SAME:
        assert cli[name] == api[name] == batch[name], (name, cli, api, batch)
    return cli


@pytest.fixture(autouse=True)
def box():
    subprocess.run([*RUSTBOX, "init", "--box-id", str(BOX_ID)], check=True,
                   capture_output=True, timeout=60)
    yield
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BOX_ID)], capture_output=True,
                   timeout=60)


def _box_cgroup_version() -> str:
    with Box(BOX_ID) as box:
        return box.cgroup_version


@pytest.fixture
def memory_held_in_box():
    """A process of ours holding 48 MiB in box 760's memory cgroup (v1; the
    host has no swap to push it to): writing a lower memory limit there
    fails with EBUSY, a real cgroup write failure inside our own sub-tree."""
    if _box_cgroup_version() != "v1":
        pytest.skip("the refused write used here is cgroup v1's EBUSY on memory.limit_in_bytes")
    procs = Path(f"/sys/fs/cgroup/memory/rustbox/box-{BOX_ID}/cgroup.procs")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.stdin.readline(); "
         "x = bytearray(b'1') * (48 << 20); print('held', flush=True); time.sleep(120)"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        procs.write_text(str(holder.pid))   # charged from here on
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_a_cgroup_write_failure_is_the_same_xx_everywhere(memory_held_in_box, tmp_path):
    verdict = _same_everywhere(["/bin/true"], ["--mem", "8M"], {"limits": Limits(mem=8 << 20)},
                               {"mem": "8M"}, tmp_path)
    assert "memory.limit_in_bytes" in verdict["message"], verdict


def test_a_missing_program_is_the_same_xx_everywhere(tmp_path):
    verdict = _same_everywhere(["/no/such/program"], [], {}, {}, tmp_path)
    assert "/no/such/program" in verdict["message"], verdict


def test_a_dir_rule_whose_host_path_is_missing_is_the_same_xx_everywhere(tmp_path):
    rule = "/no/such/host/dir:/data"
    verdict = _same_everywhere(["/bin/true"], ["--dir", rule], {"dirs": [rule]},
                               {"dir": [rule]}, tmp_path)
    assert "/no/such/host/dir" in verdict["message"], verdict


def test_a_seccomp_policy_that_does_not_load_is_the_same_xx_everywhere(tmp_path):
    policy = tmp_path / "broken-policy.json"
    policy.write_text('{"default": ')
    verdict = _same_everywhere(["/bin/true"], ["--seccomp", str(policy)],
                               {"seccomp": str(policy)}, {"seccomp": str(policy)}, tmp_path)
    assert str(policy) in verdict["message"], verdict


def test_box_run_request_leaves_the_callers_request_alone():
    from rustbox.request import RunRequest
    request = RunRequest.from_options({"argv": ["/bin/true"]}, inherit_stdio=True)
    with Box(BOX_ID) as box:
        assert box.run_request(request).status == "OK"
    assert request.inherit_stdio is True
