"""Kernel calls Python 3.11 lacks: clone with namespace flags, mount,
pivot_root, setns, close_range, bringing up loopback in a fresh netns, and
the keyrings a run starts with (keyctl).

Everything here is a thin ctypes wrapper that raises OSError with errno,
so running/child.py can turn a failure into SetupError(step, errno).
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
import time

from .libc import libc as _libc, libc_gil as _libc_gil

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
SIGCHLD = 17

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

CLOSE_RANGE_CLOEXEC = 1 << 2

_SYS_CLONE = 56        # x86_64
_SYS_PIVOT_ROOT = 155
_SYS_CLOSE_RANGE = 436
_SYS_KEYCTL = 250



def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _b(path) -> bytes | None:
    return None if path is None else os.fsencode(path)


def clone_process(flags: int) -> int:
    """fork(2) into new namespaces in one step: 0 in the child, pid in the parent.

    Only safe from a single-threaded process (the CLI and the box helper),
    like any raw clone; the child must exec or _exit without returning to
    code that relies on other threads.
    """
    pid = _libc_gil.syscall(ctypes.c_long(_SYS_CLONE), ctypes.c_long(flags | SIGCHLD),
                            ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0),
                            ctypes.c_long(0))
    return _check(pid, "clone")


def mount(source, target, fstype=None, flags: int = 0, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags,
                       None if data is None else data.encode()), f"mount {target}")


def umount(target, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root, put_old) -> None:
    _check(_libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), _b(new_root), _b(put_old)),
           "pivot_root")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def cloexec_from(first_fd: int) -> None:
    """Mark every fd >= first_fd close-on-exec (close_range, kernel >= 5.11)."""
    _check(_libc.syscall(ctypes.c_long(_SYS_CLOSE_RANGE), ctypes.c_uint(first_fd),
                         ctypes.c_uint(0xFFFFFFFF), ctypes.c_uint(CLOSE_RANGE_CLOEXEC)),
           "close_range")


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    """A fresh netns has lo DOWN; an ioctl is 1000x cheaper than pyroute2."""
    # A raw socket(2): the socket module costs 7 ms to import for one ioctl.
    sock = _check(_libc.socket(2, 2, 0), "socket")   # AF_INET, SOCK_DGRAM
    try:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | _IFF_UP))
    finally:
        os.close(sock)


# keyctl(2) operations and special keyring ids (linux/keyctl.h).
_KEYCTL_JOIN_SESSION_KEYRING, _KEYCTL_CLEAR, _KEYCTL_GET_PERSISTENT = 1, 7, 22
_KEY_SPEC_SESSION_KEYRING, _KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING = -3, -4, -5
_EOPNOTSUPP = 95


def _keyctl(operation: int, *args: int) -> int:
    return _libc.syscall(ctypes.c_long(_SYS_KEYCTL), ctypes.c_long(operation),
                         *(ctypes.c_long(arg) for arg in args))


def join_new_session_keyring() -> None:
    """Leave the inherited session keyring (the supervisor's: root's or the
    operator's) for a new, empty one. Called as root, so the new keyring is
    root's: no run leaves a keyring charged to the box uid behind."""
    _check(_keyctl(_KEYCTL_JOIN_SESSION_KEYRING, 0), "keyctl join session keyring")


def empty_user_keyrings(uid: int, wait: float) -> None:
    """Empty the keyrings the calling box uid keeps between runs, then wait
    until no other key of the uid is alive. Called as the box uid.

    Keyrings are in no namespace we make: a uid's user, user-session and
    persistent keyrings live as long as the host, so with keyctl allowed
    (`--seccomp off`) a program could leave keys there for the next run.
    A key is reachable by its serial number for as long as it lives, and
    the kernel frees unlinked keys lazily (after an RCU grace period, tens
    of ms): the run starts only once the uid owns nothing but these three
    empty keyrings (/proc/key-users). A run that made no key waits for none.
    """
    _check(_keyctl(_KEYCTL_CLEAR, _KEY_SPEC_USER_KEYRING), "keyctl clear user keyring")
    _check(_keyctl(_KEYCTL_CLEAR, _KEY_SPEC_USER_SESSION_KEYRING),
           "keyctl clear user session keyring")
    kept = 2
    persistent = _keyctl(_KEYCTL_GET_PERSISTENT, -1, _KEY_SPEC_SESSION_KEYRING)
    if persistent >= 0:
        _check(_keyctl(_KEYCTL_CLEAR, persistent), "keyctl clear persistent keyring")
        kept = 3
    elif ctypes.get_errno() != _EOPNOTSUPP:  # EOPNOTSUPP: no persistent keyrings here
        _check(persistent, "keyctl get persistent keyring")
    deadline = time.monotonic() + wait
    while _keys_owned(uid) > kept:
        if time.monotonic() > deadline:
            raise OSError(errno.EBUSY, "keys of an earlier run are still alive")
        time.sleep(0.002)


def _keys_owned(uid: int) -> int:
    """How many keys `uid` owns, dead ones not yet collected included."""
    prefix = f"{uid:5d}:".encode()
    with open("/proc/key-users", "rb") as f:
        for line in f:
            if line.startswith(prefix):   # "61000:     3 3/3 2/200 26/20000"
                return int(line.split()[2].split(b"/")[0])
    return 0
