"""The child's side of a run: its ordered steps between clone and execve
(like isolate's box_inside and nsjail's containProc), each named so that a
failure reaches the supervisor as (step, errno, detail) on the report pipe.

The supervisor computes everything beforehand (`Prepared`) so the child
only acts; it never returns: it execs, or reports and _exits.

`start()` makes the child. The steps are done by the C extension
(_child.c, built by pip from the package's source) in a child cloned with
CLONE_VM: no copy of the interpreter is made, and nothing of Python runs
between clone and execve. The same steps in Python (`program_main`, in a
forked copy of the supervisor) run only where the extension is not built
(`rustbox check-env` says so); both read the same plan (stdio_plan,
mounts.per_run_mounts, rlimit_values, exec_candidates) and report the
same records, so a verdict never depends on which one ran.
"""
from __future__ import annotations

import os
import resource
import signal
import time

from .. import mounts, namespaces as ns
from ..box import BoxDir
from ..errors import SetupError
from ..limits import Limits
from ..request import DEFAULT_PATH, RunRequest
from .bounds import KEYS_WAIT
from .report import fail, report
from .stdio import redirect_stdio, stdio_plan

try:
    from . import _child as _c_child
except ImportError:   # not built (a source tree without `pip install`): the Python steps
    _c_child = None

C_CHILD = _c_child is not None


class Prepared:
    """What the supervisor computes before the clone, so the child only acts."""

    def __init__(self, argv: list[str], env: dict, rules: list, per_run_rules: list,
                 filter, join_fds: list[int], host_netns: int | None):
        self.argv, self.env, self.rules = argv, env, rules
        self.per_run_rules = per_run_rules  # set once the root is prepared
        self.filter, self.join_fds = filter, join_fds
        self.host_netns = host_netns        # fd of the host's netns to enter for --share-net
        self.signals = non_default_signals()  # for the child to put back to the default


def start(box: BoxDir, request: RunRequest, prepared: Prepared, setup_w: int) -> int:
    """Clone the run's child into a new mount namespace (the supervisor's
    prepared root copied); its pid. OSError: the clone failed; SetupError:
    the plan cannot be handed to the child (e.g. a NUL byte), as the child
    would report it."""
    if _c_child is None:
        pid = ns.clone_process(ns.CLONE_NEWNS)
        if pid == 0:
            program_main(box, request, prepared, setup_w)  # never returns
        return pid
    return _c_child.spawn(*_plan(box, request, prepared, setup_w))


def _plan(box: BoxDir, request: RunRequest, prepared: Prepared, setup_w: int) -> tuple:
    """The arguments of _child.spawn: every step's data, as bytes and ints."""
    def encoded(step: str, text: str) -> bytes:
        if "\0" in text:
            raise SetupError(step, 0, "embedded null byte")   # as os.execve/os.open say
        return os.fsencode(text)

    for key in prepared.env:
        if not key or "=" in key[1:]:
            raise SetupError("exec", 0, "illegal environment variable name")
    new_root = str(box.mount_point)
    stdio = tuple((kind, fd, encoded("stdio", path), flags, reading)
                  for kind, fd, path, flags, reading in stdio_plan(request))
    argv = [encoded("exec", arg) for arg in prepared.argv]
    envp = [encoded("exec", f"{key}={value}") for key, value in prepared.env.items()]
    candidates = [encoded("exec", path) for path in exec_candidates(prepared.argv[0],
                                                                    prepared.env)]
    mount_steps = [(os.fsencode(source), os.fsencode(target), fstype.encode(), flags, data.encode())
                   for source, target, fstype, flags, data
                   in mounts.per_run_mounts(new_root, prepared.per_run_rules, request.limits.mem)]
    return (setup_w, list(prepared.signals),
            -1 if prepared.host_netns is None else prepared.host_netns,
            mount_steps, os.fsencode(new_root),
            rlimit_values(request.limits) + [LATE_MARKER] + late_rlimit_values(request.limits),
            _last_cap(),
            box.uid, box.gid, f"{box.uid:5d}:".encode(), KEYS_WAIT, stdio,
            None if prepared.filter is None else prepared.filter.bpf, list(prepared.join_fds),
            argv, envp, candidates, ns.CLONE_NEWNS,
            b"" if request.chdir is None else encoded("chdir", request.chdir))


def program_main(box: BoxDir, request: RunRequest, prepared: Prepared, setup_w: int) -> None:
    """The cloned child: every set-up step, then exec. Never returns."""
    step = "signals"
    try:
        reset_signals(prepared.signals)
        os.setsid()  # the terminal's Ctrl-C is for rustbox, not the program
        if prepared.host_netns is not None:
            step = "network"
            ns.setns(prepared.host_netns, ns.CLONE_NEWNET)
        step = "keyrings"
        ns.join_new_session_keyring()
        step = "mount"
        mounts.enter_root(str(box.mount_point), prepared.per_run_rules, request.limits.mem)
        step = "rlimits"
        for which, value in rlimit_values(request.limits):
            resource.setrlimit(which, (value, value))
        step = "capabilities"
        _drop_capabilities()
        step = "setuid"
        os.setgroups([])
        os.setresgid(box.gid, box.gid, box.gid)
        os.setresuid(box.uid, box.uid, box.uid)
        step = "keyrings"
        ns.empty_user_keyrings(box.uid, KEYS_WAIT)
        step = "stdio"
        # (Set after the uid change, which clears it.) A FIFO below may block
        # until the wall limit: should the supervisor die meanwhile, so do we.
        set_pdeathsig()
        redirect_stdio(stdio_plan(request), setup_w)
        if request.chdir is not None:
            step = "chdir"   # after the redirections, as isolate: they stay relative to /box
            os.chdir(request.chdir)
        step = "no_new_privs"
        _no_new_privs()
        step = "fds"
        ns.cloexec_from(3)  # no supervisor fd survives the exec
        step = "rlimits"
        _set_late_rlimits(request.limits)
        if prepared.filter is not None:
            step = "seccomp"
            prepared.filter.load()
        step = "cgroup"
        for fd in prepared.join_fds:
            os.write(fd, b"0")
        # CPU time counts from here (the last join): so does wall time.
        report(setup_w, "start", repr(time.monotonic()))
        step = "exec"
        _exec(prepared.argv, prepared.env)
    except BaseException as exc:  # noqa: BLE001 - everything must end in _exit
        fail(setup_w, step, exc)


def exec_candidates(program: str, env: dict) -> list[str]:
    """Where execve tries `program`, in order: itself when it has a slash,
    else each directory of the program's PATH."""
    if "/" in program:
        return [program]
    return [os.path.join(directory or ".", program)
            for directory in env.get("PATH", DEFAULT_PATH).split(":")]


def _exec(argv: list[str], env: dict) -> None:
    last = None
    for path in exec_candidates(argv[0], env):
        try:
            os.execve(path, argv, env)
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            last = exc
    raise last


def _clamped(which: int, value: int) -> tuple[int, int]:
    # Hard limits can be lowered but not raised there (no CAP_SYS_RESOURCE):
    # the child's hard limits are ours (inherited), read here.
    inf = resource.RLIM_INFINITY
    _, hard = resource.getrlimit(which)
    if hard != inf and (value == inf or value > hard):
        value = hard
    return which, value


def rlimit_values(limits: Limits) -> list[tuple[int, int]]:
    """(resource, soft = hard value) the child sets before its uid change;
    RLIM_INFINITY is -1."""
    inf = resource.RLIM_INFINITY
    found = [_clamped(resource.RLIMIT_CORE, 0),
             _clamped(resource.RLIMIT_FSIZE, inf if limits.fsize is None else limits.fsize),
             _clamped(resource.RLIMIT_STACK, inf if limits.stack is None else limits.stack),
             _clamped(resource.RLIMIT_MEMLOCK, 0)]
    if limits.cpu_kill_at is not None:
        # A backstop only: the supervisor stops the run long before this.
        found.append(_clamped(resource.RLIMIT_CPU, int(limits.cpu_kill_at) + 2))
    return found


def late_rlimit_values(limits: Limits) -> list[tuple[int, int]]:
    """The limits the set-up itself would trip over (it opens files: the
    keyrings, the stdio files; it allocates), set once it is done, right
    before the seccomp filter. Virtual memory per process: an allocation
    past it fails at once (malloc returns NULL, new throws) instead of
    touching pages up to the cgroup's limit; what judges give native code
    so a memory hog is a runtime error."""
    return [_clamped(resource.RLIMIT_NOFILE, limits.open_files),
            _clamped(resource.RLIMIT_AS, resource.RLIM_INFINITY if limits.address_space is None
                     else limits.address_space)]


# In the C child's one rlimits list, the early limits come first, then this
# marker, then the late ones.
LATE_MARKER = (-1, 0)


def _set_late_rlimits(limits: Limits) -> None:
    for which, value in late_rlimit_values(limits):
        resource.setrlimit(which, (value, value))


def non_default_signals() -> list[int]:
    """The signals whose disposition is not the default here (Python's SIGINT
    handler, its ignored SIGPIPE and SIGXFSZ, a SIGTERM handler...). Python
    knows every disposition (it reads them all at start-up). Computed in
    the supervisor, so the child touches as little Python as it can."""
    found = []
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(signum) not in (signal.SIG_DFL, None):
                found.append(signum)
        except (OSError, ValueError):
            pass
    return found


def reset_signals(signals: list[int] | None = None) -> None:
    # exec keeps ignored signals: a program past --fsize must die of SIGXFSZ.
    for signum in non_default_signals() if signals is None else signals:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _drop_capabilities() -> None:
    import prctl  # imported by the supervisor already (see _preload)
    for cap in range(0, _last_cap() + 1):
        prctl.capbset_drop(cap)
    # No way back to root powers: root is not special and keep-caps is locked.
    prctl.securebits.noroot = True
    prctl.securebits.noroot_locked = True
    prctl.securebits.no_setuid_fixup_locked = True
    prctl.securebits.keep_caps_locked = True


def _no_new_privs() -> None:
    import prctl
    prctl.set_no_new_privs(1)


def set_pdeathsig() -> None:
    import prctl
    prctl.set_pdeathsig(signal.SIGKILL)


def set_dumpable(flag: bool) -> None:
    import prctl
    prctl.set_dumpable(flag)


_LAST_CAP = None


def _last_cap() -> int:
    global _LAST_CAP
    if _LAST_CAP is None:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            _LAST_CAP = int(f.read())
    return _LAST_CAP


def _preload() -> None:
    """Import and read now what the child needs after pivot_root."""
    import prctl  # noqa: F401
    _last_cap()


_preload()
