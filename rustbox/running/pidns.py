"""The run's PID namespace: its init at pid 1, reaping every child of ours
born in it, and its end; the program itself as a pidfd (`Program`)."""
from __future__ import annotations

import os
import select
import signal
import time

from .. import namespaces as ns
from ..errors import SetupError
from ..request import DEFAULT_PATH
from .bounds import POLL_MAX, POLL_MIN, STOP_WITHIN
from .child import reset_signals, set_dumpable, set_pdeathsig


class Program:
    """The run's program: a child of ours, signalled through a pidfd so that
    a kill can never reach a later process that happens to reuse its pid."""

    def __init__(self, pid: int):
        if pid <= 0:
            raise ValueError(f"not a child pid: {pid}")
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.status: int | None = None   # its wait status, once reaped

    def kill(self) -> None:
        if self.status is None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        os.close(self.pidfd)


# The namespace's init: `cat` reading a pipe only the supervisor can write
# to. It blocks until the supervisor closes the pipe or dies (end of file:
# init gone -> namespace emptied). Started by posix_spawn (vfork: no copy
# of the supervisor's memory), one small exec costs a fraction of a cloned
# Python init. It does not reap: a zombie orphan keeps its pid until the
# run ends and the namespace goes with its init.
INIT_ARGV = ("/usr/bin/cat",)
_WALL = 0x40000000   # __WALL: wait for children whatever their exit signal


class PidNamespace:
    """The run's PID namespace, anchored by an init at pid 1, and every
    child of ours born in it.

    unshare(CLONE_NEWPID) makes the runner's next child pid 1 of a new
    namespace and every later child a member of it, so the programs the
    runner clones are born inside it as the runner's own children. So are
    the children a program makes with clone(CLONE_PARENT): their parent is
    its parent. Nobody else reaps those, and the init, once killed, cannot
    finish dying (nor its namespace empty) while one of them is a zombie:
    `reap` collects them, and `stop` reaps while it waits for the init.
    The runner's process may have other children (the API's caller, a test):
    only children born in one of our namespaces are ever reaped here.
    """

    def __init__(self):
        self.init_pid: int | None = None
        self._init_pidfd: int | None = None
        self._lifeline: int | None = None   # the write end of the init's stdin
        self._own_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        # Namespaces whose init is not reaped yet (the current one, and any
        # whose init outlived stop()'s bound): ns inode -> (init pid, pidfd).
        self._namespaces: dict[int, tuple[int, int]] = {}

    def ensure(self) -> None:
        if self.init_pid is not None:
            self.reap()
            if self.init_pid is not None:
                return
            # died (killed from outside) and reaped: make a new one
        # unshare only works while our children still go to our own namespace.
        ns.setns(self._own_ns, ns.CLONE_NEWPID)
        try:
            ns.unshare(ns.CLONE_NEWPID)
        except OSError as exc:
            raise SetupError("unshare", exc.errno, "PID namespace") from None
        if os.path.exists(INIT_ARGV[0]):
            pid = self._spawn_init()
        else:  # no coreutils cat: a cloned copy of ourselves, slower
            pid = ns.clone_process(0)
            if pid == 0:
                _init_main()
        self.init_pid, self._init_pidfd = pid, os.pidfd_open(pid)
        inode = os.stat(f"/proc/{pid}/ns/pid").st_ino
        self._namespaces[inode] = (pid, self._init_pidfd)

    def _spawn_init(self) -> int:
        read_end, self._lifeline = os.pipe2(os.O_CLOEXEC)
        try:
            return os.posix_spawn(
                INIT_ARGV[0], INIT_ARGV, {"PATH": DEFAULT_PATH},
                file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0),
                              (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                              (os.POSIX_SPAWN_DUP2, 1, 2)],
                setsid=True, setsigmask=(),
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM))
        except OSError as exc:
            os.close(self._lifeline)
            self._lifeline = None
            raise SetupError("init", exc.errno, "PID namespace") from None
        finally:
            os.close(read_end)

    # -- reaping -----------------------------------------------------------

    def reap(self, program: Program | None = None) -> None:
        """Reap every child of ours born in one of our namespaces that has
        ended; never waits. The program's wait status goes to `program`."""
        seen = set()
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT | _WALL)
            except ChildProcessError:
                return
            if info is None:
                return
            pid = info.si_pid
            if pid in seen or not self._born_here(pid, program):
                # Someone else's child heads the queue and hides ours behind
                # it: look past it, the slow way.
                for pid in _zombie_children():
                    if self._born_here(pid, program):
                        self._reap_one(pid, program)
                return
            seen.add(pid)
            self._reap_one(pid, program)

    def _born_here(self, pid: int, program: Program | None) -> bool:
        if (program is not None and pid == program.pid) or any(
                pid == init for init, _ in self._namespaces.values()):
            return True
        try:
            return os.stat(f"/proc/{pid}/ns/pid").st_ino in self._namespaces
        except OSError:
            return False

    def _reap_one(self, pid: int, program: Program | None) -> None:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG | _WALL)
        except ChildProcessError:
            return
        if reaped != pid:
            return
        if program is not None and pid == program.pid:
            program.status = status
        for inode, (init, pidfd) in list(self._namespaces.items()):
            if pid == init:  # that namespace is empty and gone
                del self._namespaces[inode]
                os.close(pidfd)
                if pid == self.init_pid:
                    self.init_pid = self._init_pidfd = None
                    self._close_lifeline()

    # -- ending ------------------------------------------------------------

    def stop(self, timeout: float = STOP_WITHIN) -> None:
        """Kill the init: the kernel then kills every process in the
        namespace, and the init finishes dying once each is reaped (ours
        too: we reap while we wait). Bounded: an init still dying after
        `timeout` is reaped later, by a later reap()."""
        if self.init_pid is not None:
            try:
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            init_pidfd = self._init_pidfd
            deadline = time.monotonic() + timeout
            step = POLL_MIN
            while True:
                self.reap()
                if self.init_pid is None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                # Readable once the init is a zombie; until then we poll for
                # zombies of ours that it waits for.
                select.select([init_pidfd], [], [], min(step, left))
                step = min(step * 2, POLL_MAX)
            # Still dying: it stays in _namespaces, for a later reap().
            self.init_pid = self._init_pidfd = None
            # Our next children go to our own namespace again: one whose init
            # is gone refuses them (fork fails with ENOMEM), and a process
            # using a box in-process may fork between runs or after them.
            ns.setns(self._own_ns, ns.CLONE_NEWPID)
        self._close_lifeline()
        if self._namespaces:
            self.reap()

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def close(self) -> None:
        self.stop()
        for _, pidfd in self._namespaces.values():
            os.close(pidfd)
        self._namespaces.clear()
        if self._own_ns is not None:
            os.close(self._own_ns)
            self._own_ns = None


def _zombie_children() -> list[int]:
    """Our children that have ended, read from /proc (this kernel may lack
    /proc/PID/task/TID/children); only when waitid cannot show them."""
    me, found = os.getpid(), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == b"Z" and int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def _init_main() -> None:
    """The fallback init (no /usr/bin/cat): holds the namespace open and reaps
    orphans. Never returns."""
    try:
        set_pdeathsig()  # the supervisor gone -> init gone -> namespace gone
        reset_signals()
        os.setsid()
        set_dumpable(False)
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, 1 << 16)  # holds no supervisor fd (lock, pipes)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        while True:
            signal.sigwaitinfo({signal.SIGCHLD})
            while True:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
    finally:
        os._exit(0)
