"""`rustbox check-env`: what this host gives the sandbox, and what to fix.

Each check is {"item", "ok", "detail", "optional"?, "note"?}: "optional"
marks a missing extra (shown as warn), "note" something that works but
slower (shown as note); neither fails check-env. The cgroup checks come
from cgroups.host_report(), the rest are about privileges, namespaces,
seccomp and the box range.
"""
from __future__ import annotations

import os
import pwd

from .box import box_root, first_uid
from .cgroups import host_report
from .privileges import is_root

_NAMESPACES = ("mnt", "pid", "ipc", "uts", "net")


def host_checks() -> list[dict]:
    checks = list(host_report())  # privileges, cgroup version and controllers
    checks.append(_namespaces())
    checks.append(_seccomp())
    checks.append(_c_child())
    checks.append(_kill_reports())
    checks.append(_logged_actions())
    checks.append(_uid_range())
    checks.append(_box_root())
    return checks


def timing_check(box_id: int | None) -> dict:
    """How steady CPU time is (rustbox calibrate in box `box_id`); None:
    not measured (it takes seconds and a box), only pointed to. Timing noise
    never fails check-env: the sandbox works, its verdicts near the limit
    are what suffer (noisy: a note; unusable: a warning)."""
    item = "timing"
    if box_id is None:
        return {"item": item, "ok": True, "note": True,
                "detail": "not measured: `rustbox calibrate` or `check-env --calibrate` "
                          "(a few seconds, as root)"}
    if not is_root():
        return {"item": item, "ok": False, "optional": True,
                "detail": "not measured: calibrating runs a box, run as root"}
    from .api import Box
    from .calibrate import UNUSABLE, STEADY, calibrate
    from .errors import RustboxError
    try:
        with Box(box_id) as box:
            report = calibrate(box)
    except RustboxError as exc:
        return {"item": item, "ok": False, "optional": True,
                "detail": f"not measured in box {box_id}: {exc}"}
    figures = ", ".join(f"{name} spread {f['spread']:.0%} (median {f['median']:.3f} s)"
                        for name, f in report["workloads"].items())
    steal = "" if report["steal"] is None else f", steal {report['steal']:.1%}"
    detail = f"{report['class']}: {figures}{steal}; {report['meaning']}"
    if report["class"] == STEADY:
        return {"item": item, "ok": True, "detail": detail}
    if report["class"] == UNUSABLE:
        return {"item": item, "ok": False, "optional": True, "detail": detail}
    return {"item": item, "ok": True, "note": True, "detail": detail}


def _namespaces() -> dict:
    missing = [n for n in _NAMESPACES if not os.path.exists(f"/proc/self/ns/{n}")]
    if missing:
        return {"item": "namespaces", "ok": False,
                "detail": f"kernel lacks {', '.join(missing)} namespaces: enable CONFIG_*_NS"}
    return {"item": "namespaces", "ok": True, "detail": "mount, pid, ipc, uts, net available"}


def _seccomp() -> dict:
    try:
        with open("/proc/self/status") as f:
            has_mode = any(line.startswith("Seccomp:") for line in f)
        import pyseccomp  # noqa: F401  (loads the system libseccomp)
    except OSError as exc:
        return {"item": "seccomp", "ok": False,
                "detail": f"libseccomp not loadable ({exc}): apt install libseccomp2"}
    except ImportError:
        return {"item": "seccomp", "ok": False,
                "detail": "python binding missing: pip install pyseccomp"}
    if not has_mode:
        return {"item": "seccomp", "ok": False, "detail": "kernel built without CONFIG_SECCOMP"}
    return {"item": "seccomp", "ok": True, "detail": "libseccomp loaded, kernel filter support on"}


def _c_child() -> dict:
    from .running.child import C_CHILD
    if C_CHILD:
        return {"item": "C child", "ok": True,
                "detail": "built: the child's steps run in C, with no copy of the interpreter"}
    # Runs stay right without it (the same steps in Python), only slower.
    return {"item": "C child", "ok": True, "note": True,
            "detail": "rustbox/running/_child.c not built: the child's steps run in Python "
                      "(slower); `pip install .` builds it (needs gcc and python3-dev)"}


def _kill_reports() -> dict:
    try:
        from .seccomp import kill_reporting
        ok, detail = kill_reporting()
    except (ImportError, OSError) as exc:
        ok, detail = False, f"cannot check ({exc})"
    # Verdicts stay right without it; only the SIGSYS message loses the name.
    return {"item": "seccomp kill names", "ok": ok, "detail": detail, "optional": True}


def _logged_actions() -> dict:
    """Under `default` and `strict` a program cannot install a seccomp filter
    of its own; under `--seccomp off` it can, and a SECCOMP_RET_LOG filter
    writes an audit record per system call unless the host stops logging
    that action (rustbox itself needs only kill_process logged)."""
    try:
        with open("/proc/sys/kernel/seccomp/actions_logged") as f:
            logged = f.read().split()
    except OSError:
        return {"item": "seccomp log flood", "ok": True, "optional": True,
                "detail": "no actions_logged: nothing to check"}
    if "log" not in logged:
        return {"item": "seccomp log flood", "ok": True, "optional": True,
                "detail": "'log' is not in actions_logged: a program's own logging filter "
                          "is silent, even under --seccomp off"}
    kept = " ".join(action for action in logged if action != "log")
    return {"item": "seccomp log flood", "ok": False, "optional": True,
            "detail": "under --seccomp off a program's own SECCOMP_RET_LOG filter can write an "
                      "audit record per system call (default and strict refuse such filters); "
                      f"to stop it host-wide: echo {kept} > /proc/sys/kernel/seccomp/actions_logged"}


def _uid_range() -> dict:
    start = first_uid()
    used = []
    for entry in pwd.getpwall():
        if start <= entry.pw_uid < start + 1000:
            used.append(f"{entry.pw_name}={entry.pw_uid}")
    if used:
        return {"item": "box uids", "ok": False,
                "detail": f"{start}-{start + 999} overlaps existing users ({', '.join(used[:3])}): "
                          "set RUSTBOX_FIRST_UID to a free range"}
    return {"item": "box uids", "ok": True, "detail": f"{start}-{start + 999} unused by any user"}


def _box_root() -> dict:
    """Whether root can use the box root: judged as root would be, whoever
    asks (a user's own write access says nothing: rustbox runs as root), and
    without creating anything."""
    root = box_root()
    probe = root
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not os.path.isdir(probe):
        problem = f"{probe} is not a directory"
    elif _read_only(probe) or (is_root() and not os.access(probe, os.W_OK)):
        problem = f"{probe} is not writable"
    else:
        return {"item": "box root", "ok": True,
                "detail": f"{root} ({'exists' if root == probe else 'will be created'})"}
    return {"item": "box root", "ok": False,
            "detail": f"{root}: {problem}: set RUSTBOX_ROOT to a directory root can write"}


def _read_only(path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
