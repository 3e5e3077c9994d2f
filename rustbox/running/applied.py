"""The limits in the box cgroups now, remembered across processes: a run
with the same limits as the last one (a CLI run too) writes nothing."""
from __future__ import annotations

from ..box import BoxDir
from ..cgroups import BoxCgroup
from ..limits import Limits

FILE_NAME = "limits.applied"   # in the box's home


def forget(box: BoxDir) -> None:
    """A (re)created cgroup has the kernel's defaults, not our last limits."""
    (box.home / FILE_NAME).unlink(missing_ok=True)


class AppliedLimits:
    """Writes a run's limits into the box cgroups unless they are there already."""

    def __init__(self, box: BoxDir, cgroup: BoxCgroup):
        self.cgroup = cgroup
        self._file = box.home / FILE_NAME
        self._applied = None
        if cgroup.stateless_apply:
            try:
                self._applied = self._file.read_text()
            except OSError:
                pass

    def apply(self, limits: Limits) -> None:
        wanted = f"{self.cgroup.apply_revision} {limits!r}"
        if wanted != self._applied:  # ~0.3 ms of cgroup writes saved per run
            self._applied = None
            self._file.unlink(missing_ok=True)
            self.cgroup.apply(limits)
            self._file.write_text(wanted)
            self._applied = wanted
