"""The cgroup adapter suite against this host's real cgroup v1 hierarchy.

Needs root and the v1 controllers (memory, cpu, cpuacct, pids, freezer).
Uses only `rustbox/box-900`..`box-909`; every test removes what it made.
Programs run in the box through tests/real_cgroup.py (as rustbox/running/ runs them).
"""
from __future__ import annotations

import os
import time

import pytest

from rustbox.cgroups import open_box_cgroup
from rustbox.cgroups.v1 import V1BoxCgroup
from rustbox.limits import Limits
from tests.cgroup_suite import *  # noqa: F401,F403  (the shared tests)
from tests.cgroup_suite import MiB, Outcome
from tests.real_cgroup import Launch, RealHarness, bin_dir, tmpfs  # noqa: F401  (fixtures)

ROOT = "/sys/fs/cgroup"
BOX_ID = 900
CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")
UNLIMITED = (2**63 - 1) // os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PAGE_SIZE")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.isdir(f"{ROOT}/memory") or not os.path.isdir(f"{ROOT}/freezer"),
    reason="needs root and a cgroup v1 hierarchy")

class V1Harness(RealHarness):
    # Exec and exit of the program are charged too: ~1-5 ms from a forked
    # pytest (HOST-NOTES), measured 1.7-2.2 ms here; 10 ms leaves room for a loaded host.
    cpu_slack = 0.01

    def __init__(self, bin_dir, tmpfs=None, box_id: int = BOX_ID):
        cg = V1BoxCgroup(box_id, ROOT)
        cg.create()
        super().__init__(bin_dir, cg, tmpfs)

    def limit_files(self, limits: Limits) -> dict[str, str]:
        mem = UNLIMITED if limits.mem is None else limits.mem
        memsw = UNLIMITED if limits.mem is None else limits.mem + limits.swap
        return {
            "memory/memory.limit_in_bytes": str(mem),
            "memory/memory.memsw.limit_in_bytes": str(memsw),
            "memory/memory.kmem.tcp.limit_in_bytes": str(mem),
            "cpu/cpu.shares": str(limits.cpu_shares or 1024),
            "cpu/cpu.cfs_period_us": "100000",
            "cpu/cpu.cfs_quota_us": "-1" if limits.cpus is None else str(int(limits.cpus * 100000)),
            "pids/pids.max": "max" if limits.processes is None else str(limits.processes),
        }

    def read(self, name: str) -> str:
        controller, file = name.split("/")
        with open(os.path.join(self.cg.paths[controller], file)) as f:
            return f.read().strip()

    def removed(self) -> bool:
        return not any(os.path.exists(p) for p in self.cg.paths.values())


@pytest.fixture
def harness(bin_dir, tmpfs):
    h = V1Harness(bin_dir, tmpfs)
    yield h
    h.close()
    assert h.removed()


# -- v1 only --------------------------------------------------------------

def test_kill_all_stops_a_fork_bomb(harness):
    harness.cg.apply(Limits(processes=200))
    harness.reset()
    harness.launch("forkbomb")
    time.sleep(0.2)
    assert len(harness.cg.pids()) > 50
    started = time.monotonic()
    harness.cg.kill_all()
    took = time.monotonic() - started
    assert harness.cg.pids() == []
    # Frozen, nothing forks while we kill: one pass, ~25 ms measured for 200
    # tasks here (a failed freeze costs its 1 s timeout).
    assert took < 0.5
    assert harness.read("freezer/freezer.state") == "THAWED"


def test_memory_peak_counts_swap_when_swap_is_allowed(harness):
    harness.cg.apply(Limits(mem=64 * MiB, swap=64 * MiB, processes=1))
    harness.reset()
    assert harness.touch(8) == Outcome(0, None)
    # With no swap device memsw equals memory: the figure comes from memsw
    # (nonzero, same size), which is what --swap reports.
    assert 8 * MiB <= harness.cg.stats().memory_peak <= 10 * MiB


def test_reset_empties_page_cache_of_an_earlier_run(harness, tmp_path):
    harness.cg.apply(Limits(processes=1))
    harness.reset()
    data = tmp_path / "data"
    data.write_bytes(os.urandom(16 * MiB))
    fd = os.open(data, os.O_RDONLY)
    os.fsync(fd)  # clean pages can be dropped, so the box's read charges them anew
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    reader = Launch(harness.cg, ["/bin/cat", str(data)])  # page cache charged to the box
    assert len(reader.output()) == 16 * MiB
    assert reader.finish() == Outcome(0, None)
    assert int(harness.read("memory/memory.usage_in_bytes")) >= 8 * MiB
    harness.reset()
    assert harness.cg.stats().memory_peak < 1 * MiB


def test_factory_picks_v1_on_this_host():
    cg = open_box_cgroup(BOX_ID, "auto", ROOT)
    assert isinstance(cg, V1BoxCgroup) and cg.version == "v1"
    cg.close()


def test_detection_and_report_on_this_hybrid_host():
    from rustbox.cgroups import detect_version, host_report
    assert detect_version(ROOT) == "v1"  # the cgroup2 at unified/ has no memory/cpu/pids
    report = {item["item"]: item for item in host_report(ROOT)}
    assert all(set(item) == {"item", "ok", "detail"} for item in report.values())
    for controller in CONTROLLERS:
        assert report[f"controller {controller}"]["ok"], report[f"controller {controller}"]
    memsw = os.path.exists(f"{ROOT}/memory/memory.memsw.limit_in_bytes")
    assert report["swap accounting"]["ok"] is memsw
    assert "unified" in report["cgroup version"]["detail"]
