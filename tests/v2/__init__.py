"""Tests that need a real cgroup v2 hierarchy, as root.

On a cgroup v2 host they run with the rest of `pytest -q`. This project's
CI host is cgroup v1 (hybrid), so there they are skipped and `.ci/v2-vm`
runs them inside a VM that boots Debian's kernel on a pure cgroup2
hierarchy (README, "cgroup v2"). Each test makes its own cgroups inside
the VM and removes them; on a real host they touch only rustbox's own
sub-tree and `rustbox-test-*` cgroups they create at the root.
"""
from __future__ import annotations

import os

import pytest

from rustbox.cgroups import detect_version

CGROUP_ROOT = "/sys/fs/cgroup"


def on_v2_as_root() -> bool:
    return os.geteuid() == 0 and detect_version(CGROUP_ROOT) == "v2"


def swap_total() -> int:
    """Bytes of swap this machine has (the VM stage adds a zram device)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("SwapTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def skip_unless_v2() -> None:
    """Called at the top of each module: one skip line per module elsewhere."""
    if not on_v2_as_root():
        pytest.skip("needs root on a cgroup v2 host (.ci/v2-vm runs these in a cgroup v2 VM)",
                    allow_module_level=True)
