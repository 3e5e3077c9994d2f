"""The cgroup v1 adapter: `rustbox/box-N` in memory, cpu, cpuacct, pids, freezer.

Owns everything v1-specific: limit file names and syntax, the memsw
ordering rule, counter resets, freezing to kill, and the fds kept open for
the hot paths (cpuacct.usage polling, joining by cgroup.procs).

cgroupspy manages the tree: it creates and removes the box's groups in the
controllers it knows (memory, cpu, cpuacct; pids and freezer, which it has
no classes for, are plain directories). Limits and every per-run path
(reset, polling, stats, kill) are plain writes and reads on our own paths
and fds: they run in the box helper before every run, and the helper forks
once per run, so it must stay small (cgroupspy brings logging, json, uuid,
datetime with it). Nodes are built by hand (never `Tree()`) so nothing
outside our sub-tree is ever walked.

Kernel memory (measured on 6.18, HOST-NOTES): slab, pipe buffers and UNIX
socket buffers are charged to memory.usage_in_bytes with no knob (writing
memory.kmem.limit_in_bytes is accepted and ignored, so it is left alone).
TCP and UDP buffers are charged to a counter of their own,
memory.kmem.tcp.*, and only once its limit has been written: before that
they are charged to nobody, and a `--mem 32M` box pinned 44 MB of loopback
TCP memory. apply() therefore always writes that limit (= the memory
limit), and memory_peak is the sum of both high-water marks.

A box's leftover files on a tmpfs /box (--quota) stay charged to its memory
cgroup and cannot be reclaimed (no swap): reset() then re-creates the
memory cgroup, leaving those pages to the old one, which the kernel keeps
(counted under `rustbox`, never in a box) until the files are removed.
"""
from __future__ import annotations

import os
import signal
import time

from ..errors import CgroupError
from ..limits import Limits
from . import _files
from .base import BoxCgroup, CgroupStats

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")
# The child joins in this order: freezer first, so any task that exists in
# the box can be frozen by kill_all; memory and cpuacct last, so as little
# of the set-up as possible is charged.
JOIN_ORDER = ("freezer", "pids", "cpu", "memory", "cpuacct")
CGROUPSPY_CONTROLLERS = ("memory", "cpu", "cpuacct")
CFS_PERIOD_US = 100_000
DEFAULT_SHARES = 1024
FREEZE_TIMEOUT = 1.0
EMPTY_TIMEOUT = 0.2       # per kill pass; kill_all makes passes until its timeout
KILL_TIMEOUT = 5.0        # kill_all's default bound (the runner passes a shorter one)
RECLAIM_ABOVE = 1 << 20   # bytes left charged by an earlier run worth reclaiming
TCP_LIMIT = "memory.kmem.tcp.limit_in_bytes"
TCP_PEAK = "memory.kmem.tcp.max_usage_in_bytes"
# Limits a re-created memory cgroup gets back, in an order valid from the
# kernel's defaults (all unlimited): the limit before memsw.
MEMORY_LIMITS = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", TCP_LIMIT)


class V1BoxCgroup(BoxCgroup):
    """One box's cgroups on a v1 (or hybrid) host."""

    version = "v1"
    stateless_apply = True

    def cgroup_dirs(self) -> list[str]:
        return list(self.paths.values())

    def __init__(self, box_id: int, root: str = "/sys/fs/cgroup"):
        self.box_id = int(box_id)
        self.root = root.rstrip("/") or "/"
        self.name = _files.box_name(self.box_id)
        self.paths = {c: os.path.join(self.root, c, _files.PARENT_NAME, self.name)
                      for c in CONTROLLERS}
        self._join_fds: list[int] | None = None
        self._usage_fd: int | None = None
        self._prime_fd: int | None = None
        self._oom_baseline = 0
        self._swap_applied = False
        self._has_memsw = os.path.exists(os.path.join(self.root, "memory",
                                                      "memory.memsw.limit_in_bytes"))
        # Without it (a kernel built without CONFIG_MEMCG_KMEM, or a future
        # one that dropped it) socket buffers are not counted: features() says so.
        self._has_tcp = os.path.exists(os.path.join(self.root, "memory", TCP_LIMIT))

    def _node(self, controller: str):
        from cgroupspy.nodes import Node
        top = Node(self.root.encode())
        ctrl = Node(controller.encode(), parent=top)
        parent = Node(_files.PARENT_NAME.encode(), parent=ctrl)
        return Node(self.name.encode(), parent=parent)

    def _file(self, controller: str, name: str) -> str:
        return os.path.join(self.paths[controller], name)

    # -- life cycle -------------------------------------------------------

    def create(self) -> None:
        for controller in CONTROLLERS:
            top = os.path.join(self.root, controller)
            if not os.path.isdir(top):
                raise CgroupError(f"cgroup v1 controller {controller!r} is not mounted at {top}")
            try:
                os.makedirs(os.path.dirname(self.paths[controller]), exist_ok=True)
                if os.path.isdir(self.paths[controller]):
                    continue
                if controller in CGROUPSPY_CONTROLLERS:
                    self._node(controller).parent.create_cgroup(self.name)
                else:
                    os.mkdir(self.paths[controller])
            except OSError as e:
                raise CgroupError(f"cannot create {self.paths[controller]}: {e.strerror}") from None

    def features(self) -> dict[str, bool]:
        return {"swap_limit": self._has_memsw, "swap_peak": self._has_memsw,
                "memory_peak": True, "memory_peak_reset": True,
                "cpu_quota": True, "kill": True, "socket_memory": self._has_tcp}

    def apply(self, limits: Limits) -> None:
        self._apply_memory(limits)
        _files.write_text(self._file("cpu", "cpu.shares"), limits.cpu_shares or DEFAULT_SHARES)
        _files.write_text(self._file("cpu", "cpu.cfs_period_us"), CFS_PERIOD_US)
        # The kernel refuses quotas under 1 ms.
        _files.write_text(self._file("cpu", "cpu.cfs_quota_us"),
                          -1 if limits.cpus is None else max(1000, int(limits.cpus * CFS_PERIOD_US)))
        _files.write_text(self._file("pids", "pids.max"),
                          "max" if limits.processes is None else limits.processes)

    def _apply_memory(self, limits: Limits) -> None:
        swap = limits.swap or 0
        if swap and not self._has_memsw:
            raise CgroupError("--swap needs swap accounting (memory.memsw.* missing): "
                              "boot the kernel with swapaccount=1")
        limit = -1 if limits.mem is None else limits.mem
        set_limit = lambda: _files.write_text(self._file("memory", "memory.limit_in_bytes"), limit)
        if not self._has_memsw:
            set_limit()
        else:
            memsw = -1 if limits.mem is None else limits.mem + swap
            set_memsw = lambda: _files.write_text(
                self._file("memory", "memory.memsw.limit_in_bytes"), memsw)
            current = self._read_int("memory.memsw.limit_in_bytes")
            # memsw >= limit must hold after every single write: raise
            # memsw before the limit, lower the limit before memsw. (The
            # kernel shows "unlimited" as a huge number, never -1.)
            if _unlimited(memsw) or memsw >= current:
                set_memsw()
                set_limit()
            else:
                set_limit()
                set_memsw()
        if self._has_tcp:
            # Written even when unlimited: the first write is what makes the
            # kernel charge socket buffers to the box at all.
            _files.write_text(self._file("memory", TCP_LIMIT), limit)
        self._swap_applied = bool(swap) and limits.mem is not None

    def reset(self) -> None:
        # A box is reused run after run; isolate forgets this and reports
        # an earlier run's OOM and peak. Start every counter afresh.
        _files.write_text(self._file("freezer", "freezer.state"), "THAWED")
        if self._empty() and self._usage() > RECLAIM_ABOVE:
            # Page cache charged by earlier runs would otherwise count in
            # this run's peak (the watermark resets to current usage). A few
            # hundred KiB are always left; reclaiming them costs ~0.7 ms a run.
            self._force_empty()
            if self._usage() > RECLAIM_ABOVE and self._empty():
                # What reclaim cannot free is the earlier runs' files on a
                # tmpfs /box: leave them to the old cgroup.
                self._recreate_memory()
        _files.write_text(self._file("memory", "memory.max_usage_in_bytes"), 0)
        if self._has_tcp:
            _files.write_text(self._file("memory", TCP_PEAK), 0)
        if self._has_memsw:
            _files.write_text(self._file("memory", "memory.memsw.max_usage_in_bytes"), 0)
            # Read back rather than remembered: apply() may have run in
            # another process (the limits are kept between runs).
            self._swap_applied = (self._read_int("memory.memsw.limit_in_bytes")
                                  > self._read_int("memory.limit_in_bytes"))
        _files.write_text(self._file("cpuacct", "cpuacct.usage"), 0)
        self._oom_baseline = self._oom_kill_count()

    def _force_empty(self) -> None:
        try:
            _files.write_text(self._file("memory", "memory.force_empty"), 0)
        except CgroupError:
            pass  # best effort: EBUSY if a task sneaked in; the peak is then a bit high

    def _recreate_memory(self) -> None:
        """A fresh, empty memory cgroup with the same limits (~1 ms)."""
        names = [name for name in MEMORY_LIMITS if os.path.exists(self._file("memory", name))]
        values = {name: self._read_int(name) for name in names}
        _files.close_fds(self._join_fds or ())
        self._join_fds = None   # the memory join fd belongs to the old directory
        path = _files.check_owned(self.paths["memory"])
        try:
            os.rmdir(path)
            os.mkdir(path)
        except OSError as e:
            raise CgroupError(f"cannot re-create {path}: {e.strerror}") from None
        for name in names:
            _files.write_text(self._file("memory", name), values[name])

    def join_fds(self) -> list[int]:
        if self._join_fds is None:
            self._join_fds = [_files.open_write_fd(self._file(c, "cgroup.procs"))
                              for c in JOIN_ORDER]
        return list(self._join_fds)

    # -- measuring --------------------------------------------------------

    def prime_join(self) -> None:
        # Every v1 migration takes the kernel's global cgroup_threadgroup_rwsem
        # for writing; the first write after an idle pause waits an RCU grace
        # period (5-15 ms here, HOST-NOTES). The supervisor takes that wait
        # now, moving itself into our own `rustbox` freezer group, while the
        # child builds its root; the child's join a moment later is then cheap.
        if self._prime_fd is None:
            path = os.path.join(self.root, "freezer", _files.PARENT_NAME, "cgroup.procs")
            self._prime_fd = _files.open_write_fd(path)
        try:
            os.write(self._prime_fd, b"0")
        except OSError:
            pass  # only an optimisation

    def cpu_time(self) -> float:
        if self._usage_fd is None:
            self._usage_fd = _files.open_read_fd(self._file("cpuacct", "cpuacct.usage"))
        return int(os.pread(self._usage_fd, 32, 0)) / 1e9

    def _oom_kill_count(self) -> int:
        text = _files.read_text(self._file("memory", "memory.oom_control"))
        return _files.keyed_value(text, "oom_kill")

    def _read_int(self, name: str) -> int:
        return int(_files.read_text(self._file("memory", name)))

    def stats(self) -> CgroupStats:
        peak = self._read_int("memory.memsw.max_usage_in_bytes" if self._swap_applied
                              else "memory.max_usage_in_bytes")
        if self._has_tcp:
            # A sum of two high-water marks: at worst a little over the true
            # peak, never under it.
            peak += self._read_int(TCP_PEAK)
        return CgroupStats(cpu_time=self.cpu_time(), memory_peak=peak,
                           oom_kills=self._oom_kill_count() - self._oom_baseline)

    def _usage(self) -> int:
        return self._read_int("memory.usage_in_bytes")

    def _empty(self) -> bool:
        # The hot-path check (every run, twice): every task joins the freezer
        # first (JOIN_ORDER), so an empty freezer group means an empty box.
        return not _files.read_pids(self._file("freezer", "cgroup.procs"))

    def pids(self) -> list[int]:
        # The union: a task is ours as soon as it joined any controller.
        found: set[int] = set()
        for controller in JOIN_ORDER:
            found.update(_files.read_pids(self._file(controller, "cgroup.procs")))
        return sorted(found)

    # -- ending -----------------------------------------------------------

    def kill_all(self, timeout: float = KILL_TIMEOUT) -> None:
        """Freeze (so nothing forks while we kill), SIGKILL, thaw, wait.

        A frozen task cannot fork, so one pass kills a fork bomb; further
        passes are for a task that joined between our read and the freeze.
        Every wait is bounded by `timeout` in all: a task that will not
        freeze (uninterruptible sleep) is killed anyway, one that will not
        die is a CgroupError, never a hang.
        """
        state = self._file("freezer", "freezer.state")
        if not os.path.exists(self.paths["freezer"]):
            return
        deadline = time.monotonic() + timeout
        while True:
            if self._empty():
                return
            _files.write_text(state, "FROZEN")
            try:
                _files.wait_until(lambda: _files.read_text(state).strip() == "FROZEN",
                                  min(FREEZE_TIMEOUT, _left(deadline)))
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            finally:
                _files.write_text(state, "THAWED")
            if _files.wait_until(lambda: not self.pids(), min(EMPTY_TIMEOUT, _left(deadline))):
                return
            if _left(deadline) <= 0:
                raise CgroupError(f"processes {self.pids()} of {self.name} survive SIGKILL")

    def destroy(self) -> None:
        self.kill_all()
        self.close()
        if os.path.isdir(self.paths["memory"]):
            self._force_empty()
        for controller in CONTROLLERS:
            path = _files.check_owned(self.paths[controller])
            if not os.path.isdir(path):
                continue
            try:
                if controller in CGROUPSPY_CONTROLLERS:
                    self._node(controller).parent.delete_cgroup(self.name)
                else:
                    os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise CgroupError(f"cannot remove {path}: {e.strerror}") from None

    def close(self) -> None:
        _files.close_fds(self._join_fds or ())
        _files.close_fds([fd for fd in (self._usage_fd, self._prime_fd) if fd is not None])
        self._join_fds = self._usage_fd = self._prime_fd = None


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _unlimited(value: int) -> bool:
    return value == -1
