"""Small file helpers shared by the v1 and v2 adapters.

Owns the one safety rule of this package: every path we write to, create,
remove, or whose processes we kill must lie inside a `rustbox/box-N`
cgroup (or be the `rustbox` parent's own control file, or the v2 leaf
`rustbox-supervisor` that rustbox's own processes move into). The helpers turn
OS errors into `CgroupError` naming the file, so a sysadmin reading the
verdict's message knows which knob failed.
"""
from __future__ import annotations

import os
import re
import time

from ..errors import CgroupError

PARENT_NAME = "rustbox"
_OWNED = re.compile(r"/rustbox(/box-\d+|-supervisor)?(/[^/]+)?$")


def box_name(box_id: int) -> str:
    return f"box-{int(box_id)}"


def check_owned(path: str) -> str:
    """Refuse (loudly) any path outside our own sub-tree: a bug here must
    never write to or kill inside someone else's cgroup."""
    if not _OWNED.search(path.rstrip("/")):
        raise CgroupError(f"refusing to touch {path}: not under {PARENT_NAME}/box-N")
    return path


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from None


def write_text(path: str, value: str | int, owned: bool = True) -> None:
    """One write() of the whole value, as cgroupfs expects. O_TRUNC is
    accepted by cgroupfs and keeps a plain file (simulated tree) exact.
    owned=False is for the one file outside our sub-tree we may write: the
    cgroup.subtree_control of the v2 cgroup holding `rustbox` (the root, or
    the delegated one), and only to add a missing controller."""
    if owned:
        check_owned(path)
    data = str(value).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"cannot open {path}: {e.strerror}", e.errno) from None
    try:
        os.write(fd, data)
    except OSError as e:
        raise CgroupError(f"cannot write {data.decode()!r} to {path}: {e.strerror}",
                          e.errno) from None
    finally:
        os.close(fd)


def read_pids(path: str) -> list[int]:
    try:
        with open(path, "rb") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from None


def keyed_value(text: str, key: str) -> int:
    """The integer after `key` in a "key value" per line file (cpu.stat,
    memory.events, memory.oom_control); 0 when the key is absent."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return 0


def open_write_fd(path: str) -> int:
    check_owned(os.path.dirname(path))
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"cannot open {path} for joining: {e.strerror}") from None


def open_read_fd(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"cannot open {path}: {e.strerror}") from None


def wait_until(predicate, timeout: float, step: float = 0.001) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass; backs off to
    10 ms so a slow kernel is not spun on."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
        step = min(step * 2, 0.01)


def close_fds(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
