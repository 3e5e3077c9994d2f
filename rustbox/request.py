"""What a run is asked to do: RunRequest, its one constructor, its wire form.

`RunRequest.from_options` is the only way a request is built from outside
values: the CLI's flags, a batch spec line, the API's keyword arguments and
the box helper's wire form all go through it, so every value is checked and
converted (limits, --dir rules, --env) the same way whichever way it came.
"""
from __future__ import annotations

import os

from .errors import UsageError
from .limits import LIMIT_PARSERS, Limits, limits_from
from .mounts import DirRule

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

# Option keys that are not limits, with the type each one takes.
OPTION_KEYS = {
    "argv": (list, tuple), "limits": (Limits, dict), "stdin": str, "stdout": str, "stderr": str,
    "stderr_to_stdout": bool, "dir": (list, tuple), "no_default_dirs": bool,
    "env": (dict, list, tuple), "full_env": bool, "share_net": bool, "seccomp": str,
    "inherit_stdio": bool, "id": (str, int), "chdir": str, "inherit_env": (list, tuple),
}


class RunRequest:
    """Everything a run needs besides the box. Built from outside values
    only through `from_options` (the CLI, batch, the API, the helper's wire)."""

    def __init__(self, argv: list[str], limits: Limits | None = None, stdin: str | None = None,
                 stdout: str | None = None, stderr: str | None = None,
                 stderr_to_stdout: bool = False, dirs: list | None = None,
                 no_default_dirs: bool = False, env: dict | None = None, full_env: bool = False,
                 share_net: bool = False, seccomp: str = "default", inherit_stdio: bool = True,
                 id: str | None = None, chdir: str | None = None):
        self.argv = argv
        self.limits = Limits() if limits is None else limits
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.stderr_to_stdout = stderr_to_stdout
        self.dirs = [] if dirs is None else dirs          # extra mounts.DirRule
        self.no_default_dirs = no_default_dirs
        self.env = {} if env is None else env
        self.full_env, self.share_net, self.seccomp = full_env, share_net, seccomp
        self.inherit_stdio = inherit_stdio   # False: unspecified stdio goes to /dev/null
        self.id = id
        self.chdir = chdir   # the program's working directory inside the box (default /box)
        # The CLI's (fd0, fd1, fd2) for the stdio the program inherits: new
        # open file descriptions of rustbox's own (outputs.ProgramStdio),
        # never the ones its verdict goes out on. Not sent to a box helper.
        self.stdio_fds: tuple | None = None
        # True: stdio_fds are the program's alone (a connected run's pipe
        # ends): the runner closes its copies once the program is cloned.
        self.stdio_handover = False

    @classmethod
    def from_options(cls, options: dict, box_root: str = "/var/lib/rustbox",
                     inherit_stdio: bool = False) -> "RunRequest":
        """The one constructor from flag-like values: keys are long flag names
        (- or _): `argv`, the limits (`time`, `mem`, ...) or `limits` (a
        Limits or its dict), `dir` (--dir texts, DirRules or their tuples),
        `env` (KEY=VALUE items or a dict; a dict's None value removes the
        variable, PATH included), `inherit_env` (names whose values are
        taken from this process's environment now; unset ones stay unset),
        `chdir`, `stdin`... `id`. Anything unknown
        or of the wrong type is a UsageError naming it."""
        if not isinstance(options, dict):
            raise UsageError("a run's options must be a JSON object")
        values = {str(key).replace("-", "_"): value for key, value in options.items()}
        unknown = sorted(k for k in values if k not in LIMIT_PARSERS and k not in OPTION_KEYS)
        if unknown:
            raise UsageError(f"unknown key{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        for key, kind in OPTION_KEYS.items():
            if key in values and values[key] is not None and not isinstance(values[key], kind):
                raise UsageError(f"invalid {key!r}: {values[key]!r}")
        argv = values.get("argv")
        if not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError("'argv' must be a non-empty list of strings")
        limit_values = {k: v for k, v in values.items() if k in LIMIT_PARSERS}
        limits = values.get("limits")
        if limits is not None and any(v is not None for v in limit_values.values()):
            raise UsageError("give either 'limits' or single limits, not both")
        if isinstance(limits, dict):
            try:
                limits = Limits(**limits)
            except TypeError as exc:
                raise UsageError(f"invalid 'limits': {exc}") from None
        elif limits is None:
            limits = limits_from(limit_values)
        inherit = values.get("inherit_stdio")
        env = parse_env(values.get("env"))
        for name in values.get("inherit_env") or ():
            if not isinstance(name, str) or not name or "=" in name:
                raise UsageError(f"invalid --inherit-env {name!r} (expected a variable name)")
            if name in os.environ:
                env[name] = os.environ[name]
        chdir = values.get("chdir")
        if chdir is not None and (not chdir or "\0" in chdir):
            raise UsageError(f"invalid --chdir {chdir!r}")
        return cls(
            argv=list(argv), limits=limits, stdin=values.get("stdin"), stdout=values.get("stdout"),
            stderr=values.get("stderr"), stderr_to_stdout=bool(values.get("stderr_to_stdout")),
            dirs=[_dir_rule(rule, box_root) for rule in values.get("dir") or ()],
            no_default_dirs=bool(values.get("no_default_dirs")), env=env,
            full_env=bool(values.get("full_env")), share_net=bool(values.get("share_net")),
            seccomp=values.get("seccomp") or "default",
            inherit_stdio=inherit_stdio if inherit is None else bool(inherit),
            id=None if values.get("id") is None else str(values["id"]),
            chdir=None if chdir is None else os.path.join("/box", chdir))

    def to_wire(self) -> dict:
        """For the box helper (marshal: plain values only), read back by
        from_options. The CLI's stdio fds stay behind: a helper has its own."""
        return {"argv": list(self.argv), "limits": self.limits.as_dict(), "stdin": self.stdin,
                "stdout": self.stdout, "stderr": self.stderr,
                "stderr_to_stdout": self.stderr_to_stdout,
                "dir": [tuple(rule) for rule in self.dirs], "no_default_dirs": self.no_default_dirs,
                "env": dict(self.env), "full_env": self.full_env, "share_net": self.share_net,
                "seccomp": self.seccomp, "inherit_stdio": self.inherit_stdio, "id": self.id,
                "chdir": self.chdir}

    def environment(self) -> dict[str, str]:
        base = dict(os.environ) if self.full_env else {"PATH": DEFAULT_PATH}
        base.update(self.env)
        return {key: value for key, value in base.items() if value is not None}


def _dir_rule(rule, box_root: str) -> DirRule:
    if isinstance(rule, DirRule):
        return rule
    if isinstance(rule, (list, tuple)):
        return DirRule(*rule)          # the wire form of one
    if isinstance(rule, str):
        return DirRule.parse(rule, box_root)
    raise UsageError(f"invalid --dir {rule!r}")


def parse_env(items) -> dict:
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): None if v is None else str(v) for k, v in items.items()}
    env = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --env {item!r} (expected KEY=VALUE)")
        env[key] = value
    return env


__all__ = ["RunRequest", "DEFAULT_PATH", "parse_env"]
