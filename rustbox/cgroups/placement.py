"""Where rustbox's cgroup v2 sub-tree lives, found from where this process sits.

Three placements (README, "cgroup v2: where the boxes go"):

  root        this process is in the root cgroup of the whole hierarchy (a
              host without systemd, or a container sharing the host's cgroup
              namespace): boxes go in <mount>/rustbox/box-N.
  delegated   this process sits in a non-root cgroup D, such as a systemd
              unit with Delegate=yes: D is ours, everything above D is not.
  namespace   this process sits in a private cgroup namespace (docker
              --cgroupns=private): the root it sees is in truth a non-root
              cgroup D, with D's rules.

The kernel's "no internal processes" rule applies to D in the last two: a
non-root cgroup with processes of its own cannot enable controllers for its
children. So `settle()` first moves every process of D into the leaf
D/rustbox-supervisor (rustbox's own processes, and their parents of the same
unit or container), then enables the controllers in D; boxes go in
D/rustbox/box-N. Nothing above D is ever written.

`find_placement()` only reads (check-env uses it); `settle()` is the one
place that moves processes, and only when a box cgroup is created.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from ..errors import CgroupError, HostSetupError
from . import _files

PROC_CGROUP = "/proc/self/cgroup"
SUPERVISOR = "rustbox-supervisor"
# Processes can keep arriving in D while we empty it (a worker forking
# right then); each round moves what is there, then enabling is retried.
SETTLE_ROUNDS = 10


@dataclass(frozen=True)
class Placement:
    kind: str        # "root", "delegated" or "namespace"
    mount: str       # the cgroup2 mount point
    base: str        # the cgroup rustbox owns (the mount point itself for "root")

    @property
    def parent(self) -> str:
        """The `rustbox` cgroup whose children are the boxes."""
        return os.path.join(self.base, _files.PARENT_NAME)

    @property
    def leaf(self) -> str | None:
        """Where the processes of D go so that D may enable controllers."""
        return None if self.kind == "root" else os.path.join(self.base, SUPERVISOR)

    def describe(self) -> str:
        if self.kind == "root":
            return f"root of the hierarchy: boxes in {self.parent}/box-N"
        where = ("a private cgroup namespace" if self.kind == "namespace"
                 else "a delegated sub-tree")
        return (f"{where}: {self.base} is rustbox's (boxes in {self.parent}/box-N, "
                f"its own processes in {self.leaf}); nothing above it is touched")

    def missing(self, needed) -> list[str]:
        have = _files.read_text(os.path.join(self.base, "cgroup.controllers")).split()
        return [c for c in needed if c not in have]

    def require(self, needed) -> None:
        """A one-line HostSetupError naming the file to fix when a needed
        controller is not available in D."""
        absent = self.missing(needed)
        if not absent:
            return
        names = ", ".join(absent)
        if self.kind == "root":
            raise HostSetupError(
                f"cgroup v2 controllers {names} are missing from {self.base}/cgroup.controllers "
                "(bound to a v1 hierarchy, or disabled by cgroup_disable= on the kernel command line)")
        if self.kind == "namespace":
            raise HostSetupError(
                f"cgroup v2 controllers {names} are not delegated to this cgroup namespace: "
                f"{self.base}/cgroup.controllers lacks them (enable them in the container's "
                "parent cgroup.subtree_control on the host)")
        raise HostSetupError(
            f"cgroup v2 controllers {names} are not delegated to {self.base}: add them to "
            f"{os.path.dirname(self.base)}/cgroup.subtree_control (systemd: run rustbox in a "
            "unit with Delegate=yes, see the README)")

    def settle(self, needed, mkdir=os.mkdir) -> None:
        """Make D able to hold the boxes: enable `needed` in D's
        subtree_control (only adding; at the root, only what is missing),
        after moving D's own processes into the leaf where the rules ask it.
        `mkdir` is the adapter's (the simulated-tree tests replace it)."""
        control = os.path.join(self.base, "cgroup.subtree_control")
        for _ in range(SETTLE_ROUNDS):
            if self.leaf is not None:
                self._empty_base(mkdir)
            try:
                for controller in needed:
                    if controller not in _files.read_text(control).split():
                        _files.write_text(control, f"+{controller}", owned=False)
                return
            except CgroupError as e:
                if e.errno != errno.EBUSY or self.leaf is None:
                    raise
        raise HostSetupError(f"cannot enable {', '.join(needed)} in {control}: processes keep "
                             f"arriving in {self.base} (a cgroup with processes of its own "
                             "cannot enable controllers for its children)")

    def _empty_base(self, mkdir) -> None:
        leaf = _files.check_owned(self.leaf)
        try:
            mkdir(leaf)
        except FileExistsError:
            pass
        except OSError as e:
            raise CgroupError(f"cannot create {leaf}: {e.strerror}", e.errno) from None
        procs = os.path.join(leaf, "cgroup.procs")
        for pid in _files.read_pids(os.path.join(self.base, "cgroup.procs")):
            try:
                _files.write_text(procs, pid)
            except CgroupError as e:
                if e.errno != errno.ESRCH:  # ESRCH: it exited meanwhile
                    raise


def own_cgroup(path: str | None = None) -> str:
    """This process's cgroup v2 path, as its cgroup namespace shows it."""
    path = path or PROC_CGROUP
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip() or "/"
    except OSError as e:
        raise HostSetupError(f"cannot read {path}: {e.strerror}") from None
    raise HostSetupError(f"{path} has no cgroup v2 line (0::/...): the kernel has no cgroup2")


def find_placement(mount: str, mount_root: str, own: str) -> Placement:
    """The placement of a process whose cgroup is `own`, for the cgroup2
    mount at `mount` whose root (the 4th field of mountinfo) is `mount_root`."""
    mount = mount.rstrip("/") or "/"
    if mount_root != "/" or own.startswith("/.."):
        raise HostSetupError(
            f"the cgroup2 mount at {mount} shows the hierarchy from outside this process's "
            f"cgroup namespace ({mount_root}): mount cgroup2 afresh inside it "
            f"(mount -t cgroup2 none {mount})")
    if own.rstrip("/").endswith("/" + SUPERVISOR):
        own = os.path.dirname(own.rstrip("/"))  # moved there by an earlier settle()
    # Only the real root cgroup lacks cgroup.type: a namespace's root has it.
    namespaced = os.path.exists(os.path.join(mount, "cgroup.type"))
    base = os.path.normpath(os.path.join(mount, own.lstrip("/")))
    if namespaced:
        return Placement("namespace", mount, base)
    if own == "/":
        return Placement("root", mount, mount)
    return Placement("delegated", mount, base)

