"""The `rustbox` executable: errors to exit statuses, and the fast way into `run`.

Exit status: 0 verdict OK (or a verb that succeeded), 1 the program failed
(RE SG TO ML OL), 2 the sandbox failed (XX) or the command line was wrong,
130 interrupted. Every error is one line on stderr, never a traceback.
"""
from __future__ import annotations

import os
import sys

from .errors import guarded


def _as_root(command: str, action, *args):
    from .privileges import require_root
    require_root(command)
    return action(*args)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from . import run_command
        values = run_command.parse_fast(argv[1:])
        if values is not None:
            status = guarded(lambda: _as_root("rustbox run", run_command.run, values))
            # Everything is closed and printed: skip the interpreter's
            # teardown (~8 ms of a ~50 ms command).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    from .cli import cli
    sys.exit(cli(argv))
