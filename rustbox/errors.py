"""The sandbox's own failures (never the program's: those are Verdicts).

    RustboxError            the sandbox could not do its job -> status XX, exit 2
     +-- UsageError         bad flag, bad spec value, bad path -> exit 2
     +-- BoxBusyError       another run holds the box's lock -> exit 2
     +-- HostSetupError     the host lacks something (cgroup controller, root)
     +-- CgroupError        a cgroup file could not be read or written
     +-- SetupError         a step in the child before exec failed (step, errno)
     +-- RunEndError        a process of the run could not be ended and reaped in time
     +-- RunStopped         the run was ended early: its supervisor was told to stop

`guarded(action)` is the one place an error becomes an exit status and one
line on stderr (the CLI's verbs and the fast `run` path both go through it).
"""
from __future__ import annotations

import errno as _errno
import os
import sys


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
    """A cgroup operation failed; `errno` is the kernel's answer when there was one."""

    def __init__(self, message: str, err: int = 0):
        super().__init__(message)
        self.errno = err


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



class RunEndError(RustboxError):
    """A process of the run outlived SIGKILL (or its reaping) past the run's bound."""


class RunStopped(RustboxError):
    """The supervisor was told to stop mid-run (its box closed): the program
    was killed and reaped; the run says nothing about the program."""

def guarded(action, prefix: str = "rustbox: error: ") -> int:
    """Run action() -> exit status, turning every error into one stderr line."""
    try:
        return action()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except RustboxError as exc:
        return _say(str(exc), exc.exit_code, prefix)
    except KeyboardInterrupt:
        return _say("interrupted", 130, prefix=prefix.replace("error: ", ""))
    except OSError as exc:
        return _say(str(exc), 2, prefix)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("RUSTBOX_DEBUG"):
            raise
        return _say(f"internal error: {type(exc).__name__}: {exc} "
                    "(set RUSTBOX_DEBUG=1 for a traceback)", 2, prefix)


def _say(message: str, status: int, prefix: str = "rustbox: error: ") -> int:
    sys.stderr.write(prefix + message + "\n")
    return status
