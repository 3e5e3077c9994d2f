"""The cgroup v2 adapter: one `rustbox/box-N` directory in the unified tree.

Owns everything v2-specific: enabling memory/cpu/pids in `rustbox`'s
`cgroup.subtree_control` (and, through its `Placement`, in the cgroup that
holds it: the root, a delegated sub-tree or a cgroup namespace), limit
syntax (memory.max, memory.swap.max, cpu.weight, cpu.max, pids.max), per-run counters (memory.peak reset through
its own fd on kernels >= 6.12, baselines of cpu.stat and memory.events), and
killing through `cgroup.kill`.

Kernel versions matter here, and a missing feature degrades instead of
failing (see `features()`):
  - memory.peak is writable (reset per fd) from 6.12; before that it is the
    peak since the cgroup was created, so reset() re-creates an empty box
    cgroup to get a fresh one.
  - cgroup.kill exists from 5.14; before that kill_all freezes
    (cgroup.freeze) and SIGKILLs each task.
  - memory.swap.* is missing without swap accounting: --swap is then refused.
  - memory.swap.peak is younger than memory.peak (Debian 12's 6.1 lacks
    it): with --swap the peak is then memory's alone (features()
    "swap_peak" says which).

Kernel memory needs no knob here: v2 charges slab, pipe and socket buffers
(TCP, UDP, UNIX) to memory.current, so they count toward memory.max and
memory.peak. What reclaim cannot free between runs (the earlier runs' files
on a tmpfs /box, --quota) is left behind by re-creating the box cgroup.

`_mkdir` and `_rmdir` are the two calls where the kernel populates or
clears a directory; the simulated-tree tests replace them (nothing else).
"""
from __future__ import annotations

import os
import signal
import time

from ..errors import CgroupError, HostSetupError
from ..limits import Limits
from . import _files
from .base import BoxCgroup, CgroupStats
from .placement import Placement

NEEDED = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
DEFAULT_WEIGHT = 100
FREEZE_TIMEOUT = 1.0
KILL_TIMEOUT = 5.0        # kill_all's default bound (the runner passes a shorter one)
RECLAIM_ABOVE = 1 << 20   # bytes left charged by an earlier run worth reclaiming


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares [2, 262144] onto v2 cpu.weight [1, 10000] (the mapping
    runc and the kernel docs use, so 2 -> 1 and 262144 -> 10000)."""
    shares = min(max(int(shares), 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def _mkdir(path: str) -> None:
    os.mkdir(path)


def _rmdir(path: str) -> None:
    os.rmdir(path)


class V2BoxCgroup(BoxCgroup):
    """One box's cgroup on a pure cgroup v2 host."""

    version = "v2"

    def __init__(self, box_id: int, root: str = "/sys/fs/cgroup",
                 placement: Placement | None = None):
        """`placement` comes from the factory (where this process sits);
        None means the root of the hierarchy mounted at `root`."""
        self.box_id = int(box_id)
        self.root = root.rstrip("/") or "/"
        self.placement = placement or Placement("root", self.root, self.root)
        self.name = _files.box_name(self.box_id)
        self.parent = self.placement.parent
        self.path = os.path.join(self.parent, self.name)
        self._join_fds: list[int] | None = None
        self._stat_fd: int | None = None
        self._peak_fds: dict[str, int] = {}
        self._peak_resettable = True
        self._cpu_baseline = 0
        self._oom_baseline = 0
        self._swap_applied = False
        self._limits: Limits | None = None

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def cgroup_dirs(self) -> list[str]:
        return [self.path]

    # -- life cycle -------------------------------------------------------

    def create(self) -> None:
        self.placement.require(NEEDED)
        # The holder's subtree_control is not ours: settle() only adds what
        # is missing (after moving its processes to a leaf, where v2 asks).
        self.placement.settle(NEEDED, _mkdir)
        self._make(self.parent)
        self._enable_controllers(self.parent)
        self._make(self.path)

    def _enable_controllers(self, directory: str) -> None:
        path = os.path.join(directory, "cgroup.subtree_control")
        enabled = _files.read_text(path).split()
        for controller in NEEDED:
            if controller in enabled:
                continue
            try:
                _files.write_text(path, f"+{controller}")
            except CgroupError as e:
                raise HostSetupError(f"{e} (on v2 a cgroup with processes in it cannot "
                                     "enable controllers for its children)") from None

    def _make(self, path: str) -> None:
        _files.check_owned(path)
        try:
            _mkdir(path)
        except FileExistsError:
            pass
        except OSError as e:
            raise CgroupError(f"cannot create {path}: {e.strerror}") from None

    def features(self) -> dict[str, bool]:
        return {"swap_limit": os.path.exists(self._file("memory.swap.max")),
                "swap_peak": os.path.exists(self._file("memory.swap.peak")),
                "memory_peak": os.path.exists(self._file("memory.peak")),
                "memory_peak_reset": self._peak_resettable
                and os.path.exists(self._file("memory.peak")),
                "cpu_quota": os.path.exists(self._file("cpu.max")),
                "kill": os.path.exists(self._file("cgroup.kill")),
                "socket_memory": True}

    def apply(self, limits: Limits) -> None:
        swap = limits.swap or 0
        has_swap = os.path.exists(self._file("memory.swap.max"))
        if swap and not has_swap:
            raise CgroupError("--swap needs swap accounting (memory.swap.max missing): "
                              "boot the kernel with swapaccount=1")
        _files.write_text(self._file("memory.max"), "max" if limits.mem is None else limits.mem)
        if has_swap:
            _files.write_text(self._file("memory.swap.max"),
                              "max" if limits.mem is None else swap)
        weight = DEFAULT_WEIGHT if limits.cpu_shares is None else shares_to_weight(limits.cpu_shares)
        _files.write_text(self._file("cpu.weight"), weight)
        quota = "max" if limits.cpus is None else max(1000, int(limits.cpus * CPU_PERIOD_US))
        _files.write_text(self._file("cpu.max"), f"{quota} {CPU_PERIOD_US}")
        _files.write_text(self._file("pids.max"),
                          "max" if limits.processes is None else limits.processes)
        self._swap_applied = bool(swap) and limits.mem is not None
        self._limits = limits

    def reset(self) -> None:
        if not self.pids() and self._current() > RECLAIM_ABOVE:
            # Earlier runs' page cache would count in this run's peak (it
            # restarts from the current usage); what reclaim cannot free
            # (files on a tmpfs /box) goes with the old cgroup.
            self._reclaim()
            if self._current() > RECLAIM_ABOVE and not self.pids():
                self._recreate()
        if not self._open_peak_fds() and not self.pids():
            # Before 6.12 memory.peak is "since creation": a fresh, empty
            # cgroup is the only fresh peak (0.3 ms, limits re-applied).
            self._recreate()
            self._open_peak_fds()
        self._cpu_baseline = self._usage_usec()
        self._oom_baseline = self._oom_kill_count()

    def _current(self) -> int:
        return int(_files.read_text(self._file("memory.current")).split()[0])

    def _reclaim(self) -> None:
        if not os.path.exists(self._file("memory.reclaim")):
            return   # < 5.19: the re-creation below does it all
        try:
            _files.write_text(self._file("memory.reclaim"), self._current())
        except CgroupError:
            pass   # EAGAIN: less was reclaimable than asked for

    def _open_peak_fds(self) -> bool:
        """Open memory.peak (and memory.swap.peak) and reset them through
        that fd; False when a present file refused the reset (< 6.12). The
        reset only holds for reads through the same fd, so the fd is kept.
        Without memory.peak at all (< 5.19) there is nothing to reset and
        stats() falls back to memory.current."""
        _files.close_fds(self._peak_fds.values())
        self._peak_fds = {}
        resettable = True
        for name in ("memory.peak", "memory.swap.peak"):
            path = self._file(name)
            if not os.path.exists(path):
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
                try:
                    os.write(fd, b"reset\n")
                except OSError:
                    os.close(fd)
                    raise
            except OSError:
                resettable = False
                fd = _files.open_read_fd(path)
            self._peak_fds[name] = fd
        self._peak_resettable = resettable
        return resettable

    def _recreate(self) -> None:
        self.close()
        try:
            _rmdir(_files.check_owned(self.path))
        except OSError as e:
            raise CgroupError(f"cannot re-create {self.path}: {e.strerror}") from None
        self._make(self.path)
        if self._limits is not None:
            self.apply(self._limits)

    def join_fds(self) -> list[int]:
        if self._join_fds is None:
            self._join_fds = [_files.open_write_fd(self._file("cgroup.procs"))]
        return list(self._join_fds)

    # -- measuring --------------------------------------------------------

    def _usage_usec(self) -> int:
        if self._stat_fd is None:
            self._stat_fd = _files.open_read_fd(self._file("cpu.stat"))
        return _files.keyed_value(os.pread(self._stat_fd, 4096, 0).decode(), "usage_usec")

    def cpu_time(self) -> float:
        return (self._usage_usec() - self._cpu_baseline) / 1e6

    def _oom_kill_count(self) -> int:
        return _files.keyed_value(_files.read_text(self._file("memory.events")), "oom_kill")

    def _peak(self, name: str) -> int:
        fd = self._peak_fds.get(name)
        if fd is None:
            return 0
        return int(os.pread(fd, 64, 0).split()[0])

    def stats(self) -> CgroupStats:
        if "memory.peak" in self._peak_fds:
            peak = self._peak("memory.peak")
        else:
            # < 5.19 has no memory.peak: the current usage is all we have.
            peak = self._current()
        if self._swap_applied:
            peak += self._peak("memory.swap.peak")
        return CgroupStats(cpu_time=self.cpu_time(), memory_peak=peak,
                           oom_kills=self._oom_kill_count() - self._oom_baseline)

    def pids(self) -> list[int]:
        return _files.read_pids(self._file("cgroup.procs"))

    # -- ending -----------------------------------------------------------

    def kill_all(self, timeout: float = KILL_TIMEOUT) -> None:
        """Every task of the box, bounded by `timeout` in all (a task that
        will not die is a CgroupError, never a hang)."""
        if not os.path.isdir(self.path) or not self.pids():
            return
        deadline = time.monotonic() + timeout
        if os.path.exists(self._file("cgroup.kill")):
            # One write kills every task, forks in flight included.
            _files.write_text(self._file("cgroup.kill"), 1)
        else:
            self._freeze_and_kill(min(FREEZE_TIMEOUT, timeout))
        if not _files.wait_until(lambda: not self.pids(),
                                 max(0.0, deadline - time.monotonic())):
            raise CgroupError(f"processes {self.pids()} of {self.name} survive the kill")

    def _freeze_and_kill(self, freeze_timeout: float) -> None:
        _files.write_text(self._file("cgroup.freeze"), 1)
        _files.wait_until(lambda: _files.keyed_value(
            _files.read_text(self._file("cgroup.events")), "frozen") == 1, freeze_timeout)
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _files.write_text(self._file("cgroup.freeze"), 0)

    def destroy(self) -> None:
        self.kill_all()
        self.close()
        try:
            _rmdir(_files.check_owned(self.path))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise CgroupError(f"cannot remove {self.path}: {e.strerror}") from None

    def close(self) -> None:
        fds = list(self._join_fds or ()) + list(self._peak_fds.values())
        if self._stat_fd is not None:
            fds.append(self._stat_fd)
        _files.close_fds(fds)
        self._join_fds, self._stat_fd, self._peak_fds = None, None, {}
