"""The cgroup adapter suite against a real cgroup v2 hierarchy.

The adapter comes from the factory, so it sits wherever this process sits
(the VM: the root of the hierarchy; test_placements.py runs this same file
from a delegated cgroup and from a private cgroup namespace). Uses box 902.
"""
from __future__ import annotations

import os
import time

import pytest

from rustbox.cgroups import open_box_cgroup
from rustbox.limits import Limits
from tests.cgroup_suite import *  # noqa: F401,F403  (the shared tests)
from tests.cgroup_suite import CHARGE_BATCH, MiB, Outcome, v2_limit_files
from tests.real_cgroup import RealHarness, bin_dir, tmpfs  # noqa: F401  (fixtures)
from tests.v2 import skip_unless_v2, swap_total

skip_unless_v2()
BOX_ID = 902


class V2RealHarness(RealHarness):
    # Exec and exit of a program are charged too. Under the CI VM's software
    # emulation they cost ~0.1 s of CPU (HOST-NOTES), so the bound is loose
    # there; it still catches a wrong unit (usec read as nsec is 1000x).
    cpu_slack = 0.5

    def __init__(self, bin_dir, tmpfs):
        cg = open_box_cgroup(BOX_ID, "v2")
        cg.create()
        super().__init__(bin_dir, cg, tmpfs)

    def limit_files(self, limits: Limits) -> dict[str, str]:
        return v2_limit_files(limits)

    def read(self, name: str) -> str:
        with open(os.path.join(self.cg.path, name)) as f:
            return f.read().strip()

    def removed(self) -> bool:
        return not os.path.exists(self.cg.path)


@pytest.fixture
def harness(bin_dir, tmpfs):
    h = V2RealHarness(bin_dir, tmpfs)
    yield h
    h.close()
    assert h.removed()


# -- v2 only, on the real kernel --------------------------------------------

def test_the_box_sits_where_the_placement_says(harness):
    placement = harness.cg.placement
    assert harness.cg.path == os.path.join(placement.base, "rustbox", f"box-{BOX_ID}")
    with open(os.path.join(placement.parent, "cgroup.subtree_control")) as f:
        assert set(f.read().split()) >= {"memory", "cpu", "pids"}
    with open(os.path.join(placement.base, "cgroup.procs")) as f:
        # A non-root cgroup that enables controllers holds no process (the
        # kernel's rule); the root of the hierarchy is exempt.
        assert placement.kind == "root" or f.read().split() == []


def test_cgroup_kill_stops_a_fork_bomb(harness):
    assert harness.cg.features()["kill"]
    harness.cg.apply(Limits(processes=64))
    harness.reset()
    harness.launch("forkbomb")
    deadline = time.monotonic() + 60
    while len(harness.cg.pids()) < 32 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(harness.cg.pids()) >= 32
    harness.cg.kill_all()
    assert harness.cg.pids() == []
    assert harness.read("pids.current") == "0"


def test_memory_peak_reset_matches_the_kernel(harness):
    # Writable memory.peak came in 6.12; before it the adapter re-creates the
    # box, and both ways a run's peak is its own.
    harness.cg.apply(Limits(mem=64 * MiB, processes=1))
    harness.reset()
    assert harness.touch(24) == Outcome(0, None)
    assert harness.cg.stats().memory_peak >= 24 * MiB
    harness.reset()
    assert harness.cg.stats().memory_peak < MiB
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    assert harness.cg.features()["memory_peak_reset"] is (release >= (6, 12))


@pytest.mark.skipif(swap_total() < 128 * MiB, reason="no swap device (.ci/v2-vm adds zram)")
def test_swap_is_allowed_only_up_to_the_swap_limit(harness):
    # No swap allowed: touching twice the limit is an OOM kill though swap exists.
    harness.cg.apply(Limits(mem=32 * MiB, processes=1))
    harness.reset()
    assert harness.touch(64).signal == 9
    assert harness.cg.stats().oom_kills == 1
    # --swap 64M: the same program pages out and finishes.
    harness.cg.apply(Limits(mem=32 * MiB, swap=64 * MiB, processes=1))
    harness.reset()
    assert harness.touch(64) == Outcome(0, None)
    stats = harness.cg.stats()
    assert stats.oom_kills == 0
    if harness.cg.features()["swap_peak"]:  # the peak counts swap
        assert 64 * MiB <= stats.memory_peak <= 32 * MiB + 64 * MiB + CHARGE_BATCH
    else:  # a kernel without memory.swap.peak: memory's peak alone, at the limit
        assert 24 * MiB <= stats.memory_peak <= 32 * MiB + CHARGE_BATCH
