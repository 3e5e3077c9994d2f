"""The one cgroup interface every run goes through, and what it reports.

A `BoxCgroup` is the set of cgroups of one box (`rustbox/box-N` in every
controller it needs). The v1 and v2 implementations live in v1.py and v2.py;
`detect.open_box_cgroup()` is the only place that picks between them.

Life of a run, as running/runner.py drives it:
    cg.create()              idempotent, at init
    cg.apply(limits)         before each run
    cg.reset()               fresh counters for this run (keeps the cgroup,
                             unless memory an earlier run left charged to it
                             cannot be reclaimed: then a new one)
    fds = cg.join_fds()      opened O_WRONLY in the supervisor; the child
                             writes b"0" to each as its last step before exec
    cg.cpu_time()            polled by the supervisor (cheap: pread on an fd)
    cg.kill_all(timeout)     every task of the box, daemons included; a task
                             still there after `timeout` s is a CgroupError
                             (never a wait without end)
    cg.stats()               CgroupStats of this run (deltas since reset)
    cg.destroy()             at cleanup

Added by the adapters:
    cg.features()            {"swap_limit", "swap_peak", "memory_peak",
                             "memory_peak_reset", "cpu_quota", "kill",
                             "socket_memory"} -> bool: what this host's
                             version can do ("socket_memory": TCP/UDP
                             buffers count toward the memory limit and
                             memory_peak; "swap_peak": with --swap,
                             memory_peak counts swap).
                             A missing feature degrades (see v1.py/v2.py)
                             instead of failing, and check-env can say so.
    cg.pids()                pids of every task in the box right now.
    cg.close()               closes the cached fds (join fds included).
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import namedtuple

from ..limits import Limits


# cpu_time: seconds of CPU used by every task since reset();
# memory_peak: bytes, high-water mark since reset() (swap included when allowed,
#              kernel memory included: slab, pipe and socket buffers);
# oom_kills: OOM kills in the box since reset().
CgroupStats = namedtuple("CgroupStats", "cpu_time memory_peak oom_kills")


class BoxCgroup(ABC):
    version: str = "?"    # "v1" or "v2"
    # True when reset()/stats() need nothing remembered from apply() in this
    # process: the runner may then skip apply() when another process already
    # put the same limits in place.
    stateless_apply: bool = False
    # Part of what the runner remembers as "the limits in place": bumped when
    # apply() starts writing something new (2: the v1 socket memory limit), so
    # a box set up by an older rustbox gets its limits written again.
    apply_revision: int = 2

    def exists(self) -> bool:
        """Whether the box's cgroups are all there."""
        return all(os.path.isdir(path) for path in self.cgroup_dirs())

    @abstractmethod
    def cgroup_dirs(self) -> list[str]: ...

    @abstractmethod
    def create(self) -> None: ...

    @abstractmethod
    def apply(self, limits: Limits) -> None: ...

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def join_fds(self) -> list[int]: ...

    @abstractmethod
    def cpu_time(self) -> float: ...

    @abstractmethod
    def stats(self) -> CgroupStats: ...

    @abstractmethod
    def pids(self) -> list[int]: ...

    @abstractmethod
    def kill_all(self, timeout: float = 5.0) -> None: ...

    @abstractmethod
    def destroy(self) -> None: ...

    def features(self) -> dict[str, bool]:
        """What this adapter can do on this host; a False entry is "not available"."""
        return {}

    def prime_join(self) -> None:
        """Called by the supervisor right after the clone, while the child
        sets up: make the child's join cheap where the version needs it."""

    def close(self) -> None:
        """Close any fds kept open for speed (the cgroup itself stays)."""
