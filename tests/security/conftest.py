"""The escape suite's tools: compiled attack programs, `rustbox run` through
the real CLI, and a guard that checks the host after every case.

Boxes 700-739 belong to this suite (uids 61700-61739 with the default
RUSTBOX_FIRST_UID). Every test leaves them cleaned up; the guard fails a
test that leaves a process of a box uid, a cgroup of a box, a mount in the
host's table, or a changed host name behind.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from rustbox.box import BoxDir
from tests.hoststate import cgroups_of, mount_table, processes_of

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
REPO = HERE.parent.parent
RUSTBOX = [sys.executable, "-m", "rustbox"]

BOX = 700          # the box most cases run in
OTHER_BOX = 701    # a neighbour whose files and processes must stay out of reach
SUITE_BOXES = range(700, 740)


def box_uid(box_id: int) -> int:
    return BoxDir(box_id).uid


def _uid_range() -> range:
    return range(box_uid(SUITE_BOXES[0]), box_uid(SUITE_BOXES[-1]) + 1)


@dataclass
class Run:
    """One `rustbox run`: its verdict, exit status and the program's output."""

    verdict: dict | None
    returncode: int
    output: str       # the program's stdout (rustbox's, minus the verdict)
    stderr: str

    def __repr__(self) -> str:
        return (f"Run(exit={self.returncode}, verdict={self.verdict}, "
                f"output={self.output[-800:]!r}, stderr={self.stderr[-400:]!r})")


def rustbox(*args, cwd=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*RUSTBOX, *map(str, args)], cwd=cwd, capture_output=True,
                          timeout=timeout, **kwargs)


def cleanup(box_id: int) -> None:
    proc = rustbox("cleanup", "--box-id", box_id)
    assert proc.returncode == 0, f"cleanup of box {box_id} failed: {proc.stderr.decode()}"


@pytest.fixture(scope="session")
def build_dir():
    """The attack programs, compiled with gcc -O2 (a world-readable temp dir)."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the attack programs")
    if os.geteuid() != 0:
        pytest.skip("the escape suite runs rustbox, which needs root")
    out = Path(tempfile.mkdtemp(prefix="rustbox-security-"))
    out.chmod(0o755)
    for source in PROGRAMS.glob("*.c"):
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(out / source.stem), str(source)],
                       check=True)
    for source in PROGRAMS.glob("*.py"):
        shutil.copy(source, out / source.name)
    for box_id in SUITE_BOXES:  # leftovers of an interrupted earlier session
        if BoxDir(box_id).home.exists():
            cleanup(box_id)
    yield out
    shutil.rmtree(out)


@pytest.fixture
def run_box(build_dir, tmp_path):
    """run_box(*args, box=BOX, **subprocess_kwargs) -> Run; boxes used are cleaned up."""
    used: set[int] = set()

    def call(*args, box: int = BOX, stdin=subprocess.DEVNULL, **kwargs) -> Run:
        used.add(box)
        verdict_file = tmp_path / f"verdict-{len(used)}-{time.monotonic_ns()}.json"
        proc = subprocess.run(
            [*RUSTBOX, "run", "--box-id", str(box), "--json", str(verdict_file), *map(str, args)],
            cwd=kwargs.pop("cwd", build_dir), capture_output=True, stdin=stdin,
            timeout=kwargs.pop("timeout", 120), **kwargs)
        verdict = orjson.loads(verdict_file.read_bytes()) if verdict_file.exists() else None
        return Run(verdict, proc.returncode, proc.stdout.decode(errors="replace"),
                   proc.stderr.decode(errors="replace"))

    call.used = used
    yield call
    for box_id in used:
        cleanup(box_id)


def init_box(box_id: int) -> Path:
    proc = rustbox("init", "--box-id", box_id)
    assert proc.returncode == 0, proc.stderr.decode()
    return Path(orjson.loads(proc.stdout)["path"])


# --------------------------------------------------------------------------
# The state of the host the suite must not change


def box_uid_processes() -> list[str]:
    """Processes whose real or effective uid belongs to a suite box."""
    return processes_of(_uid_range())


def suite_cgroups() -> list[str]:
    """cgroups of the suite's boxes, in every hierarchy."""
    return cgroups_of(SUITE_BOXES)


def wait_until(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(autouse=True)
def host_guard(request):
    """After each case: no box process, no box cgroup, same mounts and host name."""
    if os.geteuid() != 0:
        yield
        return
    mounts_before = mount_table()
    hostname_before = socket.gethostname()
    yield
    # run_box's own teardown (cleanup) has run by now: fixtures unwind in reverse.
    leftovers: list[str] = []
    if not wait_until(lambda: not box_uid_processes()):
        leftovers.append(f"processes of box uids survived: {box_uid_processes()}")
    if suite_cgroups():
        leftovers.append(f"box cgroups left behind: {suite_cgroups()}")
    new_mounts = mount_table() - mounts_before
    if new_mounts:
        leftovers.append(f"mounts appeared in the host's table: {sorted(new_mounts)}")
    if socket.gethostname() != hostname_before:
        leftovers.append(f"host name changed to {socket.gethostname()!r}")
    assert not leftovers, "; ".join(leftovers)
