"""seccomp: the system-call policies as data, their filters, and who got killed.

This module owns the policies and their compiling; two small modules hold
what the box helper needs at run time (so it never loads libseccomp, JSON
or dataclasses): bpf.py (the compiled filter and installing it),
seccomp_cache.py (compiled filters kept on disk; it calls back into this
module only on a miss) and seccomp_kills.py (naming the call behind a
kill). The names a user needs are re-exported here.

* Policies. A policy is a small JSON document (the built-ins live in
  `rustbox/policies/*.json`; users pass their own with `--seccomp FILE`).
  `load_policy(spec)` reads and validates one into a frozen `Policy`.
  The format is documented in `rustbox/policies/README.md`.
* Filters. `build_filter(policy)` turns a policy into a classic-BPF program
  with libseccomp (through pyseccomp; we never assemble BPF by hand) once,
  in the supervisor. The forked child then only calls `filter.load()`
  (one seccomp(2) system call, no allocation, no libseccomp work), after
  no_new_privs and setresuid, as its last set-up step before joining the
  cgroups and exec.
* Kill reports. A filter kill is SIGSYS (31) with nothing else in the wait
  status, so the name of the forbidden call comes from the kernel's audit
  record of the kill (type 1326, AUDIT_SECCOMP). `KillWatcher(uid)` is
  opened before the run and `watcher.syscall_name()` read after it.

Why audit records (measured on Linux 6.18, see the README's Security section): the kernel
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

import errno
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from .bpf import BUILTIN_POLICIES, CompiledFilter
from .errors import UsageError
from .seccomp_kills import KillWatcher, forbidden_message, kill_reporting

# pyseccomp is imported where libseccomp is needed (validating a policy,
# compiling it, naming a killed call): its import runs `ldconfig` and costs
# ~12 ms, which a `rustbox run` with a cached filter never pays.

__all__ = [
    "Policy", "Rule", "ArgCheck", "CompiledFilter", "KillWatcher",
    "load_policy", "build_filter",
    "forbidden_message", "kill_reporting", "POLICY_DIR", "BUILTIN_POLICIES",
]

POLICY_DIR = Path(__file__).with_name("policies")

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
    "CLONE_PTRACE": 0x00002000,
    "CLONE_PARENT": 0x00008000,
    "CLONE_UNTRACED": 0x00800000,
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
    "PR_SET_SECCOMP": 22, "SECCOMP_SET_MODE_STRICT": 0, "SECCOMP_SET_MODE_FILTER": 1,
}

# Comparison names -> pyseccomp's operator attribute (None: expanded by us).
_OPS = {
    "eq": "EQ", "ne": "NE", "lt": "LT", "le": "LE", "gt": "GT", "ge": "GE",
    "masked_eq": "MASKED_EQ",
    "any_bits": None,   # sugar: one masked_eq rule per bit of value
    "masked_ne": None,  # sugar: one masked_eq rule per bit of mask, that bit unlike value's
}
_SPREAD = ("any_bits", "masked_ne")
_TOP_KEYS = {"description", "extends", "default_action", "rules"}
_RULE_KEYS = {"action", "syscalls", "args", "why"}
_ARG_KEYS = {"index", "op", "value", "mask"}

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
    if sum(a.op in _SPREAD for a in args) > 1:
        raise _PolicyError(f"{where}: at most one any_bits or masked_ne check per rule")
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
    if op in ("masked_eq", "masked_ne"):
        if "mask" not in doc:
            raise _PolicyError(f"{where}: {op} needs a mask")
        mask = _number(doc["mask"], where)
        if op == "masked_ne" and mask == 0:
            raise _PolicyError(f"{where}: masked_ne needs a non-zero mask")
    elif "mask" in doc:
        raise _PolicyError(f"{where}: mask is only for masked_eq and masked_ne")
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
    # libseccomp lets a rule without arguments win over every other rule of
    # its system call, and keeps the first action it saw for one argument
    # check, dropping a later different one without an error (measured):
    # refuse such a document instead. Several actions for one call are
    # fine when every one of its rules checks arguments (`prctl`: errno for
    # PR_SET_SECCOMP, allow for the rest, with masked_eq/masked_ne).
    actions: dict[str, set[str]] = {}
    unconditional: set[str] = set()
    for rule in rules:
        for name in rule.syscalls:
            actions.setdefault(name, set()).add(rule.action)
            if not rule.args:
                unconditional.add(name)
    for name, found in actions.items():
        if len(found) > 1 and name in unconditional:
            raise _PolicyError(f"system call {name!r} has two actions "
                               f"({' and '.join(sorted(found))}); several actions for one call "
                               "need an argument check in each of its rules")


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


class _FdFile:
    """What pyseccomp's export_bpf wants: an object with fileno()."""

    def __init__(self, fd: int):
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


def _expand(args: tuple[ArgCheck, ...]) -> list[list]:
    """Turn checks into libseccomp argument lists; any_bits and masked_ne
    make one list per bit (libseccomp ORs the rules of one action)."""
    import pyseccomp
    fixed = [pyseccomp.Arg(a.index, getattr(pyseccomp, _OPS[a.op]),
                           a.mask if a.op == "masked_eq" else a.value,
                           a.value if a.op == "masked_eq" else 0)
             for a in args if a.op not in _SPREAD]
    spread = [a for a in args if a.op in _SPREAD]
    if not spread:
        return [fixed]
    check = spread[0]
    if check.op == "any_bits":   # some bit of value is set
        pairs = [(1 << b, 1 << b) for b in range(64) if check.value >> b & 1]
    else:                        # some bit under mask differs from value's
        pairs = [(1 << b, ~check.value & 1 << b) for b in range(64) if check.mask >> b & 1]
    return [fixed + [pyseccomp.Arg(check.index, pyseccomp.MASKED_EQ, mask, value)]
            for mask, value in pairs]


