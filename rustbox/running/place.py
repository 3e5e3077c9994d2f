"""What goes into /box before a run: the program's file (copied in when the
box lacks it) and the storage --quota asks for."""
from __future__ import annotations

import os

from .. import mounts
from ..box import BoxDir
from ..errors import SetupError, UsageError

# Absolute paths the box shows by default: never copied in.
BOX_VISIBLE = mounts.HOST_VISIBLE + mounts.BOX_OWN


def set_quota(box: BoxDir, root: mounts.PreparedRoot, quota) -> None:
    """/box on the storage the run's --quota asks for (quota.py), before
    anything is copied in."""
    if quota is None and not os.path.ismount(box.path):
        return   # the common case, in one stat
    from .. import quota as box_quota
    if box_quota.needs_new_storage(box, quota):
        root.leave()   # mounted or unmounted where the host sees it
    try:
        box_quota.set_quota(box, quota)
    except OSError as exc:
        raise SetupError("quota", exc.errno, exc.strerror or "") from None


def place_program(box: BoxDir, program: str) -> str:
    """Copy a host file into the box when the box lacks it (or has an
    older copy: `gcc -o a.out && rustbox run ./a.out` must run the new one)."""
    if "/" not in program:
        return program  # searched on PATH inside the box
    if program.startswith("/"):
        if any(program == p or program.startswith(p + "/") for p in BOX_VISIBLE):
            return program
        if os.path.isfile(program):
            name = os.path.basename(program)
            box.install_file(program, name)
            return "/box/" + name
        return program
    if os.path.isfile(program):
        inside = os.path.normpath(program)
        if inside.startswith(".."):
            raise UsageError(f"program {program} lies outside the current directory; "
                             "give an absolute path")
        box.install_file(program, inside)
    return program
