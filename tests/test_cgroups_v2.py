"""The cgroup adapter suite against a SIMULATED cgroup v2 tree.

This host runs cgroups in hybrid mode: its only cgroup2 mount
(/sys/fs/cgroup/unified) has no memory, cpu or pids controller, so it
cannot give us a real v2 hierarchy. The v2 adapter is therefore tested here
on a temp dir pre-populated with the v2 interface files, where `SimKernel`
plays the kernel: it populates and clears directories (mkdir/rmdir), checks
the syntax of every limit written and rejects what the kernel would,
applies `+ctrl` to cgroup.subtree_control (EBUSY in a non-root cgroup with
processes of its own), moves a pid written to cgroup.procs, kills on
cgroup.kill, drops dead tasks from cgroup.procs, and writes the counters (cpu.stat, memory.peak,
memory.events) a program would have caused. The adapter itself uses only
plain file operations, so the same code runs for real on a v2 host.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import threading

import pytest

from rustbox.cgroups import _files, detect, open_box_cgroup
from rustbox.cgroups import placement as placement_module
from rustbox.cgroups import v2 as v2_module
from rustbox.cgroups.placement import Placement, find_placement
from rustbox.cgroups.v2 import V2BoxCgroup, shares_to_weight
from rustbox.errors import CgroupError, HostSetupError
from rustbox.limits import Limits
from tests.cgroup_suite import *  # noqa: F401,F403  (the shared tests)
from tests.cgroup_suite import MiB, Outcome, alive, v2_limit_files

BOX_ID = 901
PROGRAM_BASE = 256 * 1024  # what a tiny program costs on top of what it touches

BOX_FILES = {
    "cgroup.procs": "", "cgroup.kill": "", "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.subtree_control": "",
    "memory.max": "max", "memory.swap.max": "max", "memory.current": "0",
    "memory.peak": "0", "memory.swap.current": "0", "memory.swap.peak": "0",
    "memory.reclaim": "", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    "cpu.weight": "100", "cpu.max": "max 100000",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"
                "nr_throttled 0\nthrottled_usec 0\n",
    "pids.max": "max", "pids.current": "0",
}
# What the kernel accepts in each limit file (anything else: EINVAL).
SYNTAX = {
    "memory.max": r"max|\d+", "memory.swap.max": r"max|\d+", "pids.max": r"max|\d+",
    "cpu.max": r"(max|\d+) \d+", "cgroup.kill": r"1", "cgroup.freeze": r"[01]",
}


class SimKernel:
    """The kernel's side of a v2 cgroupfs, on plain files."""

    def __init__(self, root: str, monkeypatch, controllers="cpuset cpu io memory pids",
                 enabled="cpu memory pids"):
        self.root = root
        self.writes: list[tuple[str, str]] = []
        self.removed_dirs: list[str] = []
        self.daemons: list[subprocess.Popen] = []
        self._put(os.path.join(root, "cgroup.controllers"), controllers)
        self._put(os.path.join(root, "cgroup.subtree_control"), enabled)
        self._put(os.path.join(root, "cgroup.procs"), "1\n")
        self._real_write = _files.write_text
        monkeypatch.setattr(_files, "write_text", self.write)
        monkeypatch.setattr(v2_module, "_mkdir", self.mkdir)
        monkeypatch.setattr(v2_module, "_rmdir", self.rmdir)
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._drop_dead_tasks, daemon=True)
        self._reaper.start()

    @staticmethod
    def _put(path: str, text: str) -> None:
        with open(path, "w") as f:
            f.write(text)

    @staticmethod
    def _get(path: str) -> str:
        with open(path) as f:
            return f.read()

    def mkdir(self, path: str) -> None:
        os.mkdir(path)
        for name, text in BOX_FILES.items():
            self._put(os.path.join(path, name), text)
        parent = os.path.dirname(path)
        self._put(os.path.join(path, "cgroup.controllers"),
                  self._get(os.path.join(parent, "cgroup.subtree_control")))

    def rmdir(self, path: str) -> None:
        if self._get(os.path.join(path, "cgroup.procs")).split():
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
        if any(entry.is_dir() for entry in os.scandir(path)):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), path)
        for entry in os.scandir(path):
            os.unlink(entry.path)
        os.rmdir(path)
        self.removed_dirs.append(path)

    def write(self, path: str, value, owned: bool = True) -> None:
        name, text = os.path.basename(path), str(value)
        self.writes.append((os.path.relpath(path, self.root), text))
        if name in SYNTAX and not re.fullmatch(SYNTAX[name], text):
            raise CgroupError(f"cannot write {text!r} to {path}: Invalid argument")
        if name == "cpu.weight" and not 1 <= int(text) <= 10000:
            raise CgroupError(f"cannot write {text!r} to {path}: Invalid argument")
        if name == "cgroup.subtree_control":
            directory = os.path.dirname(path)
            available = self._get(os.path.join(directory, "cgroup.controllers")).split()
            enabled = self._get(path).split()
            if directory != self.root and self._get(os.path.join(directory, "cgroup.procs")).split():
                raise CgroupError(f"cannot write {text!r} to {path}: Device or resource busy",
                                  errno.EBUSY)
            for change in text.split():
                if change[1:] not in available:
                    raise CgroupError(f"cannot write {change!r} to {path}: Invalid argument")
                if change[0] == "+" and change[1:] not in enabled:
                    enabled.append(change[1:])
                elif change[0] == "-" and change[1:] in enabled:
                    enabled.remove(change[1:])
            self._put(path, " ".join(enabled))
            return
        if name == "cgroup.procs":  # a migration: out of every other cgroup
            for procs in [os.path.join(self.root, "cgroup.procs"), *self._all_procs_files()]:
                pids = [p for p in _files.read_pids(procs) if p != int(text)]
                self._put(procs, "".join(f"{p}\n" for p in pids))
            with open(path, "a") as f:
                f.write(f"{text}\n")
            return
        self._real_write(path, value, owned)
        if name == "cgroup.kill":
            for pid in _files.read_pids(os.path.join(os.path.dirname(path), "cgroup.procs")):
                os.kill(pid, signal.SIGKILL)
        if name == "cgroup.freeze":
            self._put(os.path.join(os.path.dirname(path), "cgroup.events"),
                      f"populated 1\nfrozen {text}\n")

    def _drop_dead_tasks(self) -> None:
        # A dead task leaves cgroup.procs on its own (the kernel does this).
        while not self._stop.wait(0.002):
            for daemon in list(self.daemons):
                if daemon.poll() is None:
                    continue
                self.daemons.remove(daemon)
                for procs in self._all_procs_files():
                    pids = [p for p in _files.read_pids(procs) if p != daemon.pid]
                    self._put(procs, "".join(f"{p}\n" for p in pids))

    def _all_procs_files(self):
        for directory, _, files in os.walk(self.root):
            if directory != self.root and "cgroup.procs" in files:
                yield os.path.join(directory, "cgroup.procs")

    def close(self) -> None:
        self._stop.set()
        self._reaper.join()
        for daemon in self.daemons:
            daemon.kill()
            daemon.wait()


class V2Harness:
    cpu_slack = 1e-6  # the simulated kernel charges exactly what ran

    def __init__(self, tmp_path, monkeypatch, **kernel):
        self.root = str(tmp_path / "cgroup")
        os.mkdir(self.root)
        self.kernel = SimKernel(self.root, monkeypatch, **kernel)
        self.cg = V2BoxCgroup(BOX_ID, self.root)
        self.cg.create()
        self.box = self.cg.path

    def _path(self, name: str) -> str:
        return os.path.join(self.box, name)

    def read(self, name: str) -> str:
        with open(self._path(name)) as f:
            return f.read().strip()

    def _set(self, name: str, text: str) -> None:
        with open(self._path(name), "w") as f:
            f.write(text)

    def _counter(self, name: str, key: str, add: int) -> None:
        text = self.read(name)
        value = _files.keyed_value(text, key) + add
        self._set(name, re.sub(rf"(?m)^{key} \d+$", f"{key} {value}", text) + "\n")

    def limit_files(self, limits: Limits) -> dict[str, str]:
        return v2_limit_files(limits)

    def reset(self) -> None:
        self.cg.reset()
        # The kernel's reaction to writing memory.peak: the peak seen through
        # that fd restarts from the current usage.
        for peak, current in (("memory.peak", "memory.current"),
                              ("memory.swap.peak", "memory.swap.current")):
            if self.read(peak).startswith("reset"):
                self._set(peak, self.read(current) + "\n")

    def busy(self, seconds: float) -> float:
        self._counter("cpu.stat", "usage_usec", int(seconds * 1e6))
        self._counter("cpu.stat", "user_usec", int(seconds * 1e6))
        return seconds

    def touch(self, mib: int) -> Outcome:
        need = mib * MiB + PROGRAM_BASE
        limit = self.read("memory.max")
        peak = int(self.read("memory.peak"))
        if limit != "max" and need > int(limit):
            self._counter("memory.events", "max", 1)
            self._counter("memory.events", "oom", 1)
            self._counter("memory.events", "oom_kill", 1)
            self._set("memory.peak", f"{max(peak, int(limit))}\n")
            return Outcome(None, 9)
        self._set("memory.peak", f"{max(peak, need)}\n")
        return Outcome(0, None)

    def _charge(self, size: int) -> int:
        """Charge `size` more bytes as the kernel would (up to memory.max);
        returns what was charged."""
        limit, current = self.read("memory.max"), int(self.read("memory.current"))
        if limit != "max":
            size = max(0, min(size, int(limit) - current))
        self._set("memory.current", f"{current + size}\n")
        self._set("memory.peak", f"{max(int(self.read('memory.peak')), current + size)}\n")
        return size

    def pin_sockets(self, mib: int) -> tuple[Outcome, int | None]:
        # v2 charges socket buffers to memory.current: the program's base,
        # then buffers up to memory.max, where the OOM killer takes the
        # writer (what 6.1 does, measured in the CI VM).
        self._charge(PROGRAM_BASE)
        pinned = self._charge(mib * MiB)
        self._set("memory.current", f"{int(self.read('memory.current')) - PROGRAM_BASE - pinned}\n")
        if pinned == mib * MiB:
            return Outcome(0, None), pinned
        for key in ("max", "oom", "oom_kill"):
            self._counter("memory.events", key, 1)
        return Outcome(None, 9), None

    def leave_files(self, mib: int) -> Outcome:
        self._charge(PROGRAM_BASE)
        self._charge(mib * MiB)   # tmpfs pages stay charged after the exit
        self._set("memory.current", f"{int(self.read('memory.current')) - PROGRAM_BASE}\n")
        return Outcome(0, None)

    def try_fork(self) -> bool:
        limit = self.read("pids.max")
        return limit == "max" or int(limit) >= 2

    def daemon(self) -> int:
        daemon = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.kernel.daemons.append(daemon)
        with open(self._path("cgroup.procs"), "a") as f:
            f.write(f"{daemon.pid}\n")
        return daemon.pid

    def alive(self, pid: int) -> bool:
        return alive(pid)

    def removed(self) -> bool:
        return not os.path.exists(self.box)

    def close(self) -> None:
        self.cg.destroy()
        self.kernel.close()


@pytest.fixture
def harness(tmp_path, monkeypatch):
    h = V2Harness(tmp_path, monkeypatch)
    yield h
    h.close()
    assert h.removed()


# -- v2 only --------------------------------------------------------------

def test_only_missing_controllers_are_enabled(tmp_path, monkeypatch):
    h = V2Harness(tmp_path, monkeypatch, enabled="cpu memory")
    try:
        subtree = [(path, text) for path, text in h.kernel.writes
                   if path.endswith("cgroup.subtree_control")]
        assert subtree == [("cgroup.subtree_control", "+pids"),
                           ("rustbox/cgroup.subtree_control", "+memory"),
                           ("rustbox/cgroup.subtree_control", "+cpu"),
                           ("rustbox/cgroup.subtree_control", "+pids")]
        assert h.read("cgroup.controllers").split() == ["memory", "cpu", "pids"]
        h.kernel.writes.clear()
        h.cg.create()
        assert h.kernel.writes == []
    finally:
        h.close()


def test_a_root_with_every_controller_enabled_is_not_written(harness):
    assert not any(path == "cgroup.subtree_control" for path, _ in harness.kernel.writes)


def test_missing_controller_is_a_host_setup_error(tmp_path, monkeypatch):
    with pytest.raises(HostSetupError, match="pids"):
        V2Harness(tmp_path, monkeypatch, controllers="cpu memory io")


def test_memory_peak_adds_swap_peak_only_when_swap_is_allowed(harness):
    harness.cg.apply(Limits(mem=64 * MiB, swap=64 * MiB))
    harness.reset()
    harness._set("memory.peak", f"{64 * MiB}\n")
    harness._set("memory.swap.peak", f"{10 * MiB}\n")
    assert harness.cg.stats().memory_peak == 74 * MiB
    harness.cg.apply(Limits(mem=64 * MiB))
    harness.reset()
    harness._set("memory.peak", f"{64 * MiB}\n")
    harness._set("memory.swap.peak", f"{10 * MiB}\n")
    assert harness.cg.stats().memory_peak == 64 * MiB


def test_peak_reset_writes_through_the_kept_fd(harness):
    harness.cg.apply(Limits(mem=64 * MiB))
    harness.cg.reset()
    assert harness.read("memory.peak").startswith("reset")
    assert harness.cg.features()["memory_peak_reset"] is True


def test_before_6_12_reset_recreates_the_empty_box(harness, monkeypatch):
    # memory.peak is then "since creation": a fresh cgroup is a fresh peak.
    monkeypatch.setattr(V2BoxCgroup, "_open_peak_fds", lambda self: False)
    harness.cg.apply(Limits(mem=64 * MiB, processes=3))
    harness.cg.join_fds()
    harness.cg.reset()
    assert harness.cg.path in harness.kernel.removed_dirs
    assert harness.read("memory.max") == str(64 * MiB)  # limits re-applied
    assert harness.read("pids.max") == "3"
    # The join fd is reopened on the new directory's cgroup.procs.
    [join_fd] = harness.cg.join_fds()
    assert os.fstat(join_fd).st_ino == os.stat(harness._path("cgroup.procs")).st_ino


def test_kill_all_writes_cgroup_kill(harness):
    harness.daemon()
    harness.cg.kill_all()
    assert ("rustbox/box-901/cgroup.kill", "1") in harness.kernel.writes


def test_without_cgroup_kill_freeze_and_sigkill(harness):
    os.unlink(harness._path("cgroup.kill"))  # kernel < 5.14
    pid = harness.daemon()
    harness.cg.kill_all()
    assert not harness.alive(pid)
    assert harness.cg.pids() == []
    freezes = [text for path, text in harness.kernel.writes if path.endswith("cgroup.freeze")]
    assert freezes == ["1", "0"]


def test_swap_without_swap_accounting_is_refused(harness):
    os.unlink(harness._path("memory.swap.max"))
    with pytest.raises(CgroupError, match="swapaccount=1"):
        harness.cg.apply(Limits(mem=64 * MiB, swap=MiB))
    harness.cg.apply(Limits(mem=64 * MiB))  # no swap asked: fine
    assert harness.cg.features()["swap_limit"] is False


@pytest.mark.parametrize("shares, weight", [(2, 1), (1024, 39), (262144, 10000), (1, 1), (10**6, 10000)])
def test_shares_to_weight(shares, weight):
    assert shares_to_weight(shares) == weight


def _at_root_of_the_hierarchy(tmp_path, monkeypatch, own="/"):
    """This process's cgroup as /proc/self/cgroup would show it."""
    proc_cgroup = tmp_path / "proc-self-cgroup"
    proc_cgroup.write_text(f"0::{own}\n")
    monkeypatch.setattr(placement_module, "PROC_CGROUP", str(proc_cgroup))


def test_detection_of_a_v2_root(tmp_path, monkeypatch):
    h = V2Harness(tmp_path, monkeypatch)
    try:
        mountinfo = tmp_path / "mountinfo"
        mountinfo.write_text(f"30 1 0:26 / {os.path.realpath(h.root)} rw,nosuid - cgroup2 cgroup2 rw\n")
        monkeypatch.setattr(detect, "MOUNTINFO", str(mountinfo))
        _at_root_of_the_hierarchy(tmp_path, monkeypatch)
        assert detect.detect_version(h.root) == "v2"
        cg = open_box_cgroup(BOX_ID, "auto", h.root)
        assert isinstance(cg, V2BoxCgroup) and cg.placement.kind == "root"
        with pytest.raises(HostSetupError, match="v1 controllers not mounted"):
            open_box_cgroup(BOX_ID, "v1", h.root)
        report = {item["item"]: item for item in detect.host_report(h.root)}
        assert report["cgroup version"]["detail"].startswith("v2")
        assert report["cgroup placement"]["detail"].startswith("root: root of the hierarchy")
        assert report["controller pids"]["ok"]
        with open(os.path.join(h.root, "cgroup.controllers"), "w") as f:
            f.write("cpu memory")
        # Still a unified host: the missing controller is named with its file.
        assert detect.detect_version(h.root) == "v2"
        with pytest.raises(HostSetupError) as missing:
            open_box_cgroup(BOX_ID, "v2", h.root)
        message = str(missing.value)
        assert "\n" not in message and f"pids are missing from {h.root}/cgroup.controllers" in message
        report = {item["item"]: item for item in detect.host_report(h.root)}
        assert report["controller pids"]["ok"] is False
        assert report["controller pids"]["detail"] == message
    finally:
        h.close()


@pytest.mark.parametrize("own, type_file, kind, base", [
    ("/", False, "root", ""),
    ("/system.slice/judge.service", False, "delegated", "system.slice/judge.service"),
    # A later process of the unit already sits in the leaf an earlier one made.
    ("/system.slice/judge.service/rustbox-supervisor", False, "delegated",
     "system.slice/judge.service"),
    ("/", True, "namespace", ""),
    ("/rustbox-supervisor", True, "namespace", ""),
])
def test_placement_follows_the_processs_own_cgroup(tmp_path, own, type_file, kind, base):
    if type_file:  # only the real root cgroup lacks cgroup.type
        (tmp_path / "cgroup.type").write_text("domain\n")
    placement = find_placement(str(tmp_path), "/", own)
    assert placement.kind == kind
    assert placement.base == os.path.normpath(os.path.join(tmp_path, base))
    assert placement.parent == os.path.join(placement.base, "rustbox")
    assert placement.leaf == (None if kind == "root" else
                              os.path.join(placement.base, "rustbox-supervisor"))


def test_a_mount_from_outside_the_namespace_is_refused(tmp_path):
    with pytest.raises(HostSetupError, match="mount -t cgroup2 none"):
        find_placement(str(tmp_path), "/../..", "/")


def test_delegated_placement_moves_the_units_processes_to_a_leaf(tmp_path, monkeypatch):
    root = str(tmp_path / "cgroup")
    os.mkdir(root)
    kernel = SimKernel(root, monkeypatch)
    unit = os.path.join(root, "judge.service")
    kernel.mkdir(unit)
    worker = subprocess.Popen(["sleep", "60"])
    kernel.daemons.append(worker)
    kernel.write(os.path.join(unit, "cgroup.procs"), worker.pid, owned=False)
    try:
        cg = V2BoxCgroup(BOX_ID, root, find_placement(root, "/", "/judge.service"))
        kernel.writes.clear()
        cg.create()
        assert cg.path == os.path.join(unit, "rustbox", f"box-{BOX_ID}")
        assert _files.read_pids(os.path.join(unit, "rustbox-supervisor", "cgroup.procs")) == [worker.pid]
        assert _files.read_pids(os.path.join(unit, "cgroup.procs")) == []
        with open(os.path.join(unit, "cgroup.subtree_control")) as f:
            assert f.read().split() == ["memory", "cpu", "pids"]
        # Nothing above the delegated cgroup is written.
        assert all(path.startswith("judge.service/") for path, _ in kernel.writes), kernel.writes
        cg.destroy()
    finally:
        kernel.close()


def test_undelegated_controllers_name_the_file_to_fix(tmp_path, monkeypatch):
    root = str(tmp_path / "cgroup")
    os.mkdir(root)
    kernel = SimKernel(root, monkeypatch, enabled="memory pids")
    unit = os.path.join(root, "judge.service")
    kernel.mkdir(unit)
    try:
        cg = V2BoxCgroup(BOX_ID, root, find_placement(root, "/", "/judge.service"))
        with pytest.raises(HostSetupError) as missing:
            cg.create()
        assert str(missing.value) == (
            f"cgroup v2 controllers cpu are not delegated to {unit}: add them to "
            f"{root}/cgroup.subtree_control (systemd: run rustbox in a unit with Delegate=yes, "
            "see the README)")
        assert not os.path.exists(os.path.join(unit, "rustbox"))
    finally:
        kernel.close()


def test_a_plain_directory_is_not_v2(tmp_path):
    assert detect.detect_version(str(tmp_path)) == "v1"
    with pytest.raises(HostSetupError, match="not a cgroup2 mount"):
        open_box_cgroup(BOX_ID, "v2", str(tmp_path))
