"""Shared fixtures: compiled test programs and a CLI runner for `rustbox`."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = REPO / "testdata" / "programs"
RUSTBOX = [sys.executable, "-m", "rustbox"]


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    """testdata/programs/*.c compiled with gcc -O2 into a temp dir."""
    out = tmp_path_factory.mktemp("programs")
    for source in PROGRAMS.glob("*.c"):
        subprocess.run(["gcc", "-O2", "-pthread", "-o", str(out / source.stem), str(source)],
                       check=True)
    for source in PROGRAMS.glob("*.py"):
        shutil.copy(source, out / source.name)
    return out


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        lines = [l for l in proc.stdout.splitlines() if l.startswith(b"{")]
        self.verdict = orjson.loads(lines[-1]) if lines else None
        self.output = b"\n".join(l for l in proc.stdout.splitlines() if not l.startswith(b'{"box_id"'))


def rustbox(*args, cwd=None, timeout=60, **kwargs) -> Result:
    proc = subprocess.run([*RUSTBOX, *map(str, args)], cwd=cwd, capture_output=True,
                          timeout=timeout, **kwargs)
    return Result(proc)


@pytest.fixture
def run_box(programs):
    """rustbox(...) from the programs dir; cleans up every box it used."""
    used: set[str] = set()

    def call(*args, **kwargs):
        args = [str(a) for a in args]
        if "--box-id" in args:
            used.add(args[args.index("--box-id") + 1])
        return rustbox(*args, cwd=kwargs.pop("cwd", programs), **kwargs)

    yield call
    for box_id in used:
        rustbox("cleanup", "--box-id", box_id)
