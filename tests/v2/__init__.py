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


needs_v2 = pytest.mark.skipif(
    not on_v2_as_root(),
    reason="needs root on a cgroup v2 host (.ci/v2-vm runs these in a cgroup v2 VM)")
