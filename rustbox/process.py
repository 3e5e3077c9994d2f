"""One run: clone into namespaces -> set-up steps -> exec; the supervisor loop.

Process tree of a run (host view):

    supervisor (this process: the CLI or the box helper, single-threaded)
      ├─ init     pid 1 of a fresh PID namespace for each run (`cat` on a
      │           pipe, see PidNamespace); root; never in the box cgroups.
      └─ program  a direct child of the supervisor, born inside init's PID
                  namespace and in the net/IPC/UTS namespaces the supervisor
                  made for this run (SpareNamespaces), with its own mount ns:
                  a new session keyring, mounts its /tmp and /proc, pivots
                  into the prepared root, drops to the box uid (emptying its
                  long-lived keyrings), no capabilities, seccomp, joins the
                  box cgroups as its very last step, execve.

One clone per run, and the supervisor reads the program's own wait status.
Nothing of Python's memory or set-up is charged to the program; when the
run ends the cgroup is frozen and killed (daemons included) and the init
killed, which empties the namespace; when the supervisor dies the init
sees end of file and exits, taking the namespace along.

A run ends whatever the program does: no wait of the supervisor is
unbounded. Children the program makes with clone(CLONE_PARENT) are the
supervisor's (siblings of the program, in its namespace): PidNamespace
reaps them. A program ptrace()d by a process of the box stays a zombie
only its tracer sees: the box is killed to get it back. The kill, the
init's end and the set-up are bounded too, so the verdict comes by the
wall limit plus a second.

The child reports on a close-on-exec pipe (length-prefixed records): a
set-up failure as (step, errno, detail), a step about to wait for someone
else (a FIFO's other end), and the moment it joins the box cgroups, from
which wall time is measured as CPU time is. End of file means the exec
happened.
"""
from __future__ import annotations

import errno
import os
import resource
import select
import signal
import stat
import time

from . import mounts, namespaces as ns
from .box import BoxDir
from .cgroups import BoxCgroup
from .errors import RunEndError, RunStopped, RustboxError, SetupError, UsageError
from .limits import Limits
from .request import DEFAULT_PATH, RunRequest
from .verdict import SG, Verdict, classify, sandbox_failure

POLL_MAX = 0.010        # seconds between CPU checks far from the limit
POLL_MIN = 0.0005       # ... and close to it
SETUP_TIMEOUT = 10.0    # the child must reach exec within this
KEYS_WAIT = 5.0         # ... of which waiting for an earlier run's keys to die
# However a program ends (or refuses to), its run returns by its wall limit
# plus a second: the rest of the box is killed and its processes reaped
# within KILL_WITHIN of the program's end (or of the limit), the PID
# namespace's init within STOP_WITHIN after that.
KILL_WITHIN = 0.4
KILL_MIN = 0.05
STOP_WITHIN = 0.2
SIGSYS = 31
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# Absolute paths the box shows by default: never copied in.
_BOX_VISIBLE = mounts.HOST_VISIBLE + mounts.BOX_OWN


class _Prepared:
    """What the supervisor computes before the clone, so the child only acts."""

    def __init__(self, argv: list[str], env: dict, rules: list, per_run_rules: list,
                 filter, join_fds: list[int], host_netns: int | None):
        self.argv, self.env, self.rules = argv, env, rules
        self.per_run_rules = per_run_rules  # set once the root is prepared
        self.filter, self.join_fds = filter, join_fds
        self.host_netns = host_netns        # fd of the host's netns to enter for --share-net
        self.signals = non_default_signals()  # for the child to put back to the default


class Runner:
    """Runs programs in one box from a single-threaded process."""

    def __init__(self, box: BoxDir, cgroup: BoxCgroup, stop_fd: int | None = None):
        # stop_fd readable: end the run in progress at once (RunStopped);
        # the box helper's signal wake-up pipe.
        self.box, self.cgroup, self.stop_fd = box, cgroup, stop_fd
        self.spare_ns = SpareNamespaces()
        self.pid_ns = PidNamespace()
        self.root = mounts.PreparedRoot(str(box.mount_point), str(box.path))
        self._filters: dict[str, object] = {}
        # The limits in the box cgroups now, remembered across processes
        # (a CLI run with the same limits as the last one writes nothing).
        self._applied_file = box.home / "limits.applied"
        self._applied = None
        if cgroup.stateless_apply:
            try:
                self._applied = self._applied_file.read_text()
            except OSError:
                pass

    def close(self) -> None:
        self.pid_ns.stop()
        self.pid_ns.close()
        self.spare_ns.close()
        self.root.close()

    def run(self, request: RunRequest) -> Verdict:
        """The one boundary of a run: every failure of the sandbox itself
        (a RustboxError: a cgroup write, a set-up step, a bad rule or
        policy) becomes this run's XX verdict here, and nowhere else, so the
        CLI, the API and batch report it alike."""
        try:
            return self._run(request)
        except RustboxError as exc:
            return sandbox_failure(self.box.box_id, str(exc), self.cgroup.version,
                                   request.limits.summary(), request.id)

    def _run(self, request: RunRequest) -> Verdict:
        prepared = self._prepare(request)
        try:
            try:
                self.root.ensure(prepared.rules)
                prepared.per_run_rules = self.root.per_run
            except OSError as exc:
                raise SetupError("mount", exc.errno, exc.strerror or "") from None
            self.spare_ns.ensure()
            self.pid_ns.ensure()   # after: its init joins the fresh namespaces
            return self._supervise(request, prepared)
        finally:
            # Every run gets fresh namespaces: nothing it left there (TIME_WAIT
            # sockets, SysV IPC, message queues) reaches the next, and pids
            # start at 1, 2, ... as in the first run: a program cannot tell
            # how many ran before it.
            self.spare_ns.spend()
            self.pid_ns.stop()

    def prepare_next(self) -> None:
        """Make the next run's namespaces now, while the caller is idle (the
        box helper calls it after answering): their ~1.5 ms is then off the
        next run's path."""
        try:
            self.spare_ns.ensure()
            self.pid_ns.ensure()
        except SetupError:
            pass  # the next run tries again and reports it

    # -- before the clone --------------------------------------------------

    def _prepare(self, request: RunRequest) -> _Prepared:
        if not request.argv:
            raise UsageError("no program given")
        argv = list(request.argv)
        self._set_quota(request.limits.quota)
        argv[0] = self._place_program(argv[0])
        rules = mounts.merge_rules([] if request.no_default_dirs else mounts.default_rules(),
                                   list(request.dirs))
        wanted = f"{self.cgroup.apply_revision} {request.limits!r}"
        if wanted != self._applied:  # ~0.3 ms of cgroup writes saved per run
            self._applied = None
            self._applied_file.unlink(missing_ok=True)
            self.cgroup.apply(request.limits)
            self._applied_file.write_text(wanted)
            self._applied = wanted
        self.cgroup.reset()
        return _Prepared(argv=argv, env=request.environment(), rules=rules, per_run_rules=[],
                         filter=self._filter(request.seccomp),
                         join_fds=self.cgroup.join_fds(),
                         host_netns=self.spare_ns.host_netns if request.share_net else None)

    def _set_quota(self, quota) -> None:
        """/box on the storage the run's --quota asks for (quota.py), before
        anything is copied in."""
        if quota is None and not os.path.ismount(self.box.path):
            return   # the common case, in one stat
        from . import quota as box_quota
        if box_quota.needs_new_storage(self.box, quota):
            self.root.leave()   # mounted or unmounted where the host sees it
        try:
            box_quota.set_quota(self.box, quota)
        except OSError as exc:
            raise SetupError("quota", exc.errno, exc.strerror or "") from None

    def _filter(self, spec: str):
        # Compiling costs ~2 ms (and loading libseccomp ~12): keep one per
        # policy for the runner's life, and the BPF on disk between processes.
        if spec == "off":
            return None
        if spec not in self._filters:
            from .seccomp_cache import load_filter
            self._filters[spec] = load_filter(spec, str(self.box.root / ".seccomp-cache"))
        return self._filters[spec]

    def _place_program(self, program: str) -> str:
        """Copy a host file into the box when the box lacks it (or has an
        older copy: `gcc -o a.out && rustbox run ./a.out` must run the new one)."""
        if "/" not in program:
            return program  # searched on PATH inside the box
        if program.startswith("/"):
            if any(program == p or program.startswith(p + "/") for p in _BOX_VISIBLE):
                return program
            if os.path.isfile(program):
                name = os.path.basename(program)
                self.box.install_file(program, name)
                return "/box/" + name
            return program
        if os.path.isfile(program):
            inside = os.path.normpath(program)
            if inside.startswith(".."):
                raise UsageError(f"program {program} lies outside the current directory; "
                                 "give an absolute path")
            self.box.install_file(program, inside)
        return program

    # -- the run -------------------------------------------------------------

    def _supervise(self, request: RunRequest, prepared: _Prepared) -> Verdict:
        setup_r, setup_w = os.pipe2(os.O_CLOEXEC)
        kill_watch = verdict = None
        if prepared.filter is not None:
            from .seccomp_kills import KillWatcher, forbidden_message
            kill_watch = KillWatcher(self.box.uid, host_netns=self.spare_ns.host_netns)
        # No Ctrl-C or SIGTERM (their handlers raise) between the clone and
        # the `try` that ends the program: a program nobody reaps keeps its
        # PID namespace's init from dying. The child unblocks them itself.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            # Net, IPC, UTS (SpareNamespaces) and PID are new already; the
            # mount namespace is a copy of the prepared root, made here.
            pid = ns.clone_process(ns.CLONE_NEWNS)
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(setup_r)
            os.close(setup_w)
            raise SetupError("clone", exc.errno) from None
        if pid == 0:
            os.close(setup_r)
            _program_main(self.box, request, prepared, setup_w)  # never returns
        os.close(setup_w)
        program = _Program(pid)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a pending one is raised here
            self.cgroup.prime_join()
            error, started = _read_setup(setup_r, _setup_timeout(request.limits))
            if error is not None:
                self._end(program)
                raise error
            verdict = self._watch(program, request.limits, started)
        except RunStopped:
            raise                   # ended and reaped already
        except BaseException:
            self._end(program)
            raise
        finally:
            program.close()
            os.close(setup_r)
            if kill_watch is not None:
                # Ask before close(): the report arrives through the watcher.
                if verdict is not None and verdict.status == SG and verdict.signal == SIGSYS:
                    verdict.message = forbidden_message(kill_watch.syscall_name())
                kill_watch.close()
        return verdict

    def _watch(self, program: "_Program", limits: Limits, started: float | None = None) -> Verdict:
        poller = select.poll()
        poller.register(program.pidfd, select.POLLIN)
        if self.stop_fd is not None:
            poller.register(self.stop_fd, select.POLLIN)
        # From the moment the program joined its cgroups, as its CPU time is.
        start = time.monotonic() if started is None else started
        cpu_limit, wall_limit = limits.cpu_kill_at, limits.wall_kill_at
        cpus = limits.cpus or os.cpu_count() or 1
        killed_for_time = stopped = False
        while True:
            elapsed = time.monotonic() - start
            timeout = POLL_MAX
            if cpu_limit is not None:
                cpu = self.cgroup.cpu_time()
                if cpu > cpu_limit:
                    killed_for_time = True
                    break
                # CPU time cannot grow faster than `cpus` per wall second.
                timeout = min(timeout, (cpu_limit - cpu) / cpus)
            if wall_limit is not None:
                if elapsed > wall_limit:
                    killed_for_time = True
                    break
                timeout = min(timeout, wall_limit - elapsed)
            events = poller.poll(max(timeout, POLL_MIN) * 1000)
            if events:
                # The program has ended (all its threads), or we must stop.
                stopped = any(fd == self.stop_fd for fd, _ in events)
                break
            # A clone(CLONE_PARENT) child of the program is a child of ours:
            # reap those that ended as we go (a zombie holds a pid of pids.max).
            self.pid_ns.reap(program)
        end_by = time.monotonic() + KILL_WITHIN
        if killed_for_time or stopped:
            program.kill()
            self._kill_box(end_by)
        status = self._collect(program, end_by)
        if stopped:
            self._kill_box(end_by)
            self.pid_ns.reap(program)
            raise RunStopped("the run was stopped: its box was closed")
        wall_time = time.monotonic() - start
        # Children the program left behind (daemons too) go with the cgroup.
        self._kill_box(end_by)
        self.pid_ns.reap(program)
        stats = self.cgroup.stats()
        return classify(self.box.box_id, limits, None if killed_for_time else status,
                        stats.cpu_time, wall_time, stats.memory_peak, stats.oom_kills,
                        killed_for_time, self.cgroup.version)

    def _collect(self, program: "_Program", end_by: float) -> int:
        """The program's wait status, by `end_by`. An ended program is
        normally reaped at once; one that a process of the box ptrace()s
        stays a zombie that only its tracer can see, for as long as the
        tracer lives: killing the box hands it back to us."""
        self.pid_ns.reap(program)
        if program.status is None:
            program.kill()
            self._kill_box(end_by)
        step = POLL_MIN
        while program.status is None:
            left = end_by - time.monotonic()
            if left <= 0:
                raise RunEndError(f"the program (pid {program.pid}) could not be reaped "
                                  f"within {KILL_WITHIN} s of its end")
            time.sleep(min(step, left))
            step = min(step * 2, POLL_MAX)
            self.pid_ns.reap(program)
        return program.status

    def _kill_box(self, end_by: float) -> None:
        # At least a moment: SIGKILLed tasks take a little while to leave.
        self.cgroup.kill_all(max(KILL_MIN, end_by - time.monotonic()))

    def _end(self, program: "_Program") -> None:
        """Kill a program that must not go on, and everything it started;
        bounded, and best effort: the caller is already failing the run,
        and the namespace's end (PidNamespace.stop) reaps what is left."""
        end_by = time.monotonic() + KILL_WITHIN
        program.kill()
        try:
            self._kill_box(end_by)
        except RustboxError:
            pass
        while program.status is None and time.monotonic() < end_by:
            self.pid_ns.reap(program)
            if program.status is None:
                time.sleep(POLL_MIN)

def _setup_timeout(limits: Limits) -> float:
    """How long the child may take to reach exec (a FIFO's peer included):
    never much past the run's wall limit."""
    if limits.wall_kill_at is None:
        return SETUP_TIMEOUT
    return min(SETUP_TIMEOUT, limits.wall_kill_at + 1.0)


def _read_setup(fd: int, timeout: float = SETUP_TIMEOUT) -> tuple[SetupError | None,
                                                                  float | None]:
    """The child's reports until its exec: (the set-up error or None, the
    monotonic time it joined its cgroups or None)."""
    data = b""
    deadline = time.monotonic() + timeout
    error = started = waiting = None
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            if waiting is not None:
                step, detail = waiting
                return SetupError(step, 0, f"{detail}: nobody opened its other end within "
                                           f"{timeout:g} s"), None
            return SetupError("exec", 0, "the sandboxed child did not start in time"), None
        chunk = os.read(fd, 4096)
        if not chunk:
            return error, started
        data += chunk
        while len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[:4], "little"):
            size = int.from_bytes(data[:4], "little")
            kind, *fields = data[4:4 + size].decode(errors="replace").split("\0")
            data = data[4 + size:]
            if kind == "error":
                step, err, detail = fields
                error = SetupError(step, int(err), detail)
            elif kind == "wait":
                waiting = tuple(fields)
            elif kind == "start":
                started = float(fields[0])


# -- the child side (runs after clone; never returns) -------------------------

def _report(fd: int, *fields: str) -> None:
    """One record to the supervisor (see _read_setup)."""
    data = "\0".join(fields).encode(errors="replace")
    os.write(fd, len(data).to_bytes(4, "little") + data)


def _fail(fd: int, step: str, exc: BaseException) -> None:
    err = getattr(exc, "errno", 0) or 0
    detail = getattr(exc, "filename", None) or (str(exc) if not err else "")
    if isinstance(exc, OSError) and exc.filename is None and exc.strerror and ":" in exc.strerror:
        detail = exc.strerror.split(":")[0]
    try:
        _report(fd, "error", step, str(err), str(detail))
    except OSError:
        pass
    os._exit(127)


def _program_main(box: BoxDir, request: RunRequest, prepared: _Prepared, setup_w: int) -> None:
    """The cloned child: every set-up step, then exec. Never returns."""
    step = "signals"
    try:
        _reset_signals(prepared.signals)
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
        _set_pdeathsig()
        _redirect_stdio(request, setup_w)
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
        _report(setup_w, "start", repr(time.monotonic()))
        step = "exec"
        _exec(prepared.argv, prepared.env)
    except BaseException as exc:  # noqa: BLE001 - everything must end in _exit
        _fail(setup_w, step, exc)


class SpareNamespaces:
    """The next run's network, IPC and UTS namespaces, made ahead of it.

    The supervisor unshares them for itself (loopback up, host name set)
    and the run's clone inherits them. A run spends them: what it left in
    them (TIME_WAIT sockets whose ports spell a message, abstract sockets,
    SysV IPC, POSIX message queues) goes with them once its processes are
    dead and the supervisor has moved on to new ones, and the next run
    starts from namespaces nothing has touched. The box helper makes them
    while idle (Runner.prepare_next); the CLI, one run per process, makes
    them before its one run. The mount namespace is cloned with the program
    (pivot_root must not move the supervisor's root) and the PID namespace
    has its own init (PidNamespace).
    """

    FLAGS = ns.CLONE_NEWNET | ns.CLONE_NEWIPC | ns.CLONE_NEWUTS

    def __init__(self):
        # The namespace we started in: --share-net runs go back to it, and
        # the audit socket (seccomp_kills) must be made there.
        self.host_netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.fresh = False

    def ensure(self) -> None:
        if self.fresh:
            return
        try:
            ns.unshare(self.FLAGS)
            ns.loopback_up()
            ns.sethostname("rustbox")
        except OSError as exc:
            raise SetupError("namespaces", exc.errno, "network, IPC and UTS") from None
        self.fresh = True

    def spend(self) -> None:
        self.fresh = False

    def close(self) -> None:
        if self.host_netns is not None:
            os.close(self.host_netns)
            self.host_netns = None


class _Program:
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

    def reap(self, program: _Program | None = None) -> None:
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

    def _born_here(self, pid: int, program: _Program | None) -> bool:
        if (program is not None and pid == program.pid) or any(
                pid == init for init, _ in self._namespaces.values()):
            return True
        try:
            return os.stat(f"/proc/{pid}/ns/pid").st_ino in self._namespaces
        except OSError:
            return False

    def _reap_one(self, pid: int, program: _Program | None) -> None:
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
        _set_pdeathsig()  # the supervisor gone -> init gone -> namespace gone
        _reset_signals()
        os.setsid()
        _set_dumpable(False)
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
    lower(resource.RLIMIT_MEMLOCK, 0)
    if limits.cpu_kill_at is not None:
        # A backstop only: the supervisor stops the run long before this.
        lower(resource.RLIMIT_CPU, int(limits.cpu_kill_at) + 2)


def _redirect_stdio(request: RunRequest, setup_w: int) -> None:
    def attach(path, target, flags):
        if path is None:
            if request.inherit_stdio:
                if request.stdio_fds is not None and request.stdio_fds[target] is not None:
                    os.dup2(request.stdio_fds[target], target)
                return
            path = "/dev/null"
        fd = _open_stdio(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, setup_w)
        os.dup2(fd, target)
        os.close(fd)

    attach(request.stdin, 0, os.O_RDONLY)
    attach(request.stdout, 1, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    if request.stderr_to_stdout:
        os.dup2(1, 2)
    else:
        attach(request.stderr, 2, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)


def _open_stdio(path: str, flags: int, setup_w: int) -> int:
    """A --stdin/--stdout/--stderr file, opened as the box uid: a regular
    file or a device, or a FIFO once its other end is open (a wait the
    supervisor bounds and names); a directory or a socket is an error.

    A FIFO is opened exactly once: a probe opened and closed again would let
    the peer's open complete and its data (or its EOF) go to the probe."""
    reading = flags & os.O_ACCMODE == os.O_RDONLY
    if reading and stat.S_ISFIFO(os.stat(path, follow_symlinks=False).st_mode):
        return _wait_for_fifo(path, flags, setup_w)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, 0o644)  # a FIFO must not block here
    except OSError as exc:
        if exc.errno != errno.ENXIO:      # ENXIO: a FIFO with no reader yet
            raise
        return _wait_for_fifo(path, flags, setup_w)
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind in (stat.S_IFREG, stat.S_IFCHR) or (kind == stat.S_IFIFO and not reading):
        os.set_blocking(fd, True)         # a FIFO written to: its reader is there
        return fd
    os.close(fd)
    if kind == stat.S_IFIFO:              # swapped in since the check above
        return _wait_for_fifo(path, flags, setup_w)
    if kind == stat.S_IFDIR:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    raise ValueError(f"{path}: a socket or a block device, not a file")


def _wait_for_fifo(path: str, flags: int, setup_w: int) -> int:
    _report(setup_w, "wait", "stdio", f"{path} is a FIFO")
    fd = os.open(path, flags, 0o644)      # until the other end opens it
    if stat.S_IFMT(os.fstat(fd).st_mode) not in (stat.S_IFIFO, stat.S_IFREG, stat.S_IFCHR):
        os.close(fd)                      # swapped for something else meanwhile
        raise ValueError(f"{path}: a socket or a block device, not a file")
    return fd


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


def _reset_signals(signals: list[int] | None = None) -> None:
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


def _set_pdeathsig() -> None:
    import prctl
    prctl.set_pdeathsig(signal.SIGKILL)


def _set_dumpable(flag: bool) -> None:
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
