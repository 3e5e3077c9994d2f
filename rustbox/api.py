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
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager

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

    def __call__(self, argv: list[str], pass_fds: tuple = ()) -> subprocess.Popen:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="rustbox-spawner",
                                                daemon=True)
                self._thread.start()
        reply: queue.Queue = queue.Queue(maxsize=1)
        self._requests.put((argv, pass_fds, reply))
        result = reply.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def _serve(self) -> None:
        while True:
            argv, pass_fds, reply = self._requests.get()
            try:
                # A session of its own: signals for our process group (a
                # terminal's Ctrl-C, `systemctl stop`) are for us to handle,
                # not for the helper to die of mid-run.
                reply.put(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           close_fds=True, pass_fds=pass_fds,
                                           start_new_session=True))
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
        self._channel: socket.socket | None = None
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
        # The fd channel: a socket for passing a connected run's pipe ends
        # (connected.py) to the helper alongside its request.
        channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            helper = _spawn([sys.executable, "-S", "-c", BOOT, "\n".join(_IMPORT_PATH),
                             str(self.box_id), str(self.root or ""), self.cg,
                             str(theirs.fileno())], pass_fds=(theirs.fileno(),))
        except BaseException:
            channel.close()
            raise
        finally:
            theirs.close()
        hello = read_frame(helper.stdout) or {"error": "box helper died"}
        if "error" in hello:
            helper.wait()
            channel.close()
            raise _ERRORS.get(hello.get("kind"), RustboxError)(hello["error"])
        self._helper, self._channel, self.cgroup_version = helper, channel, hello["cgroup"]
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
        failed = self._send(request, wire)
        if failed is not None:
            return failed
        reply = self._receive(request, time.monotonic())
        return reply if isinstance(reply, Verdict) else Verdict.from_dict(reply)

    def send_connected(self, request: RunRequest, fds: list) -> Verdict | None:
        """Start one program of a connected group (connected.py): `fds` are
        its stdin, stdout, stderr (a pipe end, or None for the request's
        own), passed to the helper, which answers later (receive_connected).
        Returns None once sent, or the program's XX verdict."""
        wire = request.to_wire()
        wire["passed_fds"] = [fd is not None for fd in fds]
        return self._send(request, wire, [fd for fd in fds if fd is not None])

    def receive_connected(self, request: RunRequest, sent_at: float) -> tuple[Verdict, float | None]:
        """The verdict of a program started by send_connected, and the
        monotonic time it ended (None if it never started)."""
        reply = self._receive(request, sent_at)
        if isinstance(reply, Verdict):
            return reply, None
        if "verdict" not in reply:     # an answer of the plain kind: a bad request
            return Verdict.from_dict(reply), None
        return Verdict.from_dict(reply["verdict"]), reply.get("ended")

    def _send(self, request: RunRequest, wire: dict, fds: list | None = None) -> Verdict | None:
        self.init()
        try:
            if fds:
                # The ends go first: the helper reads them once it reads the
                # request that announces them.
                socket.send_fds(self._channel, [b"F"], fds)
            write_frame(self._helper.stdin, wire)
        except (OSError, ValueError):
            self.close()
            return sandbox_failure(self.box_id, "box helper died before the run",
                                   self.cgroup_version, request.limits.summary(), request.id)
        except BaseException:
            self.close(kill=True)
            raise
        return None

    def _receive(self, request: RunRequest, sent_at: float):
        """The helper's reply (a dict), or an XX Verdict if none came."""
        helper = self._helper
        timeout = _reply_timeout(request.limits)
        try:
            if timeout is not None and not _answers_within(
                    helper, max(0.0, sent_at + timeout - time.monotonic())):
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
        return reply

    def clear(self) -> None:
        """Empty /box (symlinks the program left are removed, never followed)."""
        self._dir.clear()

    def close(self, kill: bool = False) -> None:
        """Stop the helper (kill=True: at once, ending a run in progress);
        the box stays initialised."""
        helper, self._helper = self._helper, None
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
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
        # One borrower of several boxes at a time (run_connected): two that
        # each held part of what they need could wait on each other for ever.
        self._gather = threading.Lock()
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

    @contextmanager
    def _borrow_many(self, loan: "BoxLoan | None", count: int):
        """`count` boxes at once (a connected group). A borrower of one box
        never waits while holding one, and those of several take turns, so
        the boxes always come."""
        if count > len(self.boxes):
            raise UsageError(f"a group of {count} programs needs {count} boxes; "
                             f"this pool has {len(self.boxes)}")
        while not self._gather.acquire(timeout=self._WAKE):
            self._check_open(loan)
        with ExitStack() as stack:
            try:
                boxes = [stack.enter_context(self._borrow(loan)) for _ in range(count)]
            finally:
                self._gather.release()
            yield boxes

    def run_connected(self, group) -> "ConnectedResult":
        """Run a connected group (a ConnectedGroup or its spec dict, see
        connected.py) on as many boxes of the pool as it has programs."""
        return _run_connected(self, None, group)

    @contextmanager
    def borrow(self, count: int):
        """`count` boxes at once, for a caller that prepares them itself
        before connected.run_group (a judge's interactor and submission)."""
        with self._borrow_many(None, count) as boxes:
            yield boxes

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

    def run_connected(self, group) -> "ConnectedResult":
        return _run_connected(self.pool, self, group)

    @contextmanager
    def borrow(self, count: int):
        with self.pool._borrow_many(self, count) as boxes:
            yield boxes

    def revoke(self, reason: str) -> list[int]:
        """Take every box back now; returns the ids of those that were held."""
        self.revoked = reason
        return self.pool._take_back(self, reason)


def run(argv, limits: Limits | None = None, box_id: int = 0, root=None, **options) -> Verdict:
    """One run in box `box_id` (initialised on the way if needed)."""
    with Box(box_id, root) as box:
        return box.run(argv, limits, **options)


def _group(group):
    from .connected import ConnectedGroup
    from .box import box_root
    if isinstance(group, ConnectedGroup):
        return group
    return ConnectedGroup.from_options(group, str(box_root()))


def _run_connected(pool: BoxPool, loan: "BoxLoan | None", group) -> "ConnectedResult":
    from .connected import run_group
    group = _group(group)
    with pool._borrow_many(loan, len(group.programs)) as boxes:
        return run_group(boxes, group)


def run_connected(group, box_ids=None, root=None) -> "ConnectedResult":
    """One connected group (a ConnectedGroup or its spec dict, see
    connected.py) in boxes `box_ids` (default 0, 1, ...: one per program)."""
    from .connected import run_group
    group = _group(group)
    ids = list(range(len(group.programs))) if box_ids is None else list(box_ids)
    boxes = [Box(box_id, root) for box_id in ids]
    try:
        return run_group([box.init() for box in boxes], group)
    finally:
        for box in boxes:
            box.close()
