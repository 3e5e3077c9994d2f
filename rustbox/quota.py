"""`--quota BLOCKS,INODES`: what /box may hold, and the storage that enforces it.

isolate sets file system quotas on the box's uid, which needs a file system
mounted with quota support; the file system under /var/lib/rustbox
usually has none (here: ext4 on / without usrquota). So a box with a quota
keeps /box on a tmpfs of its own, mounted over `<home>/box` in the host's
mount namespace (the host, the judge and the next `rustbox run` see the
same files) with `size=BLOCKSk,nr_inodes=INODES+1` (the +1 is the tmpfs's
own root). Past either limit a write fails with ENOSPC: the program's
error, never the host's.

Who pays for its pages: a tmpfs is memory, charged to whoever writes it.
What the program writes counts toward its --mem and memory_peak while it
runs (as its /tmp does); files rustbox or the judge copy in are charged to
them; files left for later runs are handed off by the box's memory cgroup
at the next reset (cgroups/), so they never count in a later run.

A box without a quota keeps /box on the host's disk, as before. A run
that changes the kind of storage (quota <-> none) moves the box's files
over, link-safely, before anything else happens; one that only changes the
size remounts (its files must fit the new limits).
"""
from __future__ import annotations

import os
import stat

from . import namespaces as ns
from .box import BoxDir, _DIR_FLAGS, _empty_tree
from .errors import UsageError

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_MOUNT_FLAGS = ns.MS_NOSUID | ns.MS_NODEV
# A moved tree deeper than this is refused rather than copied (a program
# can make one 20 000 levels deep).
MAX_MOVE_DEPTH = 256


def current_quota(box: BoxDir) -> tuple[int, int] | None:
    """(blocks, inodes) of the tmpfs at /box, or None when /box is the plain directory."""
    if not os.path.ismount(box.path):
        return None
    figures = os.statvfs(box.path)
    return figures.f_blocks * figures.f_frsize // 1024, figures.f_files - 1


def _as_mounted(quota: tuple[int, int]) -> tuple[int, int]:
    """The quota as a tmpfs reports it back (sizes round up to whole pages)."""
    blocks, inodes = quota
    return -(-blocks // _PAGE_KIB) * _PAGE_KIB, inodes


def _options(box: BoxDir, quota: tuple[int, int]) -> str:
    blocks, inodes = quota
    return f"size={blocks}k,nr_inodes={inodes + 1},mode=0700,uid={box.uid},gid={box.gid}"


def needs_new_storage(box: BoxDir, quota: tuple[int, int] | None) -> bool:
    """True when `quota` means mounting or unmounting (not just resizing):
    the caller must then be in the host's mount namespace."""
    return (quota is None) != (current_quota(box) is None)


def set_quota(box: BoxDir, quota: tuple[int, int] | None) -> None:
    """Give /box the storage `quota` asks for, keeping its files."""
    current = current_quota(box)
    if current == (None if quota is None else _as_mounted(quota)):
        return
    if quota is None:
        _to_disk(box)
    elif current is None:
        _to_tmpfs(box, quota)
    else:
        try:
            ns.mount(None, box.path, None, ns.MS_REMOUNT | _MOUNT_FLAGS, _options(box, quota))
        except OSError:
            raise _too_small(box, quota) from None


def _too_small(box: BoxDir, quota: tuple[int, int]) -> UsageError:
    return UsageError(f"box {box.box_id} holds more than --quota {quota[0]},{quota[1]} allows; "
                      f"empty it (rustbox init --box-id {box.box_id}) or give a larger quota")


def _to_tmpfs(box: BoxDir, quota: tuple[int, int]) -> None:
    # Filled on a mount of its own first, so a tree that does not fit
    # leaves the box as it was.
    stage = box.home / "quota-stage"
    os.makedirs(stage, mode=0o700, exist_ok=True)
    ns.mount("rustbox-box", stage, "tmpfs", _MOUNT_FLAGS, _options(box, quota))
    try:
        disk = os.open(box.path, _DIR_FLAGS)
        try:
            target = os.open(stage, _DIR_FLAGS)
            try:
                _move_tree(disk, target, box, quota)
            finally:
                os.close(target)
            # Emptied before the tmpfs covers it: _empty_tree climbs back by
            # "..", which from a subdirectory of a covered /box would land on
            # the tmpfs (a mount point is followed) and rmdir its fresh copies.
            _empty_tree(disk)
            ns.mount(stage, box.path, None, ns.MS_BIND)
        finally:
            os.close(disk)
    finally:
        ns.umount(stage, ns.MNT_DETACH)
        os.rmdir(stage)


def _to_disk(box: BoxDir) -> None:
    tmpfs = os.open(box.path, _DIR_FLAGS)
    try:
        ns.umount(box.path, ns.MNT_DETACH)   # the open fd keeps its files readable
        disk = os.open(box.path, _DIR_FLAGS)
        try:
            _empty_tree(disk)
            _move_tree(tmpfs, disk, box, None)
        finally:
            os.close(disk)
    finally:
        os.close(tmpfs)


def _move_tree(src: int, dst: int, box: BoxDir, quota) -> None:
    """Copy the tree below directory fd src into dst: directories, regular
    files and symbolic links (as links), with owner, mode (no set-id bits)
    and times; FIFOs, sockets and devices are left out. The tree is the
    program's: every open is relative to a directory fd with O_NOFOLLOW,
    and the walk is a loop that goes back up by ".." on both sides (no box
    process runs: we hold the box lock and its cgroup is empty)."""
    src, dst = os.dup(src), os.dup(dst)
    try:
        pending = [_copy_entries(src, dst, box, quota)]
        while True:
            if pending[-1]:
                name = pending[-1].pop()
                if len(pending) >= MAX_MOVE_DEPTH:
                    raise UsageError(f"box {box.box_id} holds directories nested deeper than "
                                     f"{MAX_MOVE_DEPTH} levels: they cannot move to a new "
                                     f"--quota; empty it (rustbox init --box-id {box.box_id})")
                src = _enter(src, name)
                dst = _enter(dst, name)
                pending.append(_copy_entries(src, dst, box, quota))
                continue
            pending.pop()
            _copy_attributes(src, dst)
            if not pending:
                return
            src, dst = _enter(src, ".."), _enter(dst, "..")
    except OSError as exc:
        if quota is not None and exc.errno in (28, 122):   # ENOSPC, EDQUOT
            raise _too_small(box, quota) from None
        raise
    finally:
        os.close(src)
        os.close(dst)


def _enter(fd: int, name: str) -> int:
    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    os.close(fd)
    return child


def _copy_entries(src: int, dst: int, box: BoxDir, quota) -> list[str]:
    """Copy the files and links of directory src into dst; make (empty)
    copies of its subdirectories and return their names."""
    subdirs = []
    with os.scandir(src) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            name = entry.name
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(name, 0o700, dir_fd=dst)
                subdirs.append(name)
            elif stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
                os.chown(name, info.st_uid, info.st_gid, dir_fd=dst, follow_symlinks=False)
            elif stat.S_ISREG(info.st_mode):
                _copy_file(src, dst, name, info)
    return subdirs


def _copy_file(src: int, dst: int, name: str, info: os.stat_result) -> None:
    fd_in = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
    try:
        fd_out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=dst)
        try:
            while os.sendfile(fd_out, fd_in, None, 1 << 24):
                pass
            os.fchown(fd_out, info.st_uid, info.st_gid)
            os.fchmod(fd_out, stat.S_IMODE(info.st_mode) & 0o777)
            os.utime(fd_out, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def _copy_attributes(src: int, dst: int) -> None:
    info = os.fstat(src)
    os.fchown(dst, info.st_uid, info.st_gid)
    os.fchmod(dst, stat.S_IMODE(info.st_mode) & 0o1777)
    os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
