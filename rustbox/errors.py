"""The sandbox's own failures (never the program's: those are Verdicts).

    RustboxError            the sandbox could not do its job -> status XX, exit 2
     +-- UsageError         bad flag, bad spec value, bad path -> exit 2
     +-- BoxBusyError       another run holds the box's lock -> exit 2
     +-- HostSetupError     the host lacks something (cgroup controller, root)
     +-- CgroupError        a cgroup file could not be read or written
     +-- SetupError         a step in the child before exec failed (step, errno)
"""
from __future__ import annotations

import errno as _errno
import os


class RustboxError(Exception):
    """Base of every error the sandbox raises about itself."""

    exit_code = 2


class UsageError(RustboxError):
    """The caller asked for something malformed."""


class BoxBusyError(RustboxError):
    """Two runs on one box: the second one fails fast."""


class HostSetupError(RustboxError):
    """The host cannot provide what the sandbox needs."""


class CgroupError(RustboxError):
    """A cgroup operation failed."""


class SetupError(RustboxError):
    """A set-up step in the sandboxed child failed before exec."""

    def __init__(self, step: str, err: int = 0, detail: str = ""):
        self.step, self.errno, self.detail = step, err, detail
        reason = os.strerror(err) if err else ""
        parts = [p for p in (detail, reason) if p]
        super().__init__(f"{step} failed: {': '.join(parts) or 'unknown error'}")

    @property
    def errno_name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))
