"""rustbox in the three places users put it on cgroup v2, through the real CLI.

  root        the process sits in the root cgroup (a host without systemd);
  delegated   it sits in a cgroup whose parent enabled memory, cpu and pids
              for it, which is what systemd's Delegate=yes leaves a unit;
  namespace   it moved into a child cgroup, then `unshare --cgroup` and a
              fresh cgroup2 mount, which is what docker --cgroupns=private
              leaves a container.

The VM has neither systemd nor docker, so each test builds that state
itself in `rustbox-test-*` cgroups at the root and removes them after. As
under a unit or in a container, one process enters the place and every
rustbox command is its child: once rustbox has enabled controllers in the
delegated cgroup, the kernel lets no new process in there.
Boxes 44-46.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import namedtuple

import orjson
import pytest

from tests.conftest import REPO, RUSTBOX
from tests.v2 import CGROUP_ROOT, skip_unless_v2

skip_unless_v2()
KINDS = ("root", "delegated", "namespace")
BOX = {"root": 44, "delegated": 45, "namespace": 46}
NEEDED = ("memory", "cpu", "pids")
# `sh -c` in the new namespaces: a fresh cgroup2 mount shows the namespace's
# root at /sys/fs/cgroup, as a container sees it (the old mount goes first:
# the kernel refuses the same hierarchy twice on one mount point).
IN_NAMESPACE = ["unshare", "--cgroup", "--mount", "--propagation", "private", "sh", "-c",
                f'umount -l {CGROUP_ROOT} && mount -t cgroup2 none {CGROUP_ROOT} && exec "$@"', "sh"]
# The process that enters the place, then runs each command as its child.
DRIVER = """
import json, subprocess, sys
done = []
for argv in json.loads(sys.argv[1]):
    p = subprocess.run(argv, capture_output=True)
    done.append([p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")])
sys.stdout.write(json.dumps(done))
"""
Done = namedtuple("Done", "returncode stdout stderr")


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def placed(kind: str, cgroup: str, commands, cwd=None, timeout=900) -> list[Done]:
    """Run `commands` one after another from one process that first moved
    into `cgroup` (a directory under the real /sys/fs/cgroup); for
    "namespace" that process also enters a private cgroup namespace."""
    def enter():
        _write(os.path.join(cgroup, "cgroup.procs"), "0")  # 0: the writer itself

    argv = [sys.executable, "-c", DRIVER, json.dumps([list(map(str, c)) for c in commands])]
    if kind == "namespace":
        argv = [*IN_NAMESPACE, *argv]
    proc = subprocess.run(argv, preexec_fn=enter, capture_output=True, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, proc.stderr.decode()
    return [Done(*done) for done in json.loads(proc.stdout)]


def _enable(cgroup: str, controllers) -> None:
    for controller in controllers:
        if controller not in _read(os.path.join(cgroup, "cgroup.subtree_control")).split():
            _write(os.path.join(cgroup, "cgroup.subtree_control"), f"+{controller}")


def _remove_tree(path: str) -> None:
    """Kill what is left in a test cgroup and remove it, deepest first."""
    if not os.path.isdir(path):
        return
    if os.path.exists(os.path.join(path, "cgroup.kill")):
        _write(os.path.join(path, "cgroup.kill"), "1")
    for directory, subdirs, _ in os.walk(path, topdown=False):
        for sub in subdirs:
            os.rmdir(os.path.join(directory, sub))
    os.rmdir(path)


@pytest.fixture
def unit_cgroup(request):
    """A fresh `rustbox-test-<name>` at the root, removed after the test."""
    made = []

    def make(name: str, parent: str = CGROUP_ROOT) -> str:
        path = os.path.join(parent, f"rustbox-test-{name}" if parent == CGROUP_ROOT else name)
        _remove_tree(path)
        os.mkdir(path)
        made.append(path)
        return path

    yield make
    for path in reversed(made):
        _remove_tree(path)


def _holder(kind: str, unit_cgroup) -> str:
    """The cgroup the rustbox process starts in, as the three set-ups leave it."""
    if kind == "root":
        return CGROUP_ROOT
    # What Delegate=yes and a container's cgroup both have: the parent
    # enables the controllers for it.
    _enable(CGROUP_ROOT, NEEDED)
    return unit_cgroup(kind)


def _root_dirs() -> set[str]:
    return {e.name for e in os.scandir(CGROUP_ROOT) if e.is_dir()}


@pytest.mark.parametrize("kind", KINDS)
def test_runs_in_each_placement(kind, unit_cgroup, programs):
    holder = _holder(kind, unit_cgroup)
    box = BOX[kind]
    seen = CGROUP_ROOT if kind == "namespace" else holder  # the holder, as rustbox sees it
    root_control, root_dirs = _read(f"{CGROUP_ROOT}/cgroup.subtree_control"), _root_dirs()

    check, ok, ml, box_there, holder_procs, gone = placed(kind, holder, [
        [*RUSTBOX, "check-env"],
        [*RUSTBOX, "run", "--box-id", box, "--mem", "64M", "./touch_mem", "16"],
        [*RUSTBOX, "run", "--box-id", box, "--mem", "16M", "./touch_mem", "64"],
        ["test", "-d", f"{seen}/rustbox/box-{box}"],
        ["cat", f"{seen}/cgroup.procs"],
        [*RUSTBOX, "cleanup", "--box-id", box],
    ], cwd=programs)

    assert check.returncode == 0, check.stdout + check.stderr
    [line] = [l for l in check.stdout.splitlines() if "cgroup placement" in l]
    assert line.startswith("[ok  ]") and f" {kind}: " in line, line
    verdict = orjson.loads(ok.stdout)
    assert verdict["status"] == "OK" and verdict["cgroup"] == "v2", ok.stderr
    assert 16 << 20 <= verdict["memory_peak"] <= 19 << 20
    verdict = orjson.loads(ml.stdout)
    assert verdict["status"] == "ML" and verdict["oom"] is True, ml.stderr
    assert box_there.returncode == 0, f"no box cgroup in {seen}/rustbox"
    assert gone.returncode == 0, gone.stderr
    assert not os.path.exists(os.path.join(holder, "rustbox", f"box-{box}"))
    assert set(_read(os.path.join(holder, "rustbox", "cgroup.subtree_control")).split()) >= set(NEEDED)
    if kind != "root":
        # rustbox moved the holder's processes (the driver too) into the leaf,
        # then enabled the controllers in the holder; the root saw no box and
        # no write.
        assert holder_procs.stdout == ""
        assert os.path.isdir(os.path.join(holder, "rustbox-supervisor"))
        assert set(_read(os.path.join(holder, "cgroup.subtree_control")).split()) >= set(NEEDED)
        assert _read(f"{CGROUP_ROOT}/cgroup.subtree_control") == root_control
        assert _root_dirs() == root_dirs


@pytest.mark.parametrize("kind", ("delegated", "namespace"))
def test_adapter_suite_in_each_placement(kind, unit_cgroup):
    # The root placement is this pytest's own: test_cgroups_v2_real.py.
    holder = _holder(kind, unit_cgroup)
    [suite] = placed(kind, holder, [[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                     "tests/v2/test_cgroups_v2_real.py"]], cwd=REPO)
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout.strip().splitlines()[-1], suite.stdout[-2000:]


@pytest.mark.parametrize("kind", ("delegated", "namespace"))
def test_undelegated_controller_is_one_line_naming_the_file(kind, unit_cgroup):
    _enable(CGROUP_ROOT, NEEDED)
    parent = unit_cgroup("parent")
    _enable(parent, ("memory", "pids"))   # cpu not delegated
    holder = unit_cgroup(kind, parent)
    init, check = placed(kind, holder, [[*RUSTBOX, "init", "--box-id", BOX[kind]],
                                        [*RUSTBOX, "check-env"]])
    lines = init.stderr.splitlines()
    assert init.returncode == 2 and len(lines) == 1, init.stderr
    assert lines[0].startswith("rustbox: error: cgroup v2 controllers cpu ")
    if kind == "delegated":
        assert f"not delegated to {holder}: add them to {parent}/cgroup.subtree_control" in lines[0]
    else:
        assert "not delegated to this cgroup namespace: /sys/fs/cgroup/cgroup.controllers" in lines[0]
    # Nothing was made or moved: the holder is as the test left it.
    assert not os.path.exists(os.path.join(holder, "rustbox"))
    assert not os.path.exists(os.path.join(holder, "rustbox-supervisor"))
    assert check.returncode == 1
    [cpu] = [l for l in check.stdout.splitlines() if "controller cpu" in l]
    assert cpu.startswith("[FAIL]"), cpu
    assert lines[0].removeprefix("rustbox: error: ") in cpu
