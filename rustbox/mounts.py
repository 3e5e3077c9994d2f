"""The box's filesystem: directory rules (data) and building the new root.

The default rules are a table a user can read; `--dir` adds or overrides
rules by their inside path. `build_root()` runs in the sandboxed child,
inside its private mount namespace, so nothing here is seen by the host.
"""
from __future__ import annotations

import functools
import os
from collections import namedtuple

from . import namespaces as ns
from .errors import UsageError

OPTIONS = ("rw", "ro", "noexec", "tmp", "force", "maybe")

# Host paths a --dir rule may not expose without ":force": the host's kernel
# interfaces, secrets and the other boxes.
SENSITIVE_HOST = ("/", "/proc", "/sys", "/dev", "/root", "/boot", "/run", "/var/lib/rustbox",
                  "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh")
# Inside paths the sandbox itself provides; replacing them needs ":force".
RESERVED_INSIDE = ("/", "/proc", "/dev", "/box")


class DirRule(namedtuple("DirRule", "inside host mode noexec tmpfs optional",
                          defaults=(None, "ro", False, False, False))):
    """Mount `host` at `inside`: read-only unless mode is "rw"; tmpfs = a
    private tmpfs; optional = skip silently when the host path is missing.

    A named tuple (immutable, hashable) rather than a dataclass: the box
    helper stays smaller without the dataclasses machinery.
    """

    __slots__ = ()

    @classmethod
    def parse(cls, text: str, root: str = "/var/lib/rustbox") -> "DirRule":
        """HOST[:INSIDE][:rw|:ro|:noexec|:tmp|:force|:maybe] (options may repeat)."""
        parts = text.split(":")
        options = []
        while len(parts) > 1 and parts[-1] in OPTIONS:
            options.append(parts.pop())
        if len(parts) > 2 or not parts[0]:
            raise UsageError(f"invalid --dir {text!r} (expected HOST[:INSIDE][:rw|:ro|:noexec])")
        host = parts[0]
        inside = parts[1] if len(parts) == 2 and parts[1] else host
        if not os.path.isabs(host) or not os.path.isabs(inside):
            raise UsageError(f"invalid --dir {text!r}: paths must be absolute")
        host, inside = os.path.normpath(host), os.path.normpath(inside)
        if "rw" in options and "ro" in options:
            raise UsageError(f"invalid --dir {text!r}: both rw and ro")
        if "force" not in options:
            _refuse_sensitive(text, host, inside, root)
        tmp = "tmp" in options
        return cls(inside=inside, host=None if tmp else host,
                   mode="rw" if ("rw" in options or tmp) else "ro",
                   noexec="noexec" in options, tmpfs=tmp, optional="maybe" in options)


def _refuse_sensitive(text: str, host: str, inside: str, root: str) -> None:
    real = os.path.realpath(host)
    for path in SENSITIVE_HOST + (os.path.realpath(root),):
        if real == path or (path != "/" and real.startswith(path + "/")):
            raise UsageError(f"--dir {text!r} exposes the host's {path}; add :force to allow it")
    for path in RESERVED_INSIDE:
        if inside == path or (path != "/" and inside.startswith(path + "/") and path != "/box"):
            raise UsageError(f"--dir {text!r} mounts over the box's {path}; add :force to allow it")


# What every box sees, defined once: the host directories the default rules
# show read-only (the first two always, the rest where the host has them),
# and the box's own directories. Used by the runner (a program under them is
# never copied in) and the judge (a package under them is not secret).
HOST_VISIBLE = ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin", "/lib32", "/libx32")
BOX_OWN = ("/tmp", "/box", "/proc", "/dev")


def default_rules() -> list[DirRule]:
    """`/usr /bin /lib /lib64 /etc` read-only (symlinks stay symlinks), private /tmp."""
    return list(_host_default_rules())


@functools.lru_cache(maxsize=1)
def _host_default_rules() -> tuple[DirRule, ...]:
    # Asked before every run; the host's top-level layout does not change.
    always, optional = HOST_VISIBLE[:2], HOST_VISIBLE[2:]
    rules = [DirRule(path, path) for path in always]
    for path in optional:
        if os.path.isdir(path) or os.path.islink(path):
            rules.append(DirRule(path, path, optional=True))
    rules.append(DirRule("/tmp", None, mode="rw", tmpfs=True))
    return tuple(rules)


def merge_rules(defaults: list[DirRule], extra: list[DirRule]) -> list[DirRule]:
    """Extra rules replace defaults with the same inside path; parents mount first."""
    by_inside = {rule.inside: rule for rule in defaults}
    for rule in extra:
        by_inside[rule.inside] = rule
    return sorted(by_inside.values(), key=lambda rule: rule.inside.count("/"))


_DEVICES = ("null", "zero", "urandom")
_DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
              "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}


class PreparedRoot:
    """The box's root, assembled once in the runner's own mount namespace.

    The runner (the box helper, or the CLI) leaves the host's mount
    namespace once; the root it builds there (binds, /box, /dev, read-only
    top) is copied into each run's fresh mount namespace by clone, so a run
    only mounts what must be new: its /tmp (tmpfs rules) and its /proc.
    Rebuilt when a run asks for other rules. `leave()` goes back to the
    host's namespace, for a change the host must see (a --quota tmpfs
    mounted or removed at /box); the next ensure() starts afresh from there.
    """

    def __init__(self, mount_point: str, box_dir: str):
        self.mount_point, self.box_dir = mount_point, box_dir
        self.key = None
        self.per_run: list[DirRule] = []
        self._own_namespace = False
        # Made while still in the host's namespace (before the first ensure).
        self._host_namespace = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    def leave(self) -> None:
        if self._own_namespace:
            ns.setns(self._host_namespace, ns.CLONE_NEWNS)
            self._own_namespace = False
            self.key = None

    def close(self) -> None:
        if self._host_namespace is not None:
            os.close(self._host_namespace)
            self._host_namespace = None

    def ensure(self, rules: list[DirRule]) -> None:
        key = tuple(rules)
        if key == self.key:
            return
        if not self._own_namespace:
            ns.unshare(ns.CLONE_NEWNS)
            ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)  # nothing leaks either way
            self._own_namespace = True
        if self.key is not None:
            ns.umount(self.mount_point, ns.MNT_DETACH)
            self.key = None
        _assemble(self.mount_point, self.box_dir, rules)
        self.per_run = [r for r in rules if r.tmpfs]
        self.key = key


def _assemble(new_root: str, box_dir: str, rules: list[DirRule]) -> None:
    ns.mount("rustbox", new_root, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, "mode=755,size=64k")
    try:
        for rule in rules:
            if rule.tmpfs:  # mounted fresh by each run: only its mount point now
                os.makedirs(new_root + rule.inside, exist_ok=True)
            else:
                _apply(new_root, rule)
        os.makedirs(new_root + "/box", exist_ok=True)
        _mount_bind(box_dir, new_root + "/box", ns.MS_NOSUID | ns.MS_NODEV, rw=True)
        os.makedirs(new_root + "/proc", exist_ok=True)
        os.makedirs(new_root + "/dev", exist_ok=True)   # a rule may have made it (/dev/shm)
        for name in _DEVICES:
            target = f"{new_root}/dev/{name}"
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
            _mount_bind(f"/dev/{name}", target, ns.MS_NOSUID | ns.MS_NOEXEC, rw=True)
        for name, link in _DEV_LINKS.items():
            os.symlink(link, f"{new_root}/dev/{name}")
        ns.mount(None, new_root, None, ns.MS_REMOUNT | ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NODEV)
    except BaseException:
        ns.umount(new_root, ns.MNT_DETACH)
        raise


def per_run_mounts(new_root: str, per_run: list[DirRule],
                   tmp_size: int | None) -> list[tuple[str, str, str, int, str]]:
    """(source, target, fstype, flags, data) of what each run mounts fresh:
    its tmpfs rules (/tmp), then its /proc. The C child mounts the same list."""
    found = []
    for rule in per_run:   # tmpfs rules only (PreparedRoot.per_run)
        flags = ns.MS_NOSUID | ns.MS_NODEV | (ns.MS_NOEXEC if rule.noexec else 0)
        size = f",size={tmp_size}" if tmp_size else ""
        found.append(("tmpfs", new_root + rule.inside, "tmpfs", flags, "mode=1777" + size))
    # hidepid=1: the program sees pid 1 listed but cannot read root's processes.
    found.append(("proc", new_root + "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC,
                  "hidepid=1"))
    return found


def enter_root(new_root: str, per_run: list[DirRule], tmp_size: int | None) -> None:
    """In the run's fresh mount (and PID) namespace: mount what must be new,
    pivot into the prepared root; cwd ends at /box."""
    for source, target, fstype, flags, data in per_run_mounts(new_root, per_run, tmp_size):
        ns.mount(source, target, fstype, flags, data)
    os.chdir(new_root)
    ns.pivot_root(".", ".")
    ns.umount(".", ns.MNT_DETACH)
    os.chdir("/box")


def _apply(new_root: str, rule: DirRule) -> None:
    """A bind (or symlink) rule; tmpfs rules are each run's: per_run_mounts."""
    target = new_root + rule.inside
    flags = ns.MS_NOSUID | ns.MS_NODEV | (ns.MS_NOEXEC if rule.noexec else 0)
    if os.path.islink(rule.host):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(rule.host), target)
        return
    if not os.path.exists(rule.host):
        if rule.optional:
            return
        raise OSError(2, f"--dir host path {rule.host} does not exist")
    if os.path.isdir(rule.host):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount_bind(rule.host, target, flags, rw=rule.mode == "rw")


def _mount_bind(host: str, target: str, flags: int, rw: bool) -> None:
    # Not MS_REC: mounts beneath the host path would keep their own (maybe
    # writable) flags, so they are left out instead.
    ns.mount(host, target, None, ns.MS_BIND)
    ns.mount(None, target, None,
             ns.MS_REMOUNT | ns.MS_BIND | flags | (0 if rw else ns.MS_RDONLY))
