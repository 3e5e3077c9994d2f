"""Who may use rustbox: root only. One check, one sentence saying why.

Every verb that touches a box (run, init, cleanup, batch, the Python API's
box helper, and the judge's run, verify and worker) calls `require_root`
before it creates or opens anything, so a user without root gets that one
line (exit 2) and the host is left exactly as it was.
"""
from __future__ import annotations

import os

from .errors import HostSetupError

WHY = ("it makes namespaces, mounts and cgroups and runs each program as its box's own "
       "uid, which only root may do")


class NotRootError(HostSetupError):
    """A verb that needs root was started by another user."""


def is_root() -> bool:
    return os.geteuid() == 0


def require_root(command: str, hint: str | None = None) -> None:
    """Raise NotRootError unless we are root; `command` is what the user typed."""
    if not is_root():
        raise NotRootError(f"{command} needs root: {WHY} "
                           f"({hint or f'run it as root, e.g. sudo {command}'})")


__all__ = ["WHY", "NotRootError", "is_root", "require_root"]
