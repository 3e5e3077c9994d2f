"""A numbered box on the host: its paths, its uid, its lock, init and cleanup.

Layout under the root ($RUSTBOX_ROOT or /var/lib/rustbox):

    <root>/<N>/        0755 root    one box
    <root>/<N>/box     0700 uid     the program's /box (writable by it alone)
    <root>/<N>/root    0755 root    empty mount point for the run's new root
    <root>/<N>/lock    0600 root    flock held by the one run using the box

With --quota, `<root>/<N>/box` is a tmpfs mounted over that directory
(quota.py); init and cleanup unmount it.

The cgroups are `rustbox/box-N` under each controller (cgroups/).
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from pathlib import Path

from . import namespaces as ns
from .errors import BoxBusyError, HostSetupError, UsageError

DEFAULT_ROOT = "/var/lib/rustbox"
DEFAULT_FIRST_UID = 61000
DEFAULT_NUM_BOXES = 1000    # box ids 0-999; $RUSTBOX_NUM_BOXES (isolate's num_boxes) moves it
MAX_NUM_BOXES = 1 << 31


def box_root() -> Path:
    return Path(os.environ.get("RUSTBOX_ROOT") or DEFAULT_ROOT)


def max_box_id() -> int:
    """The highest box id: $RUSTBOX_NUM_BOXES - 1 (default 999). CMS numbers
    its workers' boxes from 1000 up and Judge0 by submission id, so an
    organiser moving them from isolate raises it, as isolate's num_boxes."""
    raw = os.environ.get("RUSTBOX_NUM_BOXES")
    if not raw:
        return DEFAULT_NUM_BOXES - 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_NUM_BOXES:
        raise UsageError(f"invalid RUSTBOX_NUM_BOXES: {raw!r} (expected 1-{MAX_NUM_BOXES})")
    return int(raw) - 1


def first_uid() -> int:
    """The uid of box 0; box N runs as first_uid() + N (gid the same).

    The whole range first_uid() .. first_uid() + max_box_id() must be ordinary
    uids the kernel maps: never 0 (root) and never 2**32-1, which setresuid
    reads as -1, "leave unchanged", so the program would keep root.
    """
    raw = os.environ.get("RUSTBOX_FIRST_UID")
    if not raw and not os.environ.get("RUSTBOX_NUM_BOXES"):
        return DEFAULT_FIRST_UID
    try:
        value = int(raw) if raw else DEFAULT_FIRST_UID
    except ValueError:
        raise UsageError(f"invalid RUSTBOX_FIRST_UID: {raw!r} (expected a number)") from None
    last, top = _mapped_ids_end() - 1, max_box_id()
    if not 0 < value <= last - top:
        raise UsageError(f"invalid RUSTBOX_FIRST_UID / RUSTBOX_NUM_BOXES: the box uids {value}.."
                         f"{value + top} must lie within 1..{last}")
    return value


def _mapped_ids_end() -> int:
    """One past the highest uid (and gid) this process can switch to: the
    kernel's range, minus the top id (-1), and within our user namespace's maps."""
    end = (1 << 32) - 1
    for map_file in ("/proc/self/uid_map", "/proc/self/gid_map"):
        try:
            with open(map_file) as f:
                ranges = [line.split() for line in f if line.strip()]
        except OSError:
            continue
        top = max((int(inside) + int(count) for inside, _, count in ranges), default=end)
        end = min(end, top)
    return end


_CHECKED_UIDS: set[int] = set()


def check_box_uid(box_id: int, uid: int) -> int:
    """Refuse a box uid or gid that belongs to someone: files and processes of
    that user (or group) would be the program's."""
    if uid in _CHECKED_UIDS:
        return uid
    import grp
    import pwd
    try:
        owner = f"user {pwd.getpwuid(uid).pw_name!r}"
    except KeyError:
        try:
            owner = f"group {grp.getgrgid(uid).gr_name!r}"
        except KeyError:
            _CHECKED_UIDS.add(uid)
            return uid
    raise HostSetupError(f"box {box_id} would run as uid/gid {uid}, which is {owner} on this "
                         "host: set RUSTBOX_FIRST_UID to a free range")


def check_box_id(box_id) -> int:
    try:
        value = int(box_id)
    except (TypeError, ValueError):
        raise UsageError(f"invalid box id: {box_id!r} (expected 0-{max_box_id()})") from None
    if not 0 <= value <= max_box_id():
        raise UsageError(f"invalid box id: {box_id!r} (expected 0-{max_box_id()}; "
                         "RUSTBOX_NUM_BOXES raises the count)")
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
        self.uid = self.gid = check_box_uid(self.box_id, first_uid() + self.box_id)

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
        self._unmount_storage()   # a fresh box is back on the disk, without a quota
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
            _empty_tree(fd)
        finally:
            os.close(fd)

    def remove_special_files(self) -> None:
        """Unlink every symlink, FIFO, socket and device a run left in /box,
        at any depth (isolate does so after each run unless --special-files):
        whoever reads the box afterwards, as root, then opens only what the
        program wrote, never a link it aimed at a host file. Call it with
        the box lock held and the box's processes gone."""
        fd = os.open(self.path, _DIR_FLAGS)
        try:
            _remove_special(fd)
        finally:
            os.close(fd)

    def _unmount_storage(self) -> None:
        """Detach a --quota tmpfs from /box (and a half-made one from its
        staging point); its files go with it."""
        for path in (self.home / "quota-stage", self.path):
            if not path.is_symlink() and os.path.ismount(path):
                ns.umount(path, ns.MNT_DETACH)

    def remove(self) -> None:
        if self.home.is_dir() and not self.home.is_symlink():
            self._unmount_storage()
            fd = os.open(self.home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                _empty_tree(fd)
            finally:
                os.close(fd)
            os.rmdir(self.home)

    def install_file(self, host_path: str, inside: str) -> None:
        """Copy a host file into the box unless the box holds our own copy of it.

        The box's contents are the program's: it can put any file, with any
        size and mtime, where an earlier copy was. A copy is kept only when
        it is provably ours and unchanged: a regular file owned by root,
        writable by nobody else, that carries our mark (a `trusted.` xattr,
        which only CAP_SYS_ADMIN can set or read) naming the host file as it
        is now. Anything else is replaced by a fresh copy (~0.6 ms per MiB).

        We run as root: each directory on the way is opened from its parent
        with O_NOFOLLOW, and a link (or file) in the way is replaced by a real
        directory, so a link an earlier run left (`/box/build -> /etc`) can
        never send this copy outside the box. Set-uid/gid bits and write
        permission for group and others are not copied.
        """
        parts = [part for part in inside.split("/") if part not in ("", ".")]
        if not parts or ".." in parts:
            raise UsageError(f"cannot place {inside!r} in the box")
        src = _open_source(host_path)
        source = os.fstat(src.fileno())
        mark = _source_mark(source)
        dir_fd = os.open(self.path, _DIR_FLAGS)
        try:
            for part in parts[:-1]:
                dir_fd = _enter_subdir(dir_fd, part)
            name = parts[-1]
            try:
                there = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if (there.st_dev, there.st_ino) == (source.st_dev, source.st_ino):
                    return   # the host path is the box's file itself (run from the box dir)
                if _is_our_copy(dir_fd, name, there, mark):
                    return
                if stat.S_ISDIR(there.st_mode):
                    raise UsageError(f"cannot place {inside!r} in the box: "
                                     "a directory of that name is there")
                os.unlink(name, dir_fd=dir_fd)   # never write through a link
            except FileNotFoundError:
                pass
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
            try:
                with src:
                    while os.sendfile(out, src.fileno(), None, 1 << 24):
                        pass
                os.fchmod(out, (stat.S_IMODE(source.st_mode) & 0o755) | 0o444)
                os.utime(out, (source.st_atime, source.st_mtime))
                try:
                    os.setxattr(out, _MARK, mark)
                except OSError:
                    pass   # no trusted xattrs here: the file is copied every time
            finally:
                os.close(out)
        finally:
            os.close(dir_fd)


# Names the host file a box copy was made from; only CAP_SYS_ADMIN can set
# (or read) a trusted.* attribute, so no program can forge it.
_MARK = "trusted.rustbox.source"


def _source_mark(source: os.stat_result) -> bytes:
    """The host file as it is now: a rebuild changes its inode or its times."""
    return (f"{source.st_dev}:{source.st_ino}:{source.st_size}:"
            f"{source.st_mtime_ns}:{source.st_ctime_ns}").encode()


def _is_our_copy(dir_fd: int, name: str, there: os.stat_result, mark: bytes) -> bool:
    """Whether `name` is a copy we made of the marked host file, unchanged:
    root's file that the box uid cannot write, carrying our mark."""
    if not stat.S_ISREG(there.st_mode) or there.st_uid != 0 or there.st_mode & 0o022:
        return False
    try:
        # Through our own fd of the directory; the last component is not followed.
        return os.getxattr(f"/proc/self/fd/{dir_fd}/{name}", _MARK,
                           follow_symlinks=False) == mark
    except OSError:
        return False


def _open_source(host_path: str):
    """The host file to copy in, opened once and checked on that descriptor:
    a regular file. Opened without waiting, so a FIFO put in its place (the
    path may lie in another box) cannot block root."""
    try:
        fd = os.open(host_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"cannot copy {host_path} into the box: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"cannot copy {host_path} into the box: not a regular file")
    return os.fdopen(fd, "rb")


def _enter_subdir(dir_fd: int, name: str) -> int:
    """Open (making it if needed) the real directory `name`; closes dir_fd."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        os.unlink(name, dir_fd=dir_fd)   # a link or a file where a directory goes
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    os.close(dir_fd)
    return fd


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _empty_tree(top_fd: int) -> None:
    """Delete everything below the directory open at top_fd."""
    _walk(top_fd, _unlink_files, remove_dirs=True)


def _walk(top_fd: int, visit, remove_dirs: bool) -> None:
    """visit(fd) every directory below and at top_fd (it acts on the
    directory's entries and returns its subdirectories' names); with
    remove_dirs, each subdirectory is removed once visited (it must be
    empty by then).

    The program chose this tree: links are never followed (every open is
    O_NOFOLLOW relative to its parent's fd), and the walk is a loop with
    one open directory at a time, so a tree thousands of levels deep (easy
    to make with mkdir+chdir) neither overflows Python's recursion limit
    nor the fd limit. No box process runs meanwhile (we hold the box lock
    and its cgroup is empty), so going back up by ".." is safe.
    """
    fd = os.dup(top_fd)
    pending = [visit(fd)]             # per level: subdirectories left to visit
    names: list[str] = []             # the path from top_fd down to fd
    try:
        while True:
            if pending[-1]:
                name = pending[-1].pop()
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(name)
                pending.append(visit(fd))
                continue
            pending.pop()
            if not names:
                return
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            name = names.pop()
            if remove_dirs:
                os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


def _unlink_files(dir_fd: int) -> list[str]:
    """Unlink every non-directory in dir_fd; return the subdirectories' names."""
    # The program may have made the directory unreadable or unwritable.
    os.chmod(dir_fd, 0o700)
    subdirs = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=dir_fd)
    return subdirs


def _remove_special(top_fd: int) -> None:
    """Unlink what is neither a regular file nor a directory below top_fd,
    keeping the files and directories (the walk of _empty_tree)."""
    _walk(top_fd, _unlink_special, remove_dirs=False)


def _unlink_special(dir_fd: int) -> list[str]:
    """Unlink every special entry of dir_fd; return the subdirectories' names."""
    subdirs = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            elif not entry.is_file(follow_symlinks=False):
                os.unlink(entry.name, dir_fd=dir_fd)
    return subdirs
