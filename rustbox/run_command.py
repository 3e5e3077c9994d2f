"""`rustbox run`: its options as one table, and the run itself.

The table feeds two front-ends: the click command in cli.py (help, error
messages, every odd case) and `parse_fast()`, a small parser for the
ordinary well-formed command line that lets `rustbox run` start without
importing click (a third of the CLI's start-up). Anything parse_fast does
not fully understand goes to click, so the behaviour is click's.
"""
from __future__ import annotations

# (flag, kind, default, help); kind: "value", "flag" (boolean) or "multi" (repeatable)
RUN_OPTIONS = (
    ("--box-id", "value", "0", "Box number (0-999)."),
    ("--time", "value", None, "CPU time limit, seconds."),
    ("--wall-time", "value", None, "Wall clock limit (default 2*time+1)."),
    ("--extra-time", "value", None, "Grace before the kill, seconds."),
    ("--mem", "value", None, "Memory limit of the box (e.g. 64M)."),
    ("--swap", "value", None, "Swap allowed on top of --mem (default 0)."),
    ("--processes", "value", None, "Max processes+threads (default 1)."),
    ("--cpu-shares", "value", None, "Relative CPU weight."),
    ("--cpus", "value", None, "Hard CPU quota in cores."),
    ("--fsize", "value", None, "Largest file the program may write."),
    ("--stack", "value", None, "Stack size (or 'unlimited')."),
    ("--open-files", "value", None, "Max open files (default 64)."),
    ("--address-space", "value", None, "Virtual memory of each process (RLIMIT_AS)."),
    ("--quota", "value", None, "BLOCKS,INODES /box may hold (1 KiB blocks; a tmpfs)."),
    ("--stdin", "value", None, "File inside the box for stdin."),
    ("--stdout", "value", None, "File inside the box for stdout."),
    ("--stderr", "value", None, "File inside the box for stderr."),
    ("--stderr-to-stdout", "flag", False, "Send stderr to stdout."),
    ("--dir", "multi", (), "HOST[:INSIDE][:rw|:ro|:noexec|:tmp|:maybe|:force] mount rule."),
    ("--no-default-dirs", "flag", False, "Drop the default mount rules."),
    ("--env", "multi", (), "KEY=VALUE for the program."),
    ("--inherit-env", "multi", (), "VAR: pass rustbox's value of VAR (if set)."),
    ("--full-env", "flag", False, "Pass rustbox's whole environment."),
    ("--chdir", "value", None, "Working directory inside the box (default /box)."),
    ("--share-net", "flag", False, "Keep the host's network namespace."),
    ("--seccomp", "value", "default", "off, default, strict or a policy FILE."),
    ("--cg", "value", "auto", "cgroup version when the box is new."),
    ("--wait", "flag", False, "Wait for a busy box instead of failing."),
    ("--meta", "value", None, "Also write isolate's key:value meta file here."),
    ("--json", "value", None, "Write the verdict JSON here instead of stdout."),
)

# The values that make the RunRequest (the rest choose the box and the outputs).
_REQUEST_KEYS = ("time", "wall_time", "extra_time", "mem", "swap", "processes", "cpu_shares",
                 "cpus", "fsize", "stack", "open_files", "quota", "address_space", "stdin",
                 "stdout", "stderr", "stderr_to_stdout", "dir", "no_default_dirs", "env",
                 "inherit_env", "full_env", "chdir", "share_net", "seccomp")


def dest(flag: str) -> str:
    return flag[2:].replace("-", "_")


def parse_fast(args: list[str]) -> dict | None:
    """`run`'s arguments -> values, or None when click should handle them."""
    kinds = {flag: kind for flag, kind, _, _ in RUN_OPTIONS}
    values = {dest(flag): default for flag, _, default, _ in RUN_OPTIONS}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        flag, eq, inline = arg.partition("=")
        kind = kinds.get(flag)
        if kind is None:
            return None  # unknown, -h, --help...: click says it properly
        if kind == "flag":
            if eq:
                return None
            values[dest(flag)] = True
            i += 1
            continue
        if eq:
            value, i = inline, i + 1
        elif i + 1 < len(args):
            value, i = args[i + 1], i + 2
        else:
            return None
        if kind == "multi":
            values[dest(flag)] = (*values[dest(flag)], value)
        else:
            values[dest(flag)] = value
    if i >= len(args):
        return None  # no program: click's usage error
    values["program"], values["args"] = args[i], tuple(args[i + 1:])
    return values


def run(values: dict) -> int:
    """Run the program as `values` says; print the verdict; return the exit status."""
    from .box import box_root, check_box_id
    from .outputs import OperatorFile, ProgramStdio, deliver, ensure_standard_fds
    from .session import BoxSession, JoinWarmer

    ensure_standard_fds()
    box_id = check_box_id(values["box_id"])
    # The operator's files first: a bad path is an error before anything runs.
    meta = json = stdio = None
    try:
        if values["meta"]:
            meta = OperatorFile(values["meta"], "--meta")
        if values["json"]:
            json = OperatorFile(values["json"], "--json")
        # Made (relays started) before the box's PID namespace exists.
        stdio = ProgramStdio(_inherited_slots(values))
        warmer = JoinWarmer(box_id, values["cg"])  # while the rest is imported and checked
        try:
            request = _request(values, box_root())
        except BaseException:
            opened = warmer.stop()
            if opened is not None:
                opened.close()
            raise
        wait = float("inf") if values["wait"] else 0.0
        session = BoxSession(box_id, values["cg"], opened=warmer.stop(), wait=wait).open()
        request.stdio_fds = tuple(stdio.fds)
        with session:
            verdict = session.run(request)
        stdio.finish()
        stdio = None
        return deliver(verdict, meta, json)
    finally:
        if stdio is not None:
            stdio.finish()
        for target in (meta, json):
            if target is not None:
                target.close()


def _inherited_slots(values: dict) -> tuple[int, ...]:
    """The fds among 0-2 the program gets from rustbox rather than from a file."""
    slots = []
    if values["stdin"] is None:
        slots.append(0)
    if values["stdout"] is None:
        slots.append(1)
    if values["stderr"] is None and not values["stderr_to_stdout"]:
        slots.append(2)
    return tuple(slots)


def _request(values: dict, root):
    from .request import RunRequest

    options = {key: values[key] for key in _REQUEST_KEYS}
    request = RunRequest.from_options({"argv": [values["program"], *values["args"]], **options},
                                      str(root), inherit_stdio=True)
    terminate_cleanly()
    return request


def terminate_cleanly() -> None:
    """SIGTERM unwinds like Ctrl-C, so every box, cgroup and process is cleaned up."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)
