"""The supervisor of a run (Runner), and the run's one failure boundary:
every failure of the sandbox itself becomes the run's XX verdict in
Runner.run, for the CLI, the API and batch alike. The package docstring
(running/__init__.py) draws the process tree and the bounds of every wait.
"""
from __future__ import annotations

import os
import select
import signal
import time

from .. import mounts
from ..box import BoxDir
from ..cgroups import BoxCgroup
from ..errors import RunEndError, RunStopped, RustboxError, SetupError, UsageError
from ..limits import Limits
from ..request import RunRequest
from ..verdict import SG, Verdict, classify, sandbox_failure
from .applied import AppliedLimits
from .bounds import KILL_MIN, KILL_WITHIN, POLL_MAX, POLL_MIN
from .child import Prepared, start as start_child
from .pidns import PidNamespace, Program
from .place import place_program, set_quota
from .report import read_setup, setup_timeout
from .spare_ns import SpareNamespaces
from .stdio import hand_over_stdio

SIGSYS = 31
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


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
        self.limits = AppliedLimits(box, cgroup)
        self.last_end: float | None = None   # see _run

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
        self.last_end = None   # when the program ended (monotonic), for connected runs
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

    def _prepare(self, request: RunRequest) -> Prepared:
        if not request.argv:
            raise UsageError("no program given")
        argv = list(request.argv)
        set_quota(self.box, self.root, request.limits.quota)
        argv[0] = place_program(self.box, argv[0])
        rules = mounts.merge_rules([] if request.no_default_dirs else mounts.default_rules(),
                                   list(request.dirs))
        self.limits.apply(request.limits)
        self.cgroup.reset()
        return Prepared(argv=argv, env=request.environment(), rules=rules, per_run_rules=[],
                         filter=self._filter(request.seccomp),
                         join_fds=self.cgroup.join_fds(),
                         host_netns=self.spare_ns.host_netns if request.share_net else None)

    def _filter(self, spec: str):
        # Compiling costs ~2 ms (and loading libseccomp ~12): keep one per
        # policy for the runner's life, and the BPF on disk between processes.
        if spec == "off":
            return None
        if spec not in self._filters:
            from ..seccomp_cache import load_filter
            self._filters[spec] = load_filter(spec, str(self.box.root / ".seccomp-cache"))
        return self._filters[spec]

    # -- the run -------------------------------------------------------------

    def _supervise(self, request: RunRequest, prepared: Prepared) -> Verdict:
        setup_r, setup_w = os.pipe2(os.O_CLOEXEC)
        kill_watch = verdict = None
        if prepared.filter is not None:
            from ..seccomp_kills import KillWatcher, forbidden_message
            kill_watch = KillWatcher(self.box.uid, host_netns=self.spare_ns.host_netns)
        # No Ctrl-C or SIGTERM (their handlers raise) between the clone and
        # the `try` that ends the program: a program nobody reaps keeps its
        # PID namespace's init from dying. The child unblocks them itself.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            # Net, IPC, UTS (SpareNamespaces) and PID are new already; the
            # mount namespace is a copy of the prepared root, made here.
            pid = start_child(self.box, request, prepared, setup_w)
        except (OSError, SetupError) as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(setup_r)
            os.close(setup_w)
            if isinstance(exc, SetupError):
                raise
            raise SetupError("clone", exc.errno) from None
        os.close(setup_w)
        hand_over_stdio(request)
        program = Program(pid)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a pending one is raised here
            self.cgroup.prime_join()
            error, started = read_setup(setup_r, setup_timeout(request.limits))
            if error is not None:
                self._end(program)
                raise error
            verdict = self._watch(program, request.limits, started, kill_watch)
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

    def _watch(self, program: Program, limits: Limits, started: float | None = None,
               kill_watch=None) -> Verdict:
        poller = select.poll()
        poller.register(program.pidfd, select.POLLIN)
        if self.stop_fd is not None:
            poller.register(self.stop_fd, select.POLLIN)
        # The filter's first kill of any process of the box ends the run
        # (SG, the call named): a program that forks children to die on
        # forbidden calls would otherwise write one record per child to the
        # host's audit log for as long as its limits allow.
        kill_fds = set(kill_watch.fds() if kill_watch is not None else ())
        for fd in kill_fds:
            poller.register(fd, select.POLLIN)
        forbidden = False
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
            if any(fd in kill_fds for fd, _ in events):
                if kill_watch.killed():
                    forbidden = True
                    break
                events = [(fd, ev) for fd, ev in events if fd not in kill_fds]
            if events:
                # The program has ended (all its threads), or we must stop.
                stopped = any(fd == self.stop_fd for fd, _ in events)
                self.last_end = time.monotonic()
                break
            # A clone(CLONE_PARENT) child of the program is a child of ours:
            # reap those that ended as we go (a zombie holds a pid of pids.max).
            self.pid_ns.reap(program)
        end_by = time.monotonic() + KILL_WITHIN
        if self.last_end is None:
            self.last_end = time.monotonic()
        if killed_for_time or stopped or forbidden:
            program.kill()
            self._kill_box(end_by)
        status = self._collect(program, end_by)
        if forbidden:
            status = SIGSYS     # as if the program itself had made the call
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

    def _collect(self, program: Program, end_by: float) -> int:
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

    def _end(self, program: Program) -> None:
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
