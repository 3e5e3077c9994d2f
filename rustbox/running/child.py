"""The child's side of a run: its ordered steps between clone and execve
(like isolate's box_inside and nsjail's containProc), each named so that a
failure reaches the supervisor as (step, errno, detail) on the report pipe.

The supervisor computes everything beforehand (`Prepared`) so the child
only acts; it never returns: it execs, or reports and _exits.
"""
from __future__ import annotations

import os
import resource
import signal
import time

from .. import mounts, namespaces as ns
from ..box import BoxDir
from ..limits import Limits
from ..request import DEFAULT_PATH, RunRequest
from .bounds import KEYS_WAIT
from .report import fail, report
from .stdio import redirect_stdio


class Prepared:
    """What the supervisor computes before the clone, so the child only acts."""

    def __init__(self, argv: list[str], env: dict, rules: list, per_run_rules: list,
                 filter, join_fds: list[int], host_netns: int | None):
        self.argv, self.env, self.rules = argv, env, rules
        self.per_run_rules = per_run_rules  # set once the root is prepared
        self.filter, self.join_fds = filter, join_fds
        self.host_netns = host_netns        # fd of the host's netns to enter for --share-net
        self.signals = non_default_signals()  # for the child to put back to the default


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
        _set_rlimits(request.limits)
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
        redirect_stdio(request, setup_w)
        if request.chdir is not None:
            step = "chdir"   # after the redirections, as isolate: they stay relative to /box
            os.chdir(request.chdir)
        step = "no_new_privs"
        _no_new_privs()
        step = "fds"
        ns.cloexec_from(3)  # no supervisor fd survives the exec
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


def _exec(argv: list[str], env: dict) -> None:
    program = argv[0]
    if "/" in program:
        os.execve(program, argv, env)
    last = None
    for directory in env.get("PATH", DEFAULT_PATH).split(":"):
        try:
            os.execve(os.path.join(directory or ".", program), argv, env)
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            last = exc
    raise last or FileNotFoundError(2, "not found", program)


def _set_rlimits(limits: Limits) -> None:
    inf = resource.RLIM_INFINITY

    def lower(which, value):
        # Hard limits can be lowered but not raised here (no CAP_SYS_RESOURCE).
        _, hard = resource.getrlimit(which)
        if hard != inf and (value == inf or value > hard):
            value = hard
        resource.setrlimit(which, (value, value))

    lower(resource.RLIMIT_CORE, 0)
    lower(resource.RLIMIT_FSIZE, inf if limits.fsize is None else limits.fsize)
    lower(resource.RLIMIT_STACK, inf if limits.stack is None else limits.stack)
    lower(resource.RLIMIT_NOFILE, limits.open_files)
    # Virtual memory per process: an allocation past it fails at once (malloc
    # returns NULL, new throws) instead of touching pages up to the cgroup's
    # limit; what judges give native code so a memory hog is a runtime error.
    lower(resource.RLIMIT_AS, inf if limits.address_space is None else limits.address_space)
    lower(resource.RLIMIT_MEMLOCK, 0)
    if limits.cpu_kill_at is not None:
        # A backstop only: the supervisor stops the run long before this.
        lower(resource.RLIMIT_CPU, int(limits.cpu_kill_at) + 2)


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
