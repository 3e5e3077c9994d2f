"""The next run's network, IPC and UTS namespaces, made ahead of it."""
from __future__ import annotations

import os

from .. import namespaces as ns
from ..errors import SetupError


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
