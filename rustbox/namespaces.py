"""Kernel calls Python 3.11 lacks: clone with namespace flags, mount,
pivot_root, setns, close_range, and bringing up loopback in a fresh netns.

Everything here is a thin ctypes wrapper that raises OSError with errno,
so process.py can turn a failure into SetupError(step, errno).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import struct

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

_libc = ctypes.CDLL(None, use_errno=True)
# PyDLL keeps the GIL across the call: the cloned child must come back
# holding it, or its Python state would wait for a thread it does not have.
_libc_gil = ctypes.PyDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc_gil.syscall.restype = ctypes.c_long
_libc.syscall.restype = ctypes.c_long


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
