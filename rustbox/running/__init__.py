"""One run: clone into namespaces -> set-up steps -> exec; the supervisor loop.

The package, one concern a module (nothing is imported here, so importing
one of them loads only what it needs; named `running`, not `run`: a
submodule rustbox.run would replace the API's rustbox.run() once imported):

    runner.py     Runner: the supervisor, and the run's one failure boundary
    child.py      the child's ordered steps between clone and execve
    stdio.py      opening the program's --stdin/--stdout/--stderr (FIFOs too)
    report.py     the child's report pipe: what it writes, what the supervisor reads
    pidns.py      the run's PID namespace, its init, reaping; the program's pidfd
    spare_ns.py   the next run's network, IPC and UTS namespaces, made ahead
    place.py      what goes into /box first: the program's file, --quota storage
    applied.py    the limits in the box cgroups now, remembered across processes
    bounds.py     how long each wait of a run may last

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
