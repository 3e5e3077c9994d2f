"""The child's report pipe, both ends: the child writes length-prefixed
records (`report`, `fail`), the supervisor reads them until the exec
closes the pipe (`read_setup`).

Records: ("error", step, errno, detail) a set-up step failed; ("wait",
step, detail) a step is about to wait for someone else (a FIFO's other
end); ("start", monotonic time) the child joined the box cgroups, from
which wall time counts.
"""
from __future__ import annotations

import os
import select
import time

from ..errors import SetupError
from ..limits import Limits
from .bounds import SETUP_TIMEOUT


def setup_timeout(limits: Limits) -> float:
    """How long the child may take to reach exec (a FIFO's peer included):
    never much past the run's wall limit."""
    if limits.wall_kill_at is None:
        return SETUP_TIMEOUT
    return min(SETUP_TIMEOUT, limits.wall_kill_at + 1.0)


def read_setup(fd: int, timeout: float = SETUP_TIMEOUT) -> tuple[SetupError | None,
                                                                 float | None]:
    """The child's reports until its exec: (the set-up error or None, the
    monotonic time it joined its cgroups or None)."""
    data = b""
    deadline = time.monotonic() + timeout
    error = started = waiting = None
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            if waiting is not None:
                step, detail = waiting
                return SetupError(step, 0, f"{detail}: nobody opened its other end within "
                                           f"{timeout:g} s"), None
            return SetupError("exec", 0, "the sandboxed child did not start in time"), None
        chunk = os.read(fd, 4096)
        if not chunk:
            return error, started
        data += chunk
        while len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[:4], "little"):
            size = int.from_bytes(data[:4], "little")
            kind, *fields = data[4:4 + size].decode(errors="replace").split("\0")
            data = data[4 + size:]
            if kind == "error":
                step, err, detail = fields
                error = SetupError(step, int(err), detail)
            elif kind == "wait":
                waiting = tuple(fields)
            elif kind == "start":
                started = float(fields[0])


# -- the child's end (after the clone) ----------------------------------------

def report(fd: int, *fields: str) -> None:
    """One record to the supervisor (see read_setup)."""
    data = "\0".join(fields).encode(errors="replace")
    os.write(fd, len(data).to_bytes(4, "little") + data)


def fail(fd: int, step: str, exc: BaseException) -> None:
    err = getattr(exc, "errno", 0) or 0
    detail = getattr(exc, "filename", None) or (str(exc) if not err else "")
    if isinstance(exc, OSError) and exc.filename is None and exc.strerror and ":" in exc.strerror:
        detail = exc.strerror.split(":")[0]
    try:
        report(fd, "error", step, str(err), str(detail))
    except OSError:
        pass
    os._exit(127)

