"""Opening the program's --stdin/--stdout/--stderr in the child, as the box
uid: files, devices and FIFOs (a FIFO's wait is reported to the supervisor,
which bounds it and names it), and letting go of a connected run's pipe
ends once the program holds them."""
from __future__ import annotations

import errno
import os
import stat

from ..request import RunRequest
from .report import report


def hand_over_stdio(request: RunRequest) -> None:
    """The supervisor's side, right after the clone: pipe ends handed to the
    program (a connected run's, connected.py) are its alone from now on.
    Ours are closed, so its peer sees end of file or EPIPE the moment the
    program lets go of them, not when our run ends."""
    if request.stdio_handover and request.stdio_fds is not None:
        for fd in request.stdio_fds:
            if fd is not None:
                os.close(fd)
        request.stdio_fds = None


# What becomes of each of fds 0-2 (stdio_plan): the C child reads the same plan.
LEAVE, DUP, OPEN, DUP_STDOUT = 0, 1, 2, 3


def stdio_plan(request: RunRequest) -> tuple:
    """(kind, fd, path, flags, reading) for fds 0, 1 and 2, made by the
    supervisor: kept (LEAVE), rustbox's own fd (DUP `fd`), a file opened as
    the box uid (OPEN `path` with `flags`), or stdout again (DUP_STDOUT)."""
    def attach(path, target, flags):
        if path is None:
            if request.inherit_stdio:
                if request.stdio_fds is not None and request.stdio_fds[target] is not None:
                    return (DUP, request.stdio_fds[target], "", 0, 0)
                return (LEAVE, -1, "", 0, 0)
            path = "/dev/null"
        flags |= os.O_NOFOLLOW | os.O_CLOEXEC
        return (OPEN, -1, path, flags, int(flags & os.O_ACCMODE == os.O_RDONLY))

    return (attach(request.stdin, 0, os.O_RDONLY),
            attach(request.stdout, 1, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (DUP_STDOUT, 1, "", 0, 0) if request.stderr_to_stdout else
            attach(request.stderr, 2, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))


def redirect_stdio(plan: tuple, setup_w: int) -> None:
    for target, (kind, fd, path, flags, _) in enumerate(plan):
        if kind == DUP or kind == DUP_STDOUT:
            os.dup2(fd, target)
        elif kind == OPEN:
            fd = _open_stdio(path, flags, setup_w)
            os.dup2(fd, target)
            os.close(fd)


def _open_stdio(path: str, flags: int, setup_w: int) -> int:
    """A --stdin/--stdout/--stderr file, opened as the box uid: a regular
    file or a device, or a FIFO once its other end is open (a wait the
    supervisor bounds and names); a directory or a socket is an error.

    A FIFO is opened exactly once: a probe opened and closed again would let
    the peer's open complete and its data (or its EOF) go to the probe."""
    reading = flags & os.O_ACCMODE == os.O_RDONLY
    if reading and stat.S_ISFIFO(os.stat(path, follow_symlinks=False).st_mode):
        return _wait_for_fifo(path, flags, setup_w)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, 0o644)  # a FIFO must not block here
    except OSError as exc:
        if exc.errno != errno.ENXIO:      # ENXIO: a FIFO with no reader yet
            raise
        return _wait_for_fifo(path, flags, setup_w)
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind in (stat.S_IFREG, stat.S_IFCHR) or (kind == stat.S_IFIFO and not reading):
        os.set_blocking(fd, True)         # a FIFO written to: its reader is there
        return fd
    os.close(fd)
    if kind == stat.S_IFIFO:              # swapped in since the check above
        return _wait_for_fifo(path, flags, setup_w)
    if kind == stat.S_IFDIR:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    raise ValueError(f"{path}: a socket or a block device, not a file")


def _wait_for_fifo(path: str, flags: int, setup_w: int) -> int:
    report(setup_w, "wait", "stdio", f"{path} is a FIFO")
    fd = os.open(path, flags, 0o644)      # until the other end opens it
    if stat.S_IFMT(os.fstat(fd).st_mode) not in (stat.S_IFIFO, stat.S_IFREG, stat.S_IFCHR):
        os.close(fd)                      # swapped for something else meanwhile
        raise ValueError(f"{path}: a socket or a block device, not a file")
    return fd


