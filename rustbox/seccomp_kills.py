"""Which system call got a program killed by its seccomp filter.

A filter kill is SIGSYS (31) with nothing else in the wait status, so the
name of the forbidden call comes from the kernel's audit record of the kill
(type 1326, AUDIT_SECCOMP). `KillWatcher(uid)` is opened before the run and
`watcher.syscall_name()` read after it. See seccomp.py for why audit records.
"""
from __future__ import annotations

import errno
import os
import select
import struct
import threading
import time
import weakref

from . import namespaces as ns

# The audit record of a filter kill: its netlink message type and the
# `code=` values of SECCOMP_RET_KILL_PROCESS and SECCOMP_RET_KILL_THREAD.
AUDIT_SECCOMP = 1326
_KILL_CODES = ("0x80000000", "0x0")
_AUDIT_NLGRP_READLOG = 1
_NETLINK_AUDIT = 9
_X32_SYSCALL_BIT = 0x40000000





_WANTED = ("uid", "pid", "sig", "arch", "syscall", "code")


def _parse_record(text: str) -> dict[str, str] | None:
    """The fields of one AUDIT_SECCOMP kill record, or None for anything else."""
    fields = {}
    for token in text.split():
        key, eq, value = token.partition("=")
        if eq and key in _WANTED and key not in fields:
            fields[key] = value
    if fields.get("sig") != "31" or fields.get("code") not in _KILL_CODES:
        return None
    if "uid" not in fields or "syscall" not in fields or "arch" not in fields:
        return None
    return fields


def _syscall_label(arch_hex: str, number: int) -> str:
    """'ptrace', or 'getpid (i386 ABI)' for a call from a foreign ABI."""
    import pyseccomp
    arch = int(arch_hex, 16)
    native = pyseccomp.system_arch()
    abi = ""
    if arch != native:
        abi = {pyseccomp.Arch.X86: "i386"}.get(arch, f"arch {arch_hex}")
    elif number & _X32_SYSCALL_BIT and arch == pyseccomp.Arch.X86_64:
        arch, abi = pyseccomp.Arch.X32, "x32"
    try:
        name = pyseccomp.resolve_syscall(arch, number).decode()
    except ValueError:
        name = f"syscall {number}"
    return f"{name} ({abi} ABI)" if abi else name


def forbidden_message(name: str | None) -> str:
    """The verdict message for a SIGSYS death."""
    if name is None:  # e.g. the program raised SIGSYS itself, or reports are off
        return "caught fatal signal 31 (SIGSYS); the kernel reported no forbidden system call"
    return f"forbidden system call: {name}"


class _AuditLog:
    """The process's one subscription to the audit "read log" netlink group.

    The kernel multicasts audit records only in the initial network
    namespace, and a socket keeps the namespace it was made in: a supervisor
    that moved into a private netns (every runner: running/spare_ns.SpareNamespaces)
    passes the fd of the host's netns and the socket is made there, once. Records are handed to
    every live KillWatcher, so two watchers in one process never steal
    each other's reports.
    """

    def __init__(self):
        self.sock = None  # a _socket.socket once open
        self.tried = False
        self.lock = threading.Lock()
        self.watchers: "weakref.WeakSet[KillWatcher]" = weakref.WeakSet()

    def open(self, host_netns: int | None) -> None:
        with self.lock:
            if self.tried:
                return
            self.tried = True
            back = None
            try:
                if host_netns is not None:
                    back = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                    ns.setns(host_netns, ns.CLONE_NEWNET)
                # The C module: `socket` itself costs a few ms to import.
                import _socket
                sock = _socket.socket(_socket.AF_NETLINK,
                                      _socket.SOCK_RAW | _socket.SOCK_NONBLOCK
                                      | _socket.SOCK_CLOEXEC, _NETLINK_AUDIT)
                try:
                    sock.bind((0, _AUDIT_NLGRP_READLOG))
                    # Other audit traffic shares the group: room for bursts.
                    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 1 << 20)
                except OSError:
                    sock.close()
                    raise
                self.sock = sock
            except OSError:
                self.sock = None  # no CAP_AUDIT_READ, or no audit: /dev/kmsg only
            finally:
                if back is not None:
                    ns.setns(back, ns.CLONE_NEWNET)
                    os.close(back)

    def pump(self) -> None:
        """Read every waiting record and offer the kills to the watchers."""
        if self.sock is None:
            return
        with self.lock:
            while True:
                try:
                    data = self.sock.recv(1 << 16)
                except BlockingIOError:
                    return
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS:  # overrun while idle: go on
                        continue
                    return
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if length < 16:
                        break
                    if kind == AUDIT_SECCOMP:
                        record = data[offset + 16:offset + length]
                        for watcher in list(self.watchers):
                            watcher._offer(record)
                    offset += (length + 3) & ~3


_audit_log = _AuditLog()


class KillWatcher:
    """Collects the kernel's reports of seccomp kills for one box uid.

    Open it before the program starts (it only sees later kills) and read
    `syscall_name()` after a SIGSYS death, before `close()`. Two sources:
    the audit netlink multicast group (every record; needs CAP_AUDIT_READ
    and a socket made in the initial network namespace: pass `host_netns`,
    an fd of that namespace, when the caller lives in another one) and
    /dev/kmsg (wherever root can read it, but rate-limited by printk).
    """

    def __init__(self, uid: int, host_netns: int | None = None):
        self.uid = str(uid)
        self._kmsg: int | None = None
        self._found: list[dict[str, str]] = []
        _audit_log.open(host_netns)
        _audit_log.pump()               # records from before this run go elsewhere
        _audit_log.watchers.add(self)
        try:
            fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.lseek(fd, 0, os.SEEK_END)  # only records from now on
            self._kmsg = fd
        except OSError:
            pass

    @property
    def sources(self) -> list[str]:
        """Where reports can come from: 'audit-netlink', 'kmsg'."""
        return ((["audit-netlink"] if _audit_log.sock is not None else [])
                + (["kmsg"] if self._kmsg is not None else []))

    def fds(self) -> list[int]:
        """What to poll: readable when a report may have arrived."""
        fds = [_audit_log.sock.fileno()] if _audit_log.sock is not None else []
        return fds + ([self._kmsg] if self._kmsg is not None else [])

    def killed(self) -> int:
        """How many kills of the box's processes were reported so far
        (reads what has arrived; never waits)."""
        self._drain()
        return len(self._found)

    def _drain(self) -> None:
        _audit_log.pump()
        if self._kmsg is None:
            return
        while True:
            try:
                record = os.read(self._kmsg, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # the ring buffer overran us
                    continue
                break
            if b"type=1326" in record:
                self._offer(record)

    def _offer(self, raw: bytes) -> None:
        fields = _parse_record(raw.decode("utf-8", "replace"))
        if fields is not None and fields["uid"] == self.uid:
            self._found.append(fields)

    def syscall_name(self, pid: int | None = None, timeout: float = 0.25) -> str | None:
        """The call that got the box's program killed, or None if unreported.

        Waits up to `timeout` for the kernel's audit thread to deliver the
        record (it is queued before the process dies; measured delivery is
        tens of microseconds). With `pid` (a host pid) a kill of that process
        wins over a kill of another process of the box.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            if pid is not None:
                for fields in self._found:
                    if fields.get("pid") == str(pid):
                        return _syscall_label(fields["arch"], int(fields["syscall"]))
            elif self._found:
                break
            left = deadline - time.monotonic()
            fds = self.fds()
            if left <= 0 or not fds:
                break
            select.select(fds, [], [], left)
        if not self._found:
            return None
        first = self._found[0]
        return _syscall_label(first["arch"], int(first["syscall"]))

    def close(self) -> None:
        _audit_log.watchers.discard(self)
        if self._kmsg is not None:
            os.close(self._kmsg)
            self._kmsg = None

    def __enter__(self) -> "KillWatcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def kill_reporting() -> tuple[bool, str]:
    """For check-env: can this host name the call behind a seccomp kill?"""
    try:
        with open("/proc/sys/kernel/seccomp/actions_logged") as f:
            logged = f.read().split()
    except OSError:
        return False, "no /proc/sys/kernel/seccomp/actions_logged: seccomp kills cannot be named"
    if "kill_process" not in logged:
        return False, ("kill_process is not in /proc/sys/kernel/seccomp/actions_logged: "
                       "add it to name the forbidden call in SIGSYS verdicts")
    with KillWatcher(0) as watcher:
        sources = watcher.sources
    if "audit-netlink" in sources:
        return True, "seccomp kills are read from the audit netlink log group"
    if sources:
        return True, ("seccomp kills are read from /dev/kmsg only (no CAP_AUDIT_READ): "
                      "printk lets 10 reports through per 5 s, later kills go unnamed")
    return False, "neither the audit netlink group nor /dev/kmsg is readable: kills go unnamed"
