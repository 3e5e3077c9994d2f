"""The `rustbox-isolate` command: isolate's verbs on rustbox's boxes.

An isolate command line is read (options.py) into one `Invocation`; a
`--run` becomes the option dict of `RunRequest.from_options` and runs
through `BoxSession.run`, the path every rustbox run takes. What comes back
is isolate's: the meta file (`verdict.isolate_meta`), one status line on
stderr (none with -s, except the sandbox's own errors), and the exit
status 0 (OK), 1 (the program failed: RE SG TO) or 2 (the sandbox failed,
or a bad command line).

Units and defaults are isolate's, not rustbox's: sizes in KiB, 0 meaning
"no limit" where isolate says so, no wall-clock limit unless -w is given,
1024 open files, one process, an environment holding only
LIBC_FATAL_STDERR_=1 and what -E/-e ask, isolate's default directory
rules. The program's stdout and stderr are left alone.
"""
from __future__ import annotations

import os
import resource
import sys

from ..errors import RustboxError, UsageError
from . import options as opts

VERSION = "rustbox-isolate 0.1 (isolate 2.x command line; isolate 1.10 spellings accepted)"
# isolate's default directory rules (rules.c), as rustbox rules: the host's
# /bin /lib /lib64 /usr read-only, a private /tmp and /dev/shm. /box, /proc
# and /dev (null, zero, urandom) are rustbox's own and always there.
DEFAULT_DIRS = (("/bin", "/bin", ()), ("/lib", "/lib", ()), ("/lib64", "/lib64", ("maybe",)),
                ("/usr", "/usr", ()), ("/tmp", None, ("tmp",)), ("/dev/shm", None, ("tmp",)))
ALWAYS_THERE = ("/box", "/proc", "/dev")
DEFAULT_OPEN_FILES = 1024
NO_WALL_LIMIT = 86400.0   # "no wall limit": rustbox still bounds a run, at one day
DIR_OPTIONS = ("rw", "dev", "noexec", "maybe", "fs", "tmp", "norec")


class Invocation:
    """One isolate command line, read and checked."""

    def __init__(self):
        self.mode: str | None = None
        self.box_id = 0
        self.cg = False
        self.meta: str | None = None
        self.silent = self.verbose = 0
        self.wait = False
        self.argv: list[str] = []
        self.request: dict = {}
        self.quota: str | None = None


def read(argv: list[str]) -> Invocation:
    """isolate's arguments -> an Invocation; UsageError for what isolate refuses
    and for what rustbox does not support (the table says why)."""
    found, operands = opts.parse(argv)
    inv = Invocation()
    values: dict[str, list] = {}
    env_rules: list[tuple[str, str | None]] = [("LIBC_FATAL_STDERR_", "1")]
    dir_rules: list[str] = []
    stderr: tuple[str, str | None] = ("inherit", None)
    for option, value in found:
        if option.support == opts.NOT_SUPPORTED:
            raise UsageError(f"--{option.long} is not supported by rustbox-isolate: {option.note}")
        if option.long in opts.COMMANDS:
            if inv.mode is not None and inv.mode != option.long:
                raise UsageError("only one command is allowed")
            inv.mode = option.long
        elif option.long == "env":
            name, eq, val = value.partition("=")
            if not name:
                raise UsageError(f"invalid environment specified: {value}")
            env_rules.append((name, val if eq else None))
        elif option.long == "dir":
            dir_rules.append(value)
        elif option.long == "stderr":
            stderr = ("file", value)
        elif option.long == "stderr-to-stdout":
            stderr = ("stdout", None)
        elif option.long in ("silent", "verbose"):
            setattr(inv, option.dest, getattr(inv, option.dest) + 1)
        elif option.arg == opts.NONE:
            values[option.dest] = True
        else:
            values[option.dest] = value
    if inv.mode is None:
        raise UsageError("please specify an isolate command (e.g. --init, --run)")
    if inv.mode == "run" and not operands:
        raise UsageError("--run mode requires a command to run")
    if inv.mode != "run" and operands:
        raise UsageError(f"--{inv.mode} mode takes no parameters")
    inv.box_id = _uint(values.get("box_id", "0"), "--box-id")
    inv.cg = bool(values.get("cg"))
    if "cg_mem" in values and not inv.cg:
        raise UsageError("options related to control groups require --cg to be set")
    inv.meta = values.get("meta")
    inv.wait = bool(values.get("wait"))
    inv.quota = values.get("quota")
    if "core" in values and _uint(values["core"], "--core") != 0:
        raise UsageError(f"--core {values['core']} is not supported by rustbox-isolate: "
                         + opts.BY_LONG["core"].note)
    inv.argv = operands
    inv.request = _request_options(values, env_rules, dir_rules, stderr)
    return inv


def _uint(text: str, what: str) -> int:
    if not text.isdigit():
        raise UsageError(f"invalid number for {what}: {text!r}")
    return int(text)


def _seconds(text: str, what: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"invalid time for {what}: {text!r}") from None
    if not value >= 0:
        raise UsageError(f"invalid time for {what}: {text!r}")
    return value or None   # isolate: 0 is no limit


def _kib(values: dict, key: str, what: str) -> int | None:
    if key not in values:
        return None
    return _uint(values[key], what) * 1024 or None   # isolate: 0 is no limit


def _request_options(values: dict, env_rules: list, dir_rules: list, stderr: tuple) -> dict:
    """The options of RunRequest.from_options, in isolate's units and defaults."""
    request: dict = {}
    time = _seconds(values["time"], "--time") if "time" in values else None
    wall = _seconds(values["wall_time"], "--wall-time") if "wall_time" in values else None
    extra = _seconds(values["extra_time"], "--extra-time") if "extra_time" in values else None
    request["time"] = time
    # rustbox's own default is 2*time+1; isolate has no wall limit unless given.
    request["wall_time"] = wall if wall is not None else (NO_WALL_LIMIT if time else None)
    # isolate's -x is a point in CPU time since the start (the kill comes when
    # the time passes both -t and -x), rustbox's --extra-time a grace after --time.
    request["extra_time"] = (extra - time if time and extra and extra > time else None)
    # -m: each process's address space (RLIMIT_AS), as isolate; --cg-mem: the box's cgroup.
    request["address_space"] = _kib(values, "mem", "--mem")
    request["mem"] = _kib(values, "cg_mem", "--cg-mem")
    request["stack"] = _kib(values, "stack", "--stack") or "unlimited"
    request["fsize"] = _kib(values, "fsize", "--fsize")
    request["open_files"] = _open_files(values.get("open_files"))
    if "processes" in values:
        given = values["processes"]
        count = 0 if given is None else _uint(given, "--processes")
        request["processes"] = count or "unlimited"
    request["quota"] = values.get("quota")
    request["stdin"] = values.get("stdin")
    request["stdout"] = values.get("stdout")
    request["stderr"] = stderr[1] if stderr[0] == "file" else None
    request["stderr_to_stdout"] = stderr[0] == "stdout"
    request["chdir"] = values.get("chdir")
    request["share_net"] = bool(values.get("share_net"))
    request["env"] = _environment(bool(values.get("full_env")), env_rules)
    request["dir"] = _dir_rules(not values.get("no_default_dirs"), dir_rules)
    request["no_default_dirs"] = True   # the list above is the whole set
    return {key: value for key, value in request.items() if value is not None}


def _open_files(given: str | None) -> int:
    if given is None:
        return DEFAULT_OPEN_FILES
    count = _uint(given, "--open-files")
    if count:
        return count
    from ..limits import MAX_OPEN_FILES
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]   # 0: as many as we may
    return MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)


def _environment(full: bool, rules: list) -> dict:
    """isolate's environment rules, applied in order after -e; PATH is
    removed unless a rule gives it (rustbox's default PATH is not isolate's)."""
    env: dict[str, str | None] = dict(os.environ) if full else {}
    for name, value in rules:
        env.pop(name, None)
        if value is None:
            if name in os.environ:
                env[name] = os.environ[name]
        elif value:
            env[name] = value
    env.setdefault("PATH", None)
    return env


def _dir_rules(defaults: bool, texts: list[str]) -> list:
    """isolate's -d rules (after its defaults), replaced in place by inside
    path, as rustbox DirRules."""
    rules: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    if defaults:
        for inside, host, options in DEFAULT_DIRS:
            rules[inside] = (host, options)
    for text in texts:
        inside, host, options = _parse_dir(text)
        if inside in ALWAYS_THERE or inside == "/":
            if inside == "/box" and host in ("./box", None) and "tmp" not in options:
                continue   # isolate's own rule for /box: rustbox binds it anyway
            raise UsageError(f"invalid directory rule {text!r}: {inside} is always the box's "
                             "own in rustbox")
        if host is None and "tmp" not in options:
            rules.pop(inside, None)   # IN= removes the rule
        else:
            rules[inside] = (host, options)
    return [_to_rustbox(inside, host, options) for inside, (host, options) in rules.items()]


def _parse_dir(text: str) -> tuple[str, str | None, tuple[str, ...]]:
    spec, *options = text.split(":")
    for option in options:
        if option not in DIR_OPTIONS:
            raise UsageError(f"invalid directory rule {text!r}: unknown option {option!r}")
    if "dev" in options:
        raise UsageError(f"invalid directory rule {text!r}: option 'dev' is not supported "
                         "(a box sees no host device)")
    inside, eq, host = spec.partition("=")
    inside = "/" + os.path.normpath(inside.lstrip("/") or ".").lstrip("/")
    if not inside.strip("/") or inside.startswith("/.."):
        raise UsageError(f"invalid directory rule {text!r}: bad inside path")
    if "fs" in options:
        if "tmp" in options:
            raise UsageError(f"invalid directory rule {text!r}: 'fs' and 'tmp' exclude each other")
        if host != "tmpfs":
            raise UsageError(f"invalid directory rule {text!r}: only fs=tmpfs is supported "
                             "(a box sees no host kernel interface)")
        return inside, None, tuple(o for o in options if o != "fs") + ("tmp",)
    if "tmp" in options:
        if eq:
            raise UsageError(f"invalid directory rule {text!r}: temporary directory mounts "
                             "do not have a right-hand side")
        return inside, None, tuple(options)
    if eq:
        if not host:
            return inside, None, ()
        if not host.startswith(("/", "./")):
            raise UsageError(f"invalid directory rule {text!r}: right-hand side must start "
                             "with '/' or './'")
        return inside, host, tuple(options)
    return inside, inside, tuple(options)


def _to_rustbox(inside: str, host: str | None, options: tuple[str, ...]):
    from ..mounts import DirRule
    if "tmp" in options:
        return DirRule(inside=inside, host=None, mode="rw", noexec="noexec" in options,
                       tmpfs=True)
    if host.startswith("./"):
        from ..box import box_root
        host = str(box_root()) + "/" + host[2:]   # isolate: relative to the box's directory
    flags = [o for o in options if o in ("rw", "noexec", "maybe")]
    # DirRule.parse: rustbox's checks on what a host path may expose.
    return DirRule.parse(":".join([host, inside, *flags]), _root())


def _root() -> str:
    from ..box import box_root
    return str(box_root())


# -- the verbs ---------------------------------------------------------------------

def _init(inv: Invocation) -> int:
    from ..box import BoxDir
    from ..session import init_box
    init_box(inv.box_id, wait=_wait(inv))
    box = BoxDir(inv.box_id)
    _remember_quota(box, inv.quota)
    sys.stdout.write(f"{box.home}\n")
    sys.stdout.flush()
    return 0


def _remember_quota(box, quota: str | None) -> None:
    """isolate takes -q at --init: every run of the box then keeps it."""
    path = box.home / "isolate.quota"
    if quota is None:
        path.unlink(missing_ok=True)
        return
    from ..limits import parse_quota
    parse_quota(quota)
    path.write_text(quota + "\n")


def _cleanup(inv: Invocation) -> int:
    from ..session import cleanup_box
    cleanup_box(inv.box_id, wait=_wait(inv) or 2.0)
    return 0


def _wait(inv: Invocation) -> float:
    return float("inf") if inv.wait else 0.0


def _run(inv: Invocation) -> int:
    from ..box import BoxDir, box_root
    from ..outputs import OperatorFile, ProgramStdio, ensure_standard_fds
    from ..request import RunRequest
    from ..run_command import terminate_cleanly
    from ..session import BoxSession

    ensure_standard_fds()
    meta = OperatorFile(inv.meta, "--meta") if inv.meta else None
    stdio = None
    try:
        try:
            options = dict(inv.request)
            if "quota" not in options:
                remembered = BoxDir(inv.box_id).home / "isolate.quota"
                if remembered.is_file():
                    options["quota"] = remembered.read_text().strip()
            request = RunRequest.from_options({"argv": inv.argv, **options}, str(box_root()),
                                              inherit_stdio=True)
            slots = tuple(slot for slot, path in ((0, request.stdin), (1, request.stdout),
                                                  (2, request.stderr))
                          if path is None and not (slot == 2 and request.stderr_to_stdout))
            stdio = ProgramStdio(slots)
            request.stdio_fds = tuple(stdio.fds)
            terminate_cleanly()
            if inv.verbose:
                _say(f"box {inv.box_id}: {inv.argv} with {options}")
            with BoxSession(inv.box_id, wait=_wait(inv)) as session:
                verdict = session.run(request)
                session.box.remove_special_files()   # isolate's default (no --special-files)
        except RustboxError as exc:
            _deliver_failure(meta, str(exc))
            return exc.exit_code
        stdio.finish()
        stdio = None
        return _deliver(inv, verdict, meta)
    finally:
        if stdio is not None:
            stdio.finish()
        if meta is not None:
            meta.close()


def _deliver(inv: Invocation, verdict, meta) -> int:
    from ..verdict import EXEC_FAILED, XX, isolate_meta, isolate_status
    status, message = isolate_status(verdict)
    if meta is not None:
        try:
            meta.write(isolate_meta(verdict, cgroup_keys=inv.cg).encode())
        except OSError as exc:
            _say(f"cannot write the meta file {inv.meta}: {exc.strerror or exc}")
            return 2
    if verdict.status == XX and verdict.message.startswith(EXEC_FAILED):
        # isolate's child says this on the program's stderr, then exits 127.
        path, _, reason = verdict.message[len(EXEC_FAILED):].rpartition(": ")
        _say(f'execve("{path or inv.argv[0]}"): {reason}')
    if status == "XX" or not inv.silent:
        _say(message)
    return {None: 0, "XX": 2}.get(status, 1)


def _deliver_failure(meta, message: str) -> None:
    """isolate's die(): status XX in the meta file and the message on stderr."""
    if meta is not None:
        try:
            meta.write(f"status:XX\nmessage:{message}\n".encode())
        except OSError:
            pass
    _say(message)


def _say(line: str) -> None:
    from ..outputs import write_stream
    try:
        write_stream(2, (line + "\n").encode(errors="replace"))
    except OSError:
        pass


def _print_cg_root(inv: Invocation) -> int:
    from ..cgroups import open_box_cgroup
    cgroup = open_box_cgroup(0)
    try:
        sys.stdout.write(os.path.dirname(cgroup.cgroup_dirs()[0]) + "\n")
    finally:
        cgroup.close()
    return 0


def _check_config(inv: Invocation) -> int:
    from ..box import BoxDir
    BoxDir(inv.box_id)   # the box root and uid range are usable
    return 0


def _version(inv: Invocation) -> int:
    sys.stdout.write(VERSION + "\n")
    return 0


VERBS = {"init": _init, "run": _run, "cleanup": _cleanup, "version": _version,
         "print-cg-root": _print_cg_root, "check-config": _check_config}


def main(argv: list[str] | None = None) -> None:
    """The console script. Exit 0/1 as isolate; 2 for the sandbox's own
    failures and bad command lines (one line on stderr, never a traceback)."""
    from ..errors import guarded

    def action() -> int:
        inv = read(sys.argv[1:] if argv is None else argv)
        if inv.mode not in ("version", "check-config"):
            from ..privileges import require_root
            require_root("rustbox-isolate")
        return VERBS[inv.mode](inv)

    status = guarded(action, prefix="rustbox-isolate: error: ")
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(status)


__all__ = ["main", "read", "Invocation"]
