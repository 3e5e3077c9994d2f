"""What a run must leave the host as it found: processes of box uids, box
cgroups, the mount table. Shared by the security suite's guard
(tests/security/conftest.py) and the soak (benchmarks/soak.py)."""
from __future__ import annotations

import glob
from pathlib import Path


def processes_of(uids) -> list[str]:
    """Processes whose real or effective uid is in `uids`, one line each."""
    found = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            text = Path(status).read_text()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        real, effective = (int(v) for v in fields.get("Uid", "0 0").split()[:2])
        if real in uids or effective in uids:
            found.append(f"pid {status.split('/')[2]} uid {real} {fields.get('Name', '').strip()}"
                         f" ({fields.get('State', '').strip()})")
    return found


def cgroups_of(box_ids) -> list[str]:
    """cgroups of the boxes `box_ids`, in every hierarchy."""
    found = []
    for box_id in box_ids:
        found += glob.glob(f"/sys/fs/cgroup/*/rustbox/box-{box_id}")
        found += glob.glob(f"/sys/fs/cgroup/rustbox/box-{box_id}")
    return found


def mount_table() -> set[tuple[str, str, str]]:
    """(mount point, type, source) of every mount the host sees."""
    mounts = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        fstype, source = right.split()[:2]
        mounts.add((left.split()[4], fstype, source))
    return mounts
