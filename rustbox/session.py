"""A box held for running: lock taken, directories and cgroups in place.

`init_box` / `cleanup_box` are the `rustbox init` / `rustbox cleanup` verbs;
`BoxSession` is what runs programs (the CLI in-process, the box helper for
the API and batch mode).
"""
from __future__ import annotations

from .box import BoxDir
from .cgroups import open_box_cgroup
from .errors import UsageError
from .running.applied import forget as _forget_limits
from .running.runner import Runner
from .request import RunRequest
from .verdict import Verdict

CG_CHOICES = ("auto", "v1", "v2")


def _cgroup_for(box: BoxDir, cg: str, opened=None):
    """The box keeps the cgroup version chosen at init (file <home>/cgroup).
    `opened`: the adapter a JoinWarmer opened for the same box a moment ago,
    used when it is still the right version (the host is detected once)."""
    if cg not in CG_CHOICES:
        raise UsageError(f"invalid --cg {cg!r} (expected auto, v1 or v2)")
    marker = box.home / "cgroup"
    if cg == "auto" and marker.exists():
        cg = marker.read_text().strip() or "auto"
    if opened is not None and cg in ("auto", opened.version):
        return opened, marker
    if opened is not None:
        opened.close()
    cgroup = open_box_cgroup(box.box_id, cg)
    return cgroup, marker


def _initialise(box: BoxDir, cg: str, opened=None):
    cgroup, marker = _cgroup_for(box, cg, opened)
    box.create()
    _forget_limits(box)
    cgroup.create()
    marker.write_text(cgroup.version + "\n")
    return cgroup


def init_box(box_id: int, cg: str = "auto", root=None, wait: float = 0.0) -> dict:
    """`wait`: seconds to wait for a busy box (inf: until it is free)."""
    box = BoxDir(box_id, root)
    with box.lock().acquire(wait=wait):
        cgroup = _initialise(box, cg)
        cgroup.close()
    return {"box_id": box.box_id, "path": str(box.path), "cgroup": cgroup.version}


def cleanup_box(box_id: int, root=None, wait: float = 2.0) -> dict:
    box = BoxDir(box_id, root)
    if not box.home.exists():
        return {"box_id": box.box_id, "removed": False}
    with box.lock().acquire(wait=wait):
        cgroup, _ = _cgroup_for(box, "auto")
        cgroup.destroy()
        cgroup.close()
        box.remove()
    return {"box_id": box.box_id, "removed": True}


class JoinWarmer:
    """Keeps the kernel's cgroup migration lock warm (BoxCgroup.prime_join
    every EVERY seconds): the next program's join then skips an RCU grace
    period of 5-15 ms. The one warmer, used two ways:

    * `JoinWarmer(box_id, cg)`: from a thread while a one-shot command starts
      up; stopped before any clone, so the process is single-threaded again
      when it forks. `stop()` hands over the adapter it opened, for the
      BoxSession (`opened=`): the host's cgroups are detected once a run.
    * `JoinWarmer.until_readable(cgroup, streams, seconds)`: the box helper
      after a run, while it waits for the next request (a judge's next test
      usually comes within AFTER_RUN; an idle box stops).
    """

    EVERY = 0.002
    AFTER_RUN = 1.0

    def __init__(self, box_id: int, cg: str = "auto", root=None):
        import threading
        self.cgroup = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._warm, args=(box_id, cg, root), daemon=True)
        self._thread.start()

    def _warm(self, box_id: int, cg: str, root) -> None:
        try:
            self.cgroup, _ = _cgroup_for(BoxDir(box_id, root), cg)
            if not self.cgroup.exists():
                return
            while not self._stop.is_set():
                self.cgroup.prime_join()
                self._stop.wait(self.EVERY)
        except Exception:  # noqa: BLE001 - an optimisation must never fail a run
            pass

    def stop(self):
        """Stop warming; the cgroup adapter it opened (the caller's to close),
        or None."""
        self._stop.set()
        self._thread.join()
        cgroup, self.cgroup = self.cgroup, None
        return cgroup

    @classmethod
    def until_readable(cls, cgroup, streams: list, seconds: float) -> None:
        """Warm until one of `streams` has data or `seconds` have passed."""
        import select
        import time
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if select.select(streams, [], [], cls.EVERY)[0]:
                return
            cgroup.prime_join()


class BoxSession:
    """Box N, locked for the life of the session, running one program at a time.

    Each run gets namespaces no earlier run touched (running/spare_ns.SpareNamespaces);
    the box helper makes the next run's while it waits (Runner.prepare_next).
    """

    def __init__(self, box_id: int, cg: str = "auto", root=None, stop_fd: int | None = None,
                 opened=None, wait: float = 0.0):
        self.box = BoxDir(box_id, root)
        self.cg, self.stop_fd = cg, stop_fd   # stop_fd: see Runner
        self._opened = opened                 # the JoinWarmer's adapter, if any
        self.wait = wait   # seconds to wait for a busy box (--wait: inf) before BoxBusyError
        self.lock = self.cgroup = self.runner = None

    def open(self) -> "BoxSession":
        opened, self._opened = self._opened, None
        try:
            self.lock = self.box.lock().acquire(wait=self.wait)
        except BaseException:
            if opened is not None:
                opened.close()
            raise
        try:
            if self.box.initialised and (self.box.home / "cgroup").exists():
                self.cgroup, _ = _cgroup_for(self.box, self.cg, opened)
                if not self.cgroup.exists():
                    _forget_limits(self.box)
                    self.cgroup.create()
            else:
                self.cgroup = _initialise(self.box, self.cg, opened)
            self.runner = Runner(self.box, self.cgroup, stop_fd=self.stop_fd)
        except BaseException:
            self.close()
            raise
        return self

    def run(self, request: RunRequest) -> Verdict:
        return self.runner.run(request)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None
        if self.cgroup is not None:
            self.cgroup.close()
            self.cgroup = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> "BoxSession":
        return self if self.lock is not None else self.open()

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["BoxSession", "init_box", "cleanup_box", "CG_CHOICES"]
