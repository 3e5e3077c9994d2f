"""Last of the suite (pytest runs files in name order): after every attack,
the host holds no trace of the boxes.

Acceptance 4 of the security issue: no process of a box uid, no cgroup of
a box, no file owned by a box uid anywhere on the host's file systems.
(The per-case guard in conftest.py already checks processes, cgroups,
mounts and the host name after each case.)
"""
from __future__ import annotations

import subprocess

from .conftest import SUITE_BOXES, box_uid, box_uid_processes, suite_cgroups


def test_no_process_or_cgroup_of_a_box_remains():
    assert not box_uid_processes()
    assert not suite_cgroups()


def test_no_file_owned_by_a_box_uid_exists_on_the_host():
    low, high = box_uid(SUITE_BOXES[0]), box_uid(SUITE_BOXES[-1])
    # Every box was cleaned up, so even the box root holds none of theirs.
    proc = subprocess.run(
        ["find", "/", "/tmp", "/var/tmp", "/dev/shm", "/run", "-xdev",
         "-uid", f"+{low - 1}", "-uid", f"-{high + 1}", "-print"],
        capture_output=True, text=True, timeout=600)
    leftovers = [line for line in proc.stdout.splitlines() if line]
    assert not leftovers, leftovers[:20]
