"""seccomp: the system-call policies as data, their filters, and who got killed.

This module owns three things:

* Policies. A policy is a small JSON document (the built-ins live in
  `rustbox/policies/*.json`; users pass their own with `--seccomp FILE`).
  `load_policy(spec)` reads and validates one into a frozen `Policy`.
  The format is documented in `rustbox/policies/README.md`.
* Filters. `build_filter(policy)` turns a policy into a classic-BPF program
  with libseccomp (through pyseccomp; we never assemble BPF by hand) once,
  in the supervisor. The forked child then only calls `install(filter)`
  (one seccomp(2) system call, no allocation, no libseccomp work), after
  no_new_privs and setresuid, as its last set-up step before joining the
  cgroups and exec.
* Kill reports. A filter kill is SIGSYS (31) with nothing else in the wait
  status, so the name of the forbidden call comes from the kernel's audit
  record of the kill (type 1326, AUDIT_SECCOMP). `KillWatcher(uid)` is
  opened before the run and `watcher.syscall_name()` read after it.

Why audit records (measured on Linux 6.18, see docs/SECURITY.md): the kernel
logs every RET_KILL_* whose action is in
/proc/sys/kernel/seccomp/actions_logged, with or without auditd. It hands
each record to the audit netlink "read log" multicast group (unlimited, needs
CAP_AUDIT_READ and the initial network namespace) and, when no auditd is
registered, to printk, where `printk_ratelimit()` lets only 10 through every
5 seconds. The watcher listens on both and takes the first match by box uid.
SECCOMP_RET_TRAP would let the program catch its own SIGSYS and carry on,
and user notification needs a listener thread and an fd handed out of the
child: both cost more and report no better.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import select
import struct
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import orjson

from .errors import UsageError

# pyseccomp is imported where libseccomp is needed (validating a policy,
# compiling it, naming a killed call): its import runs `ldconfig` and costs
# ~12 ms, which a `rustbox run` with a cached filter never pays.

__all__ = [
    "Policy", "Rule", "ArgCheck", "CompiledFilter", "KillWatcher",
    "load_policy", "build_filter", "load_filter", "install", "killed_syscall",
    "forbidden_message", "kill_reporting", "POLICY_DIR", "BUILTIN_POLICIES",
]

POLICY_DIR = Path(__file__).with_name("policies")
BUILTIN_POLICIES = ("default", "strict")

# Symbolic constants a policy may use in argument values ("CLONE_NEWNS|CLONE_NEWPID").
# Only what the built-in policies and their obvious variants need.
CONSTANTS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "ADDR_NO_RANDOMIZE": 0x0040000,
    "ADDR_COMPAT_LAYOUT": 0x0200000,
    "READ_IMPLIES_EXEC": 0x0400000,
    "PER_QUERY": 0xFFFFFFFF,
    "AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17,
    "TCGETS": 0x5401, "TCSETS": 0x5402, "TCSETSW": 0x5403, "TCSETSF": 0x5404,
    "TIOCGPGRP": 0x540F, "TIOCSTI": 0x5412, "TIOCGWINSZ": 0x5413,
    "FIONREAD": 0x541B, "TIOCLINUX": 0x541C, "FIONBIO": 0x5421,
    "FIONCLEX": 0x5450, "FIOCLEX": 0x5451, "FIOASYNC": 0x5452,
    "LOW32": 0xFFFFFFFF,
}

# Comparison names -> pyseccomp's operator attribute (None: expanded by us).
_OPS = {
    "eq": "EQ", "ne": "NE", "lt": "LT", "le": "LE", "gt": "GT", "ge": "GE",
    "masked_eq": "MASKED_EQ",
    "any_bits": None,  # sugar: one masked_eq rule per bit of value
}
_TOP_KEYS = {"description", "extends", "default_action", "rules"}
_RULE_KEYS = {"action", "syscalls", "args", "why"}
_ARG_KEYS = {"index", "op", "value", "mask"}

# The audit record of a filter kill: its netlink message type and the
# `code=` values of SECCOMP_RET_KILL_PROCESS and SECCOMP_RET_KILL_THREAD.
AUDIT_SECCOMP = 1326
_KILL_CODES = ("0x80000000", "0x0")
_AUDIT_NLGRP_READLOG = 1
_NETLINK_AUDIT = 9
_X32_SYSCALL_BIT = 0x40000000


class _PolicyError(Exception):
    """A problem in a policy document; load_policy adds the file name."""


@dataclass(frozen=True)
class ArgCheck:
    """One comparison of a system-call argument (libseccomp's scmp_arg_cmp)."""

    index: int
    op: str
    value: int
    mask: int = 0


@dataclass(frozen=True)
class Rule:
    """`action` for each of `syscalls` when every check in `args` holds."""

    action: str
    syscalls: tuple[str, ...]
    args: tuple[ArgCheck, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A validated policy: what to do with each system call."""

    name: str
    default_action: str
    rules: tuple[Rule, ...]
    source: str = ""


# --------------------------------------------------------------------------
# Loading and validating policy documents


def load_policy(spec: str | None) -> Policy | None:
    """'off' -> None; 'default' / 'strict' -> a built-in; else a JSON file.

    A malformed document raises UsageError with one line naming the file
    and the problem.
    """
    if spec is None or spec == "off":
        return None
    if spec in BUILTIN_POLICIES:
        return _builtin(spec)
    path = Path(spec)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"seccomp policy {spec}: cannot read it ({exc.strerror})") from None
    try:
        return _parse(raw, name=path.name, source=str(path))
    except _PolicyError as exc:
        raise UsageError(f"seccomp policy {spec}: {exc}") from None


@functools.lru_cache(maxsize=None)
def _builtin(name: str) -> Policy:
    path = POLICY_DIR / f"{name}.json"
    try:
        return _parse(path.read_bytes(), name=name, source=str(path))
    except _PolicyError as exc:  # a broken install, not the user's fault
        raise RuntimeError(f"built-in seccomp policy {path}: {exc}") from None


def _parse(raw: bytes, *, name: str, source: str) -> Policy:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _PolicyError(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _PolicyError("the top level must be a JSON object")
    _no_unknown_keys(doc, _TOP_KEYS, "the top level")

    base: Policy | None = None
    if "extends" in doc:
        if doc["extends"] not in BUILTIN_POLICIES:
            raise _PolicyError(f"extends must be one of {', '.join(BUILTIN_POLICIES)}")
        base = _builtin(doc["extends"])

    if "default_action" in doc:
        default_action = _action(doc["default_action"], "default_action")
    elif base is not None:
        default_action = base.default_action
    else:
        raise _PolicyError("default_action is missing (e.g. \"allow\" or \"kill\")")

    rules_doc = doc.get("rules", [])
    if not isinstance(rules_doc, list):
        raise _PolicyError("rules must be a list")
    rules = tuple(_rule(r, i) for i, r in enumerate(rules_doc))

    if base is not None:
        # A system call named in this file replaces every base rule for it,
        # so `{"extends": "strict", "rules": [allow symlink]}` just works.
        named = {s for r in rules for s in r.syscalls}
        kept = []
        for rule in base.rules:
            left = tuple(s for s in rule.syscalls if s not in named)
            if left:
                kept.append(Rule(rule.action, left, rule.args))
        rules = tuple(kept) + rules

    _check_conflicts(rules)
    return Policy(name=name, default_action=default_action, rules=rules, source=source)


def _no_unknown_keys(obj: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _PolicyError(f"unknown key {unknown[0]!r} in {where} "
                           f"(allowed: {', '.join(sorted(allowed))})")


def _action(text, where: str) -> str:
    """Validate an action string; returns it normalised."""
    if not isinstance(text, str):
        raise _PolicyError(f"{where}: the action must be a string")
    text = text.strip().lower()
    if text in ("allow", "kill", "log"):
        return text
    if text.startswith("errno:"):
        code = text[6:].strip().upper()
        if code.isdigit() and 0 < int(code) < 4096:
            return f"errno:{int(code)}"
        if hasattr(errno, code):
            return f"errno:{code}"
    raise _PolicyError(f"{where}: unknown action {text!r} "
                       "(allow, kill, log, errno:NAME such as errno:EPERM)")


def _rule(doc, i: int) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(doc, dict):
        raise _PolicyError(f"{where} must be an object")
    _no_unknown_keys(doc, _RULE_KEYS, where)
    if "action" not in doc or "syscalls" not in doc:
        raise _PolicyError(f"{where} needs both 'action' and 'syscalls'")
    action = _action(doc["action"], where)
    names = doc["syscalls"]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _PolicyError(f"{where}: syscalls must be a non-empty list of names")
    for name in names:
        if _syscall_number(name) is None:
            raise _PolicyError(f"{where}: unknown system call {name!r}")
    args_doc = doc.get("args", [])
    if not isinstance(args_doc, list) or len(args_doc) > 6:
        raise _PolicyError(f"{where}: args must be a list of at most 6 checks")
    args = tuple(_arg(a, f"{where}.args[{j}]") for j, a in enumerate(args_doc))
    if len({a.index for a in args}) != len(args):
        # libseccomp rejects two comparisons of one argument in one rule.
        raise _PolicyError(f"{where}: each argument index may be checked once per rule")
    if sum(a.op == "any_bits" for a in args) > 1:
        raise _PolicyError(f"{where}: at most one any_bits check per rule")
    return Rule(action, tuple(names), args)


def _arg(doc, where: str) -> ArgCheck:
    if not isinstance(doc, dict):
        raise _PolicyError(f"{where} must be an object")
    _no_unknown_keys(doc, _ARG_KEYS, where)
    index = doc.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
        raise _PolicyError(f"{where}: index must be 0..5")
    op = doc.get("op")
    if op not in _OPS:
        raise _PolicyError(f"{where}: op must be one of {', '.join(_OPS)}")
    if "value" not in doc:
        raise _PolicyError(f"{where}: value is missing")
    value = _number(doc["value"], where)
    mask = 0
    if op == "masked_eq":
        if "mask" not in doc:
            raise _PolicyError(f"{where}: masked_eq needs a mask")
        mask = _number(doc["mask"], where)
    elif "mask" in doc:
        raise _PolicyError(f"{where}: mask is only for masked_eq")
    if op == "any_bits" and value == 0:
        raise _PolicyError(f"{where}: any_bits needs a non-zero value")
    return ArgCheck(index, op, value, mask)


def _number(value, where: str) -> int:
    """An int, "0x..", "123", or constant names joined with '|'."""
    if isinstance(value, bool):
        raise _PolicyError(f"{where}: {value!r} is not a number")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        result = 0
        for part in value.split("|"):
            part = part.strip()
            if part in CONSTANTS:
                result |= CONSTANTS[part]
                continue
            try:
                result |= int(part, 0)
            except ValueError:
                raise _PolicyError(f"{where}: unknown constant {part!r}") from None
    else:
        raise _PolicyError(f"{where}: {value!r} is not a number")
    if not 0 <= result < 1 << 64:
        raise _PolicyError(f"{where}: {value!r} does not fit in 64 bits")
    return result


def _check_conflicts(rules: tuple[Rule, ...]) -> None:
    # libseccomp keeps the first action it saw for a system call and drops a
    # later different one without an error: refuse such a document instead.
    seen: dict[str, str] = {}
    for rule in rules:
        for name in rule.syscalls:
            if seen.setdefault(name, rule.action) != rule.action:
                raise _PolicyError(f"system call {name!r} has two actions "
                                   f"({seen[name]} and {rule.action})")


@functools.lru_cache(maxsize=None)
def _syscall_number(name: str) -> int | None:
    """libseccomp's number for `name` on this machine's architecture.

    Names of calls that exist only on other architectures resolve to
    libseccomp's negative pseudo-numbers; they are accepted (and never match).
    """
    import pyseccomp
    number = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    return None if number == -1 else number


# --------------------------------------------------------------------------
# Building and installing filters


def _scmp_action(action: str) -> int:
    import pyseccomp
    if action == "allow":
        return pyseccomp.ALLOW
    if action == "kill":
        return pyseccomp.KILL_PROCESS
    if action == "log":
        return pyseccomp.LOG
    code = action.split(":", 1)[1]
    return pyseccomp.ERRNO(int(code) if code.isdigit() else getattr(errno, code))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_SYS_SECCOMP = 317            # x86_64
_SECCOMP_SET_MODE_FILTER = 1
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


class CompiledFilter:
    """A policy compiled to BPF by libseccomp, ready for the child to install.

    Everything `install` touches is allocated here, in the supervisor, so the
    forked child makes exactly one system call.
    """

    def __init__(self, policy: Policy | None, bpf: bytes, name: str | None = None):
        if len(bpf) % 8 or not bpf:
            raise RuntimeError("libseccomp exported a malformed BPF program")
        self.policy = policy  # None when the BPF came from the disk cache
        self.name = name or (policy.name if policy else "?")
        self.bpf = bpf
        self._buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self._prog = _SockFprog(len(bpf) // 8, ctypes.addressof(self._buffer))

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8

    def load(self) -> None:
        """Install into the calling thread; needs no_new_privs (or CAP_SYS_ADMIN).

        Raises OSError, which the child reports as SetupError("seccomp", errno).
        """
        rc = _libc.syscall(ctypes.c_long(_SYS_SECCOMP),
                           ctypes.c_ulong(_SECCOMP_SET_MODE_FILTER),
                           ctypes.c_ulong(0), ctypes.byref(self._prog))
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp(SET_MODE_FILTER): {os.strerror(err)}")

    def __repr__(self) -> str:
        return f"<CompiledFilter {self.name}: {self.instructions} BPF instructions>"


def install(compiled: CompiledFilter | None) -> None:
    """The child's call: install `compiled` (None means seccomp off)."""
    if compiled is not None:
        compiled.load()


def build_filter(policy: Policy | None) -> CompiledFilter | None:
    """Compile `policy` with libseccomp (cached: policies are immutable)."""
    if policy is None:
        return None
    return _compile(policy)


@functools.lru_cache(maxsize=32)
def _compile(policy: Policy) -> CompiledFilter:
    import pyseccomp
    default = _scmp_action(policy.default_action)
    scmp = pyseccomp.SyscallFilter(default)
    # Only the native ABI: a 32-bit `int 0x80` call or an x32 call has other
    # numbers and would walk around a deny-list written for x86_64.
    scmp.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    # no_new_privs is the caller's job (it must precede setresuid anyway).
    scmp.set_attr(pyseccomp.Attr.CTL_NNP, 0)
    for rule in policy.rules:
        action = _scmp_action(rule.action)
        if action == default:
            continue  # libseccomp refuses (EACCES) rules that repeat the default
        for name in rule.syscalls:
            number = _syscall_number(name)
            for checks in _expand(rule.args):
                try:
                    scmp.add_rule(action, number, *checks)
                except OSError as exc:
                    raise UsageError(f"seccomp policy {policy.source or policy.name}: "
                                     f"libseccomp refused the rule for {name}: "
                                     f"{exc.strerror}") from None
    fd = os.memfd_create("rustbox-seccomp", os.MFD_CLOEXEC)
    try:
        scmp.export_bpf(_FdFile(fd))
        size = os.lseek(fd, 0, os.SEEK_END)
        bpf = os.pread(fd, size, 0)
    finally:
        os.close(fd)
    return CompiledFilter(policy, bpf)


def load_filter(spec: str | None, cache_dir: Path | None = None) -> CompiledFilter | None:
    """load_policy + build_filter, the BPF kept on disk under its content's hash.

    A `rustbox run` whose policy was compiled before (by any process) reads
    the BPF back and never loads libseccomp; the key covers the policy's
    bytes, the built-ins it may extend, this module and the libseccomp
    library file, so any change compiles afresh.
    """
    if spec is None or spec == "off":
        return None
    key = _cache_key(spec) if cache_dir is not None else None
    path = None if key is None else Path(cache_dir) / f"{key}.bpf"
    if path is not None:
        try:
            return CompiledFilter(None, path.read_bytes(), name=Path(spec).name)
        except (OSError, RuntimeError):
            pass
    compiled = build_filter(load_policy(spec))
    if path is not None:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(compiled.bpf)
            os.replace(tmp, path)  # readers see a whole file or none
        except OSError:
            pass  # a cache, not a requirement
    return compiled


def _cache_key(spec: str) -> str | None:
    import hashlib
    digest = hashlib.sha256()
    try:
        raw = (POLICY_DIR / f"{spec}.json").read_bytes() if spec in BUILTIN_POLICIES \
            else Path(spec).read_bytes()
        for name in BUILTIN_POLICIES:
            digest.update((POLICY_DIR / f"{name}.json").read_bytes())
        me = os.stat(__file__)
    except OSError:
        return None  # load_policy reports the unreadable file
    library = _libseccomp_identity()
    if library is None:
        return None
    digest.update(raw)
    digest.update(f"{library}|{me.st_size}|{me.st_mtime_ns}|{os.uname().machine}".encode())
    return digest.hexdigest()


def _libseccomp_identity() -> str | None:
    for directory in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64",
                      "/usr/lib", "/lib64", "/lib"):
        path = os.path.join(directory, "libseccomp.so.2")
        try:
            st = os.stat(path)
        except OSError:
            continue
        return f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"
    return None


class _FdFile:
    """What pyseccomp's export_bpf wants: an object with fileno()."""

    def __init__(self, fd: int):
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


def _expand(args: tuple[ArgCheck, ...]) -> list[list]:
    """Turn checks into libseccomp argument lists; any_bits makes one per bit."""
    import pyseccomp
    fixed = [pyseccomp.Arg(a.index, getattr(pyseccomp, _OPS[a.op]),
                           a.mask if a.op == "masked_eq" else a.value,
                           a.value if a.op == "masked_eq" else 0)
             for a in args if a.op != "any_bits"]
    spread = [a for a in args if a.op == "any_bits"]
    if not spread:
        return [fixed]
    check = spread[0]
    bits = [1 << b for b in range(64) if check.value >> b & 1]
    return [fixed + [pyseccomp.Arg(check.index, pyseccomp.MASKED_EQ, bit, bit)] for bit in bits]


# --------------------------------------------------------------------------
# Which system call killed the program


_FIELD = re.compile(r"(?:^|\s)(uid|pid|sig|arch|syscall|code)=(\S+)")


def _parse_record(text: str) -> dict[str, str] | None:
    """The fields of one AUDIT_SECCOMP kill record, or None for anything else."""
    fields = dict(_FIELD.findall(text))
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
    that moved into a private netns (the box helper) passes the fd of the
    host's netns and the socket is made there, once. Records are handed to
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
                    _enter_netns(host_netns)
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
                    _enter_netns(back)
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


def _enter_netns(fd: int) -> None:
    if _libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


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

    def _fds(self) -> list[int]:
        fds = [_audit_log.sock.fileno()] if _audit_log.sock is not None else []
        return fds + ([self._kmsg] if self._kmsg is not None else [])

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
            fds = self._fds()
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


def killed_syscall(watcher: KillWatcher, pid: int | None = None,
                   timeout: float = 0.25) -> str | None:
    """After a SIGSYS death: the forbidden call's name (see KillWatcher)."""
    return watcher.syscall_name(pid=pid, timeout=timeout)


def kill_reporting() -> tuple[bool, str]:
    """For check-env: can this host name the call behind a seccomp kill?"""
    try:
        logged = Path("/proc/sys/kernel/seccomp/actions_logged").read_text().split()
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
