"""The Python API: Box, BoxPool and run(), the same runs as the CLI.

Each Box drives one box helper process (helper.py) that holds the box's
lock for as long as the Box is open. A BoxPool lends its boxes to threads;
`pool.lend()` makes a BoxLoan, a view of the pool for one job (a judge's
grading) that can be revoked as a whole: the runs of the boxes it holds
are killed and those boxes go back to the pool as fresh Box objects, so a
job that hangs never keeps a box.
"""
from __future__ import annotations

import os
import queue
import select
import subprocess
import sys
import threading
from contextlib import contextmanager

from .box import BoxDir
from .errors import BoxBusyError, RunStopped, RustboxError, UsageError
from .helper import BOOT, read_frame, write_frame
from .limits import Limits
from .privileges import require_root
from .request import RunRequest
from .session import cleanup_box
from .verdict import Verdict, sandbox_failure

# The helper starts without site (smaller, faster): hand it our import path,
# with this package's own parent first (editable installs hook in via site).
_IMPORT_PATH = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), *sys.path]
_ERRORS = {"BoxBusyError": BoxBusyError, "UsageError": UsageError}


class _Spawner:
    """Starts box helpers from one long-lived thread.

    A helper dies with the thread that started it (its parent-death signal
    follows the thread, not the process), so helpers are never started
    from the caller's thread, which may be a short-lived pool worker.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def __call__(self, argv: list[str]) -> subprocess.Popen:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="rustbox-spawner",
                                                daemon=True)
                self._thread.start()
        reply: queue.Queue = queue.Queue(maxsize=1)
        self._requests.put((argv, reply))
        result = reply.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _serve(self) -> None:
        while True:
            argv, reply = self._requests.get()
            try:
                # A session of its own: signals for our process group (a
                # terminal's Ctrl-C, `systemctl stop`) are for us to handle,
                # not for the helper to die of mid-run.
                reply.put(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           close_fds=True, start_new_session=True))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                reply.put(exc)


_spawn = _Spawner()
# A run ends by its wall limit plus a second, and its set-up takes at most
# about as long again (running/bounds.py): past twice the limit plus this, the
# helper is taken for stuck.
REPLY_GRACE = 5.0


def _reply_timeout(limits: Limits) -> float | None:
    return None if limits.wall_kill_at is None else 2 * limits.wall_kill_at + REPLY_GRACE


def _answers_within(helper: subprocess.Popen, timeout: float | None) -> bool:
    """Whether the helper's reply starts arriving within `timeout` seconds
    (None: wait as long as it takes). Only one reply is ever outstanding,
    so nothing of it sits in the reader's buffer yet."""
    if timeout is None:
        return True
    ready, _, _ = select.select([helper.stdout], [], [], timeout)
    return bool(ready)


class Box:
    """Box N for repeated runs from Python. Not for two threads at once."""

    def __init__(self, box_id: int = 0, root=None, cg: str = "auto"):
        self._dir = BoxDir(box_id, root)
        self.box_id, self.root, self.cg = self._dir.box_id, root, cg
        self._helper: subprocess.Popen | None = None
        self.cgroup_version: str | None = None
        self._retired: str | None = None    # why this object may start no helper again

    @property
    def path(self):
        """Host path of the directory the program sees as /box."""
        return self._dir.path

    @property
    def uid(self) -> int:
        return self._dir.uid

    @property
    def initialised(self) -> bool:
        """Whether the box exists on disk (a pool cleans up the boxes it made)."""
        return self._dir.initialised

    def init(self) -> "Box":
        """Start the box helper (initialising the box if needed); idempotent."""
        if self._helper is not None and self._helper.poll() is None:
            return self
        require_root("a rustbox Box", "run this Python program as root")
        if self._retired:
            raise RunStopped(f"box {self.box_id}: {self._retired}")
        helper = _spawn([sys.executable, "-S", "-c", BOOT, "\n".join(_IMPORT_PATH),
                         str(self.box_id), str(self.root or ""), self.cg])
        hello = read_frame(helper.stdout) or {"error": "box helper died"}
        if "error" in hello:
            helper.wait()
            raise _ERRORS.get(hello.get("kind"), RustboxError)(hello["error"])
        self._helper, self.cgroup_version = helper, hello["cgroup"]
        return self

    def run(self, argv, limits: Limits | None = None, *, stdin=None, stdout=None, stderr=None,
            stderr_to_stdout=False, dirs=(), env=None, full_env=False, share_net=False,
            seccomp="default", no_default_dirs=False, id=None) -> Verdict:
        """Run argv in the box; stdio paths are inside the box (default /dev/null)."""
        request = RunRequest.from_options(
            {"argv": list(argv), "limits": limits or Limits(), "stdin": stdin, "stdout": stdout,
             "stderr": stderr, "stderr_to_stdout": stderr_to_stdout, "dir": list(dirs),
             "no_default_dirs": no_default_dirs, "env": dict(env or {}), "full_env": full_env,
             "share_net": share_net, "seccomp": seccomp, "id": id}, str(self._dir.root))
        return self.run_request(request)

    def run_request(self, request: RunRequest) -> Verdict:
        wire = request.to_wire()          # the caller's request is left as it is
        wire["inherit_stdio"] = False      # the helper's stdio is its control channel
        self.init()
        helper = self._helper
        try:
            write_frame(helper.stdin, wire)
            if not _answers_within(helper, _reply_timeout(request.limits)):
                # The helper bounds every run itself (running/runner.py); this is
                # the last layer: a silent helper never hangs its caller.
                # Killed outright (it did not keep its own bound); its PID
                # namespace's init sees end of file and takes the run along.
                helper.kill()
                self.close()
                return sandbox_failure(self.box_id, "the box helper did not answer in time "
                                       "and was killed", self.cgroup_version,
                                       request.limits.summary(), request.id)
            reply = read_frame(helper.stdout)
        except (OSError, ValueError, EOFError):
            reply = None
        except BaseException:
            # Ctrl-C mid-run: end the run, and never read its late reply as
            # the next run's.
            self.close(kill=True)
            raise
        if reply is None:
            self.close()
            return sandbox_failure(self.box_id, "box helper died during the run",
                                   self.cgroup_version, request.limits.summary(), request.id)
        return Verdict.from_dict(reply)

    def clear(self) -> None:
        """Empty /box (symlinks the program left are removed, never followed)."""
        self._dir.clear()

    def close(self, kill: bool = False) -> None:
        """Stop the helper (kill=True: at once, ending a run in progress);
        the box stays initialised."""
        helper, self._helper = self._helper, None
        if helper is None:
            return
        if kill:
            helper.terminate()  # the helper ends its run cleanly and exits
        try:
            helper.stdin.close()
        except OSError:
            pass
        try:
            helper.wait(timeout=5 if kill else 30)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
        helper.stdout.close()

    def retire(self, reason: str) -> None:
        """Kill the helper (and its run) and never start one from this object
        again: whoever still holds it gets RunStopped instead of a run."""
        self._retired = reason
        self.close(kill=True)

    def cleanup(self) -> None:
        """Stop the helper and remove the box's directory and cgroups."""
        self.close()
        cleanup_box(self.box_id, self.root)

    def __enter__(self) -> "Box":
        return self.init()

    def __exit__(self, *exc) -> None:
        self.close()


class BoxPool:
    """A set of boxes shared by threads: borrow one with `with pool.box() as box:`.

    close() is final: the pool lends nothing afterwards, and a box still
    lent out starts no new helper (its holder gets RunStopped), so a thread
    that outlives the pool never runs anything in it.
    """

    _WAKE = 0.2     # a borrower waiting for a box re-checks its loan this often

    def __init__(self, box_ids=None, root=None, cg: str = "auto"):
        ids = list(range(os.cpu_count() or 1)) if box_ids is None else list(box_ids)
        if not ids:
            raise UsageError("a box pool needs at least one box")
        self.root, self.cg = root, cg
        self.boxes = [Box(i, root, cg) for i in ids]
        self._free: queue.Queue[Box] = queue.Queue()
        for box in self.boxes:
            self._free.put(box)
        self._lent: dict[int, tuple[Box, BoxLoan | None]] = {}  # id(box) -> (box, loan)
        self._lock = threading.Lock()
        self._closed: str | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @contextmanager
    def box(self):
        with self._borrow(None) as box:
            yield box

    @contextmanager
    def _borrow(self, loan: "BoxLoan | None"):
        while True:
            self._check_open(loan)
            try:
                box = self._free.get(timeout=self._WAKE)
                break
            except queue.Empty:
                continue
        with self._lock:
            if self._closed or (loan is not None and loan.revoked):
                self._free.put(box)
                self._check_open(loan)
            self._lent[id(box)] = (box, loan)
        try:
            yield box.init()
        finally:
            with self._lock:
                mine = self._lent.pop(id(box), None) is not None
            if mine and not box._retired:
                self._free.put(box)

    def _check_open(self, loan: "BoxLoan | None") -> None:
        if self._closed:
            raise RunStopped(f"the box pool is closed: {self._closed}")
        if loan is not None and loan.revoked:
            raise RunStopped(f"the boxes were taken back: {loan.revoked}")

    def lend(self) -> "BoxLoan":
        """A view of this pool for one job, revocable as a whole."""
        return BoxLoan(self)

    def _take_back(self, loan: "BoxLoan", reason: str) -> list[int]:
        """Kill the runs of every box `loan` holds and put fresh Box objects
        for them in the pool (the old ones are retired). Returns their ids."""
        with self._lock:
            held = [box for box, owner in self._lent.values() if owner is loan]
            for box in held:
                del self._lent[id(box)]
        for old in held:
            old.retire(reason)          # its helper is dead: the box lock is free
            fresh = Box(old.box_id, self.root, self.cg)
            with self._lock:
                self.boxes[self.boxes.index(old)] = fresh
            self._free.put(fresh)
        return [box.box_id for box in held]

    def run(self, argv, limits: Limits | None = None, **options) -> Verdict:
        with self.box() as box:
            return box.run(argv, limits, **options)

    def close(self, kill: bool = False) -> None:
        """Stop every helper (kill=True: ending the runs in progress); final."""
        self._closed = self._closed or "closed"
        for box in list(self.boxes):
            if kill:
                box.retire("the box pool is closed")
            else:
                box._retired = box._retired or "the box pool is closed"
                box.close()

    def cleanup(self) -> None:
        self.close()
        for box in self.boxes:
            cleanup_box(box.box_id, box.root)

    def __enter__(self) -> "BoxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BoxLoan:
    """One job's share of a BoxPool: `box()`, `run()` and `len()` as the pool's.

    `revoke(reason)` ends the job's hold at once, from any thread: runs in
    the boxes it holds are killed (their run calls return an XX verdict),
    those boxes return to the pool as fresh Box objects, and every later
    borrow through this loan raises RunStopped."""

    def __init__(self, pool: BoxPool):
        self.pool = pool
        self.revoked: str | None = None

    def __len__(self) -> int:
        return len(self.pool)

    @contextmanager
    def box(self):
        with self.pool._borrow(self) as box:
            yield box

    def run(self, argv, limits: Limits | None = None, **options) -> Verdict:
        with self.box() as box:
            return box.run(argv, limits, **options)

    def revoke(self, reason: str) -> list[int]:
        """Take every box back now; returns the ids of those that were held."""
        self.revoked = reason
        return self.pool._take_back(self, reason)


def run(argv, limits: Limits | None = None, box_id: int = 0, root=None, **options) -> Verdict:
    """One run in box `box_id` (initialised on the way if needed)."""
    with Box(box_id, root) as box:
        return box.run(argv, limits, **options)
