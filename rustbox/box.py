"""A numbered box on the host: its paths, its uid, its lock, init and cleanup.

Layout under the root ($RUSTBOX_ROOT or /var/lib/rustbox):

    <root>/<N>/        0755 root    one box
    <root>/<N>/box     0700 uid     the program's /box (writable by it alone)
    <root>/<N>/root    0755 root    empty mount point for the run's new root
    <root>/<N>/lock    0600 root    flock held by the one run using the box

The cgroups are `rustbox/box-N` under each controller (cgroups/).
"""
from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path

from .errors import BoxBusyError, UsageError

DEFAULT_ROOT = "/var/lib/rustbox"
DEFAULT_FIRST_UID = 61000
MAX_BOX_ID = 999


def box_root() -> Path:
    return Path(os.environ.get("RUSTBOX_ROOT") or DEFAULT_ROOT)


def first_uid() -> int:
    raw = os.environ.get("RUSTBOX_FIRST_UID")
    if not raw:
        return DEFAULT_FIRST_UID
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"invalid RUSTBOX_FIRST_UID: {raw!r} (expected a number)") from None
    if value <= 0:
        raise UsageError(f"invalid RUSTBOX_FIRST_UID: {raw!r} (must be positive)")
    return value


def check_box_id(box_id) -> int:
    try:
        value = int(box_id)
    except (TypeError, ValueError):
        raise UsageError(f"invalid box id: {box_id!r} (expected 0-{MAX_BOX_ID})") from None
    if not 0 <= value <= MAX_BOX_ID:
        raise UsageError(f"invalid box id: {box_id!r} (expected 0-{MAX_BOX_ID})")
    return value


class BoxLock:
    """An flock on the box's lock file: one run per box; a dead holder frees it."""

    def __init__(self, path: Path, box_id: int):
        self.path, self.box_id, self.fd = path, box_id, None

    def acquire(self, wait: float = 0.0) -> "BoxLock":
        """Take the lock; wait up to `wait` seconds (a dying holder's copies
        of the fd may take a moment to close) before failing."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise BoxBusyError(f"box {self.box_id} is busy: another run (pid {holder}) "
                                   f"holds {self.path}; use another --box-id") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)   # closing drops the flock
            self.fd = None

    def __enter__(self) -> "BoxLock":
        return self if self.fd is not None else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class BoxDir:
    """The host side of box N: where things are and who owns them."""

    def __init__(self, box_id: int, root: Path | None = None):
        self.box_id = check_box_id(box_id)
        self.root = Path(root) if root else box_root()
        self.home = self.root / str(self.box_id)
        self.path = self.home / "box"
        self.mount_point = self.home / "root"
        self.uid = self.gid = first_uid() + self.box_id

    def lock(self) -> BoxLock:
        self.home.mkdir(parents=True, exist_ok=True)
        return BoxLock(self.home / "lock", self.box_id)

    @property
    def initialised(self) -> bool:
        return self.path.is_dir() and self.mount_point.is_dir()

    def create(self) -> None:
        """Make the directories (idempotent); an existing box dir is emptied."""
        self.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.home.mkdir(mode=0o755, exist_ok=True)
        self.mount_point.mkdir(mode=0o755, exist_ok=True)
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
            self.path.unlink()
        if self.path.is_dir():
            self.clear()
        else:
            self.path.mkdir(mode=0o700)
        os.chown(self.path, self.uid, self.gid)
        os.chmod(self.path, 0o700)

    def clear(self) -> None:
        """Remove everything in /box without following links the program left."""
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for entry in os.scandir(fd):
                _remove_entry(fd, entry.name)
        finally:
            os.close(fd)

    def remove(self) -> None:
        if self.home.exists():
            import shutil  # lazy: shutil pulls in bz2/lzma, too big for the box helper
            # rmtree is fd-based on Linux: a symlink in the box is unlinked,
            # never followed (shutil.rmtree.avoids_symlink_attacks).
            shutil.rmtree(self.home)

    def install_file(self, host_path: str, inside: str) -> None:
        """Copy a host file into the box unless an identical copy is there."""
        target = self.path / inside.lstrip("/")
        source = os.stat(host_path)
        try:
            there = os.stat(target, follow_symlinks=False)
            if (stat.S_ISREG(there.st_mode) and there.st_size == source.st_size
                    and int(there.st_mtime) == int(source.st_mtime)):
                return
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()  # never write through a link the program left
        import shutil
        shutil.copyfile(host_path, target)
        os.chmod(target, stat.S_IMODE(source.st_mode) | 0o444)
        os.utime(target, (source.st_atime, source.st_mtime))


def _remove_entry(dir_fd: int, name: str) -> None:
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        try:
            os.chmod(sub, 0o700)  # the program may have made it unwritable
            for entry in os.scandir(sub):
                _remove_entry(sub, entry.name)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
