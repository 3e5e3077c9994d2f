"""Which cgroup version this host offers, and the one factory that picks an adapter.

`open_box_cgroup()` is the only place in rustbox that branches on the
version (and, on v2, finds the placement: placement.py). `host_report()` is
what `rustbox check-env` prints: each finding with what to do about it.
Detection reads /proc/self/mountinfo and /proc/self/cgroup and never writes
anything.
"""
from __future__ import annotations

import os

from ..errors import CgroupError, HostSetupError
from .base import BoxCgroup
from .v1 import CONTROLLERS as V1_CONTROLLERS, V1BoxCgroup
from .placement import Placement, find_placement, own_cgroup
from .v2 import NEEDED as V2_CONTROLLERS, V2BoxCgroup

MOUNTINFO = "/proc/self/mountinfo"
DEFAULT_ROOT = "/sys/fs/cgroup"


def _mounts() -> list[tuple[str, str, set[str], str]]:
    """(mount point, fstype, super options, root inside the file system) of
    every mount."""
    found = []
    with open(MOUNTINFO) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            point = fields[4].replace("\\040", " ")
            found.append((point, tail[0], set(tail[2].split(",")), fields[3].replace("\\040", " ")))
    return found


def _cgroup2_mount_root(root: str, mounts: list | None = None) -> str | None:
    """The mountinfo root of the cgroup2 mount at `root` ("/" unless it shows
    a sub-tree), or None when root is not a cgroup2 mount (the last one
    mounted there wins). `mounts`: _mounts() already read."""
    real = os.path.realpath(root)
    found = None
    for point, fstype, _, mount_root in _mounts() if mounts is None else mounts:
        if point == real:
            found = mount_root if fstype == "cgroup2" else None
    return found


def _v2_controllers(root: str) -> list[str] | None:
    """Controllers of the cgroup2 mount at `root`, or None when root is not one."""
    real = os.path.realpath(root)
    if _cgroup2_mount_root(root) is None:
        return None
    try:
        with open(os.path.join(real, "cgroup.controllers")) as f:
            return f.read().split()
    except OSError:
        return []


def _v1_mounts(root: str, mounts: list | None = None) -> dict[str, str]:
    """controller -> its v1 mount point, for controllers mounted at root/<name>
    (root/cpu may be a symlink to a joint cpu,cpuacct mount)."""
    points = {}
    mounts = _mounts() if mounts is None else mounts
    for controller in V1_CONTROLLERS:
        real = os.path.realpath(os.path.join(root, controller))
        for point, fstype, options, _ in mounts:
            if fstype == "cgroup" and point == real and controller in options:
                points[controller] = point
    return points


def detect_version(root: str = DEFAULT_ROOT, mounts: list | None = None) -> str:
    """'v2' when root itself is a cgroup2 mount (a unified host: whether the
    controllers reach rustbox's cgroup is the placement's question);
    otherwise 'v1' (a hybrid host's cgroup2 at root/unified does not count)."""
    return "v2" if _cgroup2_mount_root(root, mounts) is not None else "v1"


def v2_placement(root: str = DEFAULT_ROOT, mounts: list | None = None) -> Placement:
    """Where this process's v2 boxes go (reads only; see placement.py)."""
    mount_root = _cgroup2_mount_root(root, mounts)
    if mount_root is None:
        raise HostSetupError(f"cgroup v2 requested but {root} is not a cgroup2 mount "
                             "(boot with systemd.unified_cgroup_hierarchy=1, or use --cg v1)")
    return find_placement(os.path.realpath(root), mount_root, own_cgroup())


def open_box_cgroup(box_id: int, version: str = "auto", root: str = DEFAULT_ROOT) -> BoxCgroup:
    """The adapter for box `box_id` (not yet created: call `.create()`)."""
    if version not in ("auto", "v1", "v2"):
        raise HostSetupError(f"unknown cgroup version {version!r} (expected auto, v1 or v2)")
    mounts = _mounts()   # read once: detection is a handful of lookups in it
    if version == "auto":
        version = detect_version(root, mounts)
    if version == "v2":
        placement = v2_placement(root, mounts)
        placement.require(V2_CONTROLLERS)  # one line naming the file to fix
        return V2BoxCgroup(box_id, root, placement)
    mounted = _v1_mounts(root, mounts)
    missing = [c for c in V1_CONTROLLERS if c not in mounted]
    if missing:
        raise HostSetupError(
            f"cgroup v1 controllers not mounted under {root}: {', '.join(missing)} "
            f"(e.g. mount -t cgroup -o {missing[0]} cgroup {root}/{missing[0]}); "
            "run `rustbox check-env` for details")
    return V1BoxCgroup(box_id, root)


def _item(item: str, ok: bool, detail: str) -> dict:
    return {"item": item, "ok": ok, "detail": detail}


def host_report(root: str = DEFAULT_ROOT) -> list[dict]:
    """Every finding about this host's cgroups, each {item, ok, detail}."""
    version = detect_version(root)
    report = []
    if version == "v2":
        report.append(_item("cgroup version", True, f"v2 (unified) at {root}"))
        report.extend(_v2_placement_items(root))
        report.extend(_v2_kernel_items())
    else:
        v1 = _v1_mounts(root)
        unified = _v2_controllers(os.path.join(root, "unified"))
        hybrid = f"; hybrid: cgroup2 at {root}/unified has [{' '.join(unified)}]" if unified is not None else ""
        report.append(_item("cgroup version", bool(v1), f"v1 at {root}{hybrid}" if v1 else
                            f"no usable cgroup v1 or v2 hierarchy at {root}: mount cgroup2 there "
                            "(systemd.unified_cgroup_hierarchy=1) or the v1 controllers"))
        for controller in V1_CONTROLLERS:
            if controller in v1:
                report.append(_item(f"controller {controller}", True, f"mounted at {v1[controller]}"))
            else:
                report.append(_item(f"controller {controller}", False,
                                    f"not mounted: mount -t cgroup -o {controller} cgroup "
                                    f"{root}/{controller} (or enable CONFIG_CGROUP_* in the kernel)"))
        if "memory" in v1:
            memsw = os.path.exists(os.path.join(v1["memory"], "memory.memsw.limit_in_bytes"))
            report.append(_item("swap accounting", memsw,
                                "on (memory.memsw.* present): --swap is enforced" if memsw else
                                "memory.memsw.* missing: boot with swapaccount=1; until then "
                                "--swap is refused and swap use is not bounded"))
            tcp = os.path.exists(os.path.join(v1["memory"], "memory.kmem.tcp.limit_in_bytes"))
            report.append(_item("socket memory", tcp,
                                "memory.kmem.tcp.* present: TCP/UDP buffers count toward --mem"
                                if tcp else "memory.kmem.tcp.* missing (kernel without "
                                "CONFIG_MEMCG_KMEM?): socket buffers a box pins are not limited"))
            hierarchy = _read(os.path.join(v1["memory"], "memory.use_hierarchy")) == "1"
            report.append(_item("memory.use_hierarchy", hierarchy,
                                "1: box limits cover every task below them" if hierarchy else
                                f"0 at {v1['memory']}: write 1 there before creating boxes"))
    from ..privileges import WHY, is_root
    if not is_root():
        report.append(_item("privileges", False, f"not root: rustbox needs root: {WHY}; "
                            "run rustbox (and this check) as root"))
    else:
        writable = os.access(root, os.W_OK)
        report.append(_item("privileges", writable, "running as root" if writable else
                            f"{root} is not writable even for root (a read-only cgroupfs?): "
                            "mount it read-write"))
    return report


def _v2_placement_items(root: str) -> list[dict]:
    """Which of the three placements this process is in, and whether the
    controllers reach it (naming the file to fix when not)."""
    try:
        placement = v2_placement(root)
        absent = placement.missing(V2_CONTROLLERS)
    except (HostSetupError, CgroupError) as e:
        return [_item("cgroup placement", False, str(e))]
    items = [_item("cgroup placement", True, f"{placement.kind}: {placement.describe()}")]
    controllers = os.path.join(placement.base, "cgroup.controllers")
    for controller in V2_CONTROLLERS:
        if controller in absent:
            try:
                placement.require([controller])
            except HostSetupError as e:
                items.append(_item(f"controller {controller}", False, str(e)))
        else:
            items.append(_item(f"controller {controller}", True, f"available in {controllers}"))
    if os.path.isdir(placement.parent):  # a non-root cgroup shows the memory files
        swap_peak = os.path.exists(os.path.join(placement.parent, "memory.swap.peak"))
        items.append({**_item("memory.swap.peak", swap_peak,
                              "present: with --swap, memory_peak counts swap too" if swap_peak else
                              "this kernel has no memory.swap.peak: with --swap, memory_peak "
                              "counts memory only (swap use is still limited)"), "optional": True})
    return items


def _note(item: str, ok: bool, detail: str) -> dict:
    """A finding that costs speed only: never a failure (shown as a note)."""
    return {"item": item, "ok": True, "detail": detail, **({} if ok else {"note": True})}


def _v2_kernel_items() -> list[dict]:
    major, minor = _kernel()
    items = [
        _note("memory.peak reset", (major, minor) >= (6, 12),
              "per-run peak via memory.peak reset (kernel >= 6.12)" if (major, minor) >= (6, 12) else
              f"kernel {major}.{minor} < 6.12 cannot reset memory.peak: each run re-creates "
              "its box cgroup instead (same figures, a little slower)"),
        _note("cgroup.kill", (major, minor) >= (5, 14),
              "present (kernel >= 5.14)" if (major, minor) >= (5, 14) else
              "kernel < 5.14: kill_all freezes (cgroup.freeze) and SIGKILLs each task instead"),
    ]
    swap = _read("/proc/cmdline")
    off = "swapaccount=0" in swap.split()
    items.append(_item("swap accounting", not off,
                       "memory.swap.max available unless the kernel lacks CONFIG_MEMCG_SWAP" if not off
                       else "swapaccount=0 on the kernel command line: remove it; --swap is refused"))
    return items


def _kernel() -> tuple[int, int]:
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""
