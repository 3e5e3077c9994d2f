"""Connected runs: several programs at once, each in its own box, joined by pipes.

    from rustbox import BoxPool, ConnectedGroup
    group = ConnectedGroup.from_options({
        "group": [{"id": "sol", "argv": ["./sol"], "time": 1, "mem": "64M"},
                  {"id": "int", "argv": ["./interactor", "1.in"], "time": 5}],
        "pipes": [["sol", "int"], ["int", "sol"]],      # sol.stdout -> int.stdin, back
        "wall_time": 10, "transcript": 65536})
    with BoxPool([0, 1]) as pool:
        result = pool.run_connected(group)     # result.verdicts: one Verdict per program

This module owns the group: its spec (ConnectedGroup, the one constructor
for the API and a `rustbox batch` line), the pipes, handing each program's
ends to its box helper, the transcript relay, and the result. Each program
is an ordinary run of its own box (running/): its own limits, cgroups,
namespaces and verdict, so each is measured on its own.

The pipes are made here, in the caller, and passed to the box helpers as
file descriptors (SCM_RIGHTS on the helper's fd channel, see api.Box). A
helper hands its program the ends as stdin/stdout/stderr and closes its own
copies as soon as the program is cloned, and the caller closes its copies
once they are passed: a program's ends are then held by its own box only,
so when one side dies or closes its end the other reads end of file or
writes into EPIPE at once, instead of waiting for a copy nobody uses.

Without a transcript the programs talk through one kernel pipe each way,
as they would outside the sandbox. With one, each pipe is cut in two and a
relay thread here copies between the halves, recording what passes (capped
in bytes, each chunk with its offset in its stream and the time since the
group started). The relay holds at most one read's worth per pipe and
never blocks on one pipe while another could move, so it adds no deadlock
that the direct pipes would not have.

A pipe never deadlocks the group: a writer whose reader never reads
sleeps in write(2), spending no CPU, and every program's wall limit is
capped at the group's wall limit, so each ends by then at the latest (the
box helper kills it and reports TO); its peer then sees end of file or
EPIPE.
"""
from __future__ import annotations

import os
import select
import threading
import time

from .errors import RustboxError, UsageError
from .request import RunRequest
from .verdict import Verdict, sandbox_failure

STREAMS = {"stdin": 0, "stdout": 1, "stderr": 2}
GROUP_KEYS = ("id", "group", "pipes", "wall_time", "transcript")
MAX_PROGRAMS = 16
MAX_TRANSCRIPT = 64 << 20      # bytes a transcript may be asked to keep
RELAY_CHUNK = 65536            # one pipe's worth: the most the relay holds per pipe


class Pipe:
    """One pipe of a group: program `source`'s fd `source_fd` (1 or 2)
    into program `target`'s stdin (indices into the group's programs)."""

    __slots__ = ("source", "source_fd", "target", "name")

    def __init__(self, source: int, source_fd: int, target: int, name: str):
        self.source, self.source_fd, self.target, self.name = source, source_fd, target, name


class ConnectedGroup:
    """What a connected run is asked to do. Built from outside values only
    through `from_options` (the API's dict, a batch spec line)."""

    def __init__(self, programs: list[RunRequest], pipes: list[Pipe], wall_time: float,
                 transcript: int | None = None, id: str | None = None):
        self.programs, self.pipes, self.wall_time = programs, pipes, wall_time
        self.transcript, self.id = transcript, id

    @property
    def names(self) -> list[str]:
        return [program.id for program in self.programs]

    @classmethod
    def from_options(cls, spec: dict, box_root: str = "/var/lib/rustbox") -> "ConnectedGroup":
        """`group`: the programs, each a run spec (the keys of a batch line)
        with a unique `id`; `pipes`: [SOURCE, TARGET] pairs, SOURCE `id` or
        `id.stdout` or `id.stderr`, TARGET `id` or `id.stdin`; `wall_time`:
        seconds for the whole group (default: the longest wall limit of its
        programs; one is needed); `transcript`: bytes of transcript to keep
        (absent or 0: none). Anything wrong is a UsageError naming it."""
        if not isinstance(spec, dict):
            raise UsageError("a connected group must be a JSON object")
        unknown = sorted(k for k in spec if k not in GROUP_KEYS)
        if unknown:
            raise UsageError(f"unknown group key{'s' if len(unknown) > 1 else ''}: "
                             f"{', '.join(map(str, unknown))} (a group takes {', '.join(GROUP_KEYS)})")
        members = spec.get("group")
        if not isinstance(members, (list, tuple)) or not members:
            raise UsageError("'group' must be a non-empty list of run specs")
        if len(members) > MAX_PROGRAMS:
            raise UsageError(f"a group has at most {MAX_PROGRAMS} programs, not {len(members)}")
        programs, names = [], {}
        for number, member in enumerate(members, 1):
            if isinstance(member, RunRequest):
                request = member
            else:
                if not isinstance(member, dict):
                    raise UsageError(f"group program {number} must be a JSON object")
                try:
                    request = RunRequest.from_options(member, box_root)
                except UsageError as exc:
                    raise UsageError(f"group program {number}: {exc}") from None
            name = request.id
            if not name or not isinstance(name, str):
                raise UsageError(f"group program {number} needs an 'id' (its name in 'pipes')")
            if name in names:
                raise UsageError(f"group program id {name!r} is used twice")
            names[name] = len(programs)
            programs.append(request)
        pipes = _parse_pipes(spec.get("pipes") or [], names)
        for pipe in pipes:
            target, source = programs[pipe.target], programs[pipe.source]
            if target.stdin is not None:
                raise UsageError(f"program {target.id!r} has both a pipe and a stdin file")
            if (source.stdout if pipe.source_fd == 1 else source.stderr) is not None:
                raise UsageError(f"program {source.id!r} has both a pipe and a file for "
                                 f"{'stdout' if pipe.source_fd == 1 else 'stderr'}")
            if pipe.source_fd == 2 and source.stderr_to_stdout:
                raise UsageError(f"program {source.id!r}: a pipe from stderr and stderr_to_stdout")
        wall = spec.get("wall_time")
        if wall is None:
            walls = [p.limits.wall_kill_at for p in programs]
            if any(w is None for w in walls):
                raise UsageError("a connected group needs a wall limit: give 'wall_time' "
                                 "or a time or wall_time to every program")
            wall = max(walls)
        from .limits import parse_time
        wall = parse_time(wall, "group wall_time")
        transcript = spec.get("transcript")
        if transcript in (None, 0, False):
            transcript = None
        else:
            from .limits import parse_size
            transcript = parse_size(transcript, "transcript", maximum=MAX_TRANSCRIPT)
        group_id = spec.get("id")
        return cls(programs, pipes, wall, transcript,
                   None if group_id is None else str(group_id))

    def member_request(self, index: int) -> RunRequest:
        """Program `index`'s request as its box runs it: its wall limit capped
        at the group's, and every stdio neither piped nor given a file on
        /dev/null (a helper's own stdio is its control channel)."""
        request = self.programs[index]
        limits = request.limits
        wall = self.wall_time if limits.wall_time is None else min(limits.wall_time, self.wall_time)
        piped = self.piped_fds(index)
        wire = request.to_wire()
        wire["limits"] = limits.replace(wall_time=wall).as_dict()
        for fd, key in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
            if fd not in piped and wire[key] is None and not (fd == 2 and request.stderr_to_stdout):
                wire[key] = "/dev/null"
        wire["inherit_stdio"] = True      # the passed ends; the helper fills stdio_fds
        return RunRequest.from_options(wire)

    def piped_fds(self, index: int) -> set[int]:
        fds = {pipe.source_fd for pipe in self.pipes if pipe.source == index}
        if any(pipe.target == index for pipe in self.pipes):
            fds.add(0)
        return fds


def _parse_pipes(pipes, names: dict[str, int]) -> list[Pipe]:
    if not isinstance(pipes, (list, tuple)):
        raise UsageError("'pipes' must be a list of [SOURCE, TARGET] pairs")
    out, sources, targets = [], set(), set()
    for item in pipes:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(end, str) for end in item)):
            raise UsageError(f"invalid pipe {item!r} (expected [SOURCE, TARGET], "
                             "e.g. [\"sol\", \"int\"] or [\"sol.stdout\", \"int.stdin\"])")
        source, source_fd = _endpoint(item[0], names, ("stdout", "stderr"), "stdout")
        target, _ = _endpoint(item[1], names, ("stdin",), "stdin")
        if (source, source_fd) in sources:
            raise UsageError(f"pipe {item!r}: {item[0]} already feeds another pipe")
        if target in targets:
            raise UsageError(f"pipe {item!r}: {item[1]} already reads another pipe")
        sources.add((source, source_fd))
        targets.add(target)
        ids = {index: name for name, index in names.items()}
        stream = ".stderr" if source_fd == 2 else ""
        out.append(Pipe(source, source_fd, target, f"{ids[source]}{stream}>{ids[target]}"))
    return out


def _endpoint(text: str, names: dict[str, int], streams: tuple, default: str) -> tuple[int, int]:
    if text in names:
        return names[text], STREAMS[default]
    name, _, stream = text.rpartition(".")
    if name in names and stream in streams:
        return names[name], STREAMS[stream]
    if name in names:
        raise UsageError(f"invalid pipe end {text!r}: {stream!r} is not one of {', '.join(streams)}")
    raise UsageError(f"invalid pipe end {text!r}: no program has that id")


class Chunk:
    """One read's worth of a pipe, as the transcript keeps it."""

    __slots__ = ("pipe", "offset", "time", "data")

    def __init__(self, pipe: str, offset: int, time: float, data: bytes):
        self.pipe, self.offset, self.time, self.data = pipe, offset, time, data

    def to_dict(self) -> dict:
        return {"pipe": self.pipe, "offset": self.offset, "time": round(self.time, 6),
                "data": self.data.decode("utf-8", "backslashreplace")}


class Transcript:
    """What went through each pipe: chunks in the order the relay read them
    (kept up to `cap` bytes in all), and every pipe's total byte count."""

    def __init__(self, cap: int, pipes: list[str]):
        self.cap, self.kept = cap, 0
        self.chunks: list[Chunk] = []
        self.totals = {name: 0 for name in pipes}
        self.truncated = False
        # The relay's poll rounds: pipe -> the first round that found its
        # writer gone (POLLHUP: it closed it, by exiting most often), and
        # the last round that found it still there. One thread watched
        # both, so "A gone in a round no later than one that saw B still
        # there" means A closed first (ConnectedResult.closed_first).
        self.closed_round: dict[str, int] = {}
        self.open_round: dict[str, int] = {}

    def record(self, pipe: str, when: float, data: bytes) -> None:
        offset = self.totals[pipe]
        self.totals[pipe] = offset + len(data)
        room = self.cap - self.kept
        if room <= 0:
            self.truncated = True
            return
        if len(data) > room:
            data, self.truncated = data[:room], True
        self.kept += len(data)
        self.chunks.append(Chunk(pipe, offset, when, data))

    def to_dict(self, pipes=None) -> dict:
        """JSON-ready; `pipes`: only those pipes (a batch line shows each
        program what it wrote)."""
        keep = set(self.totals if pipes is None else pipes)
        return {"cap": self.cap, "truncated": self.truncated,
                "totals": {name: n for name, n in self.totals.items() if name in keep},
                "chunks": [chunk.to_dict() for chunk in self.chunks if chunk.pipe in keep]}

    def tail(self, limit: int = 2000) -> str:
        """The last `limit` characters or so, one line per chunk, for a judge's
        report: `[0.012s] sol>int: 3 4`."""
        lines: list[str] = []
        size = 0
        for chunk in reversed(self.chunks):
            text = chunk.data.decode("utf-8", "backslashreplace")
            line = f"[{chunk.time:.3f}s] {chunk.pipe}: {text.rstrip(chr(10))}"
            if size + len(line) > limit and lines:
                lines.append("...")
                break
            lines.append(line[-limit:])
            size += len(line) + 1
        if self.truncated:
            lines.append(f"(transcript cut at {self.cap} bytes)")
        return "\n".join(reversed(lines))


class ConnectedResult:
    """One verdict per program, in the group's order (each with the program's
    id), the order the programs ended in, and the transcript if one was kept."""

    def __init__(self, verdicts: list[Verdict], ended: list[float | None],
                 transcript: Transcript | None, id: str | None = None,
                 pipes: list[Pipe] | None = None):
        self.verdicts, self.transcript, self.id = verdicts, transcript, id
        self._ended, self._pipes = ended, pipes or []

    def lines(self) -> list[dict]:
        """`rustbox batch`'s lines for the group: one verdict per program,
        its `id` GROUP/PROGRAM, with `group` and `program`, and with a
        transcript, what that program wrote into its pipes."""
        out = []
        for index, verdict in enumerate(self.verdicts):
            line = verdict.to_dict()
            line.pop("id", None)
            head = {"id": f"{self.id}/{verdict.id}" if self.id is not None else verdict.id,
                    "group": self.id, "program": verdict.id}
            if self.transcript is not None:
                line["transcript"] = self.transcript.to_dict(
                    [pipe.name for pipe in self._pipes if pipe.source == index])
            out.append({**head, **line})
        return out

    def __getitem__(self, name: str) -> Verdict:
        for verdict in self.verdicts:
            if verdict.id == name:
                return verdict
        raise KeyError(name)

    @property
    def end_order(self) -> list[str]:
        """Program ids by the moment each program ended, as its box helper
        saw it (those whose end was not seen, a set-up failure say, last).
        Each helper notices its program's end when the kernel wakes it: on a
        busy host that can be a millisecond or two late, so two programs
        that ended closer together than that may come in either order."""
        order = sorted(range(len(self.verdicts)),
                       key=lambda i: (self._ended[i] is None, self._ended[i] or 0.0))
        return [self.verdicts[i].id for i in order]

    def ended_first(self, name: str) -> bool:
        """Whether program `name` ended before every other program of the group."""
        return all(end is not None for end in self._ended) and self.end_order[0] == name

    def closed_first(self, pipe: str, other: str) -> bool | None:
        """With a transcript: whether the writer of `pipe` closed it before
        `other`'s writer closed that (a program's stdout closes when it
        exits, unless it closed it earlier), as the one relay thread saw
        it: certain, unlike end_order. None when it cannot tell (both gone
        by the same look, or the relay was not watching)."""
        if self.transcript is None:
            return None
        closed, still_open = self.transcript.closed_round, self.transcript.open_round
        if pipe in closed and still_open.get(other, 0) >= closed[pipe]:
            return True
        if other in closed and still_open.get(pipe, 0) >= closed[other]:
            return False
        return None


# -- running a group -----------------------------------------------------------

def run_group(boxes: list, group: ConnectedGroup) -> ConnectedResult:
    """Run `group` on `boxes` (api.Box objects, one per program, held by the
    caller). Never raises for a program's failure: each gets its verdict
    (XX for one its box could not run)."""
    count = len(group.programs)
    if len(boxes) < count:
        raise UsageError(f"a group of {count} programs needs {count} boxes, got {len(boxes)}")
    handed: dict[tuple[int, int], int] = {}  # (program, fd) -> our end to pass to it
    own = _Fds()                             # every fd we opened, closed on the way out
    relay = None
    try:
        links = []
        for pipe in group.pipes:
            read_end, write_end = own.pipe()
            handed[(pipe.source, pipe.source_fd)] = write_end
            if group.transcript is None:
                handed[(pipe.target, 0)] = read_end
            else:
                relay_in, relay_out = read_end, None
                read_end, relay_out = own.pipe()
                handed[(pipe.target, 0)] = read_end
                links.append(_Link(pipe.name, relay_in, relay_out))
        requests = [group.member_request(i) for i in range(count)]
        started = time.monotonic()
        sent = []
        for index, (box, request) in enumerate(zip(boxes, requests)):
            fds = [handed.get((index, fd)) for fd in range(3)]
            sent.append(box.send_connected(request, fds))
        # Passed: the helpers hold their own references now. Ours must go, or
        # no program would ever see end of file or EPIPE from its peer.
        for fd in handed.values():
            own.close(fd)
        transcript = None
        if links:
            transcript = Transcript(group.transcript, [link.name for link in links])
            relay = _Relay(links, transcript, started, own)
            relay.start()
        verdicts, ended = [], []
        for index, (box, request, ok) in enumerate(zip(boxes, requests, sent)):
            if ok is not None:         # could not even be sent: its XX verdict
                verdicts.append(ok)
                ended.append(None)
                continue
            verdict, end = box.receive_connected(request, started)
            verdicts.append(verdict)
            ended.append(end)
        for verdict, request in zip(verdicts, requests):
            verdict.id = request.id
        if relay is not None:
            relay.finish()
        return ConnectedResult(verdicts, ended, transcript, group.id, group.pipes)
    finally:
        if relay is not None:
            relay.finish()
        own.close_all()


class _Fds:
    """The pipe ends this process opened for a group, each closed exactly
    once whichever thread (the caller, the relay) lets go of it first."""

    def __init__(self):
        self._open: set[int] = set()
        self._lock = threading.Lock()

    def pipe(self) -> tuple[int, int]:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        with self._lock:
            self._open.update((read_end, write_end))
        return read_end, write_end

    def close(self, fd: int) -> None:
        with self._lock:
            if fd not in self._open:
                return
            self._open.discard(fd)
            try:
                os.close(fd)
            except OSError:
                pass

    def close_all(self) -> None:
        for fd in list(self._open):
            self.close(fd)


class _Link:
    """One relayed pipe: what the source wrote (read here) into the target's
    half (written here), with at most one read's worth in between."""

    __slots__ = ("name", "read_fd", "write_fd", "pending", "eof")

    def __init__(self, name: str, read_fd: int, write_fd: int):
        self.name, self.read_fd, self.write_fd = name, read_fd, write_fd
        self.pending, self.eof = b"", False


class _Relay(threading.Thread):
    """Copies every link's data across and records it, until each link has
    seen end of file (or its reader has gone) or finish() is called."""

    POLL = 0.1

    def __init__(self, links: list[_Link], transcript: Transcript, started: float,
                 own: _Fds):
        super().__init__(name="rustbox-relay", daemon=True)
        self.links, self.transcript, self.started, self.own = links, transcript, started, own
        self._stop_at: float | None = None
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._relay()
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def _relay(self) -> None:
        poller = select.poll()
        owners: dict[int, _Link] = {}
        for link in self.links:
            os.set_blocking(link.read_fd, False)
            os.set_blocking(link.write_fd, False)
            poller.register(link.read_fd, select.POLLIN)
            # Nothing asked of the write end yet: poll still reports POLLERR
            # there once its reader has gone.
            poller.register(link.write_fd, 0)
            owners[link.read_fd] = owners[link.write_fd] = link
        live = set(self.links)
        rounds = 0
        while live:
            if self._stop_at is not None and time.monotonic() >= self._stop_at:
                return
            rounds += 1
            ready = poller.poll(self.POLL * 1000)
            self._watch_writers(ready, rounds)
            for fd, events in ready:
                link = owners.get(fd)
                if link is None or link not in live:
                    continue
                if fd == link.write_fd:
                    if events & (select.POLLERR | select.POLLHUP):
                        self._drop(link, poller, live)
                    elif events & select.POLLOUT:
                        self._flush(link, poller, live)
                    continue
                if link.pending:
                    continue                  # (a hang-up shows even while not asked for)
                try:
                    data = os.read(fd, RELAY_CHUNK)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    link.eof = True
                    poller.unregister(link.read_fd)
                    if not link.pending:
                        self._drop(link, poller, live)
                    continue
                with self._lock:
                    self.transcript.record(link.name, time.monotonic() - self.started, data)
                link.pending = data
                poller.unregister(link.read_fd)   # one read's worth at a time
                self._flush(link, poller, live)

    def _watch_writers(self, ready: list, rounds: int) -> None:
        hung_up = {fd for fd, events in ready if events & select.POLLHUP}
        with self._lock:
            for link in self.links:
                if link.eof or link.pending:   # its read end is not being polled
                    continue
                if link.read_fd in hung_up:
                    self.transcript.closed_round.setdefault(link.name, rounds)
                elif link.name not in self.transcript.closed_round:
                    self.transcript.open_round[link.name] = rounds

    def _flush(self, link: _Link, poller, live: set) -> None:
        try:
            written = os.write(link.write_fd, link.pending)
        except BlockingIOError:
            written = 0
        except OSError:               # EPIPE: its reader has gone
            self._drop(link, poller, live)
            return
        link.pending = link.pending[written:]
        if link.pending:
            poller.modify(link.write_fd, select.POLLOUT)
            return
        poller.modify(link.write_fd, 0)
        if link.eof:
            self._drop(link, poller, live)
        else:
            poller.register(link.read_fd, select.POLLIN)

    def _drop(self, link: _Link, poller, live: set) -> None:
        """Close both halves: the target sees end of file, a source still
        writing gets EPIPE, as through one pipe."""
        live.discard(link)
        for fd in (link.read_fd, link.write_fd):
            try:
                poller.unregister(fd)
            except KeyError:
                pass
            self.own.close(fd)

    def finish(self, grace: float = 1.0) -> None:
        """Every program has ended: what is still in flight is moved within
        `grace` (a dead reader takes nothing more), then the relay stops."""
        if self._stop_at is None:
            self._stop_at = time.monotonic() + grace
        self.join(grace + self.POLL + 0.5)
        if self.error is not None:
            error, self.error = self.error, None
            raise RustboxError(f"transcript relay failed: {error}")


def failed_members(group: ConnectedGroup, message: str) -> list[Verdict]:
    """An XX verdict for every program of a group that could not run at all."""
    return [sandbox_failure(-1, message, limits=request.limits.summary(), id=request.id)
            for request in group.programs]


__all__ = ["ConnectedGroup", "ConnectedResult", "Transcript", "Chunk", "Pipe", "run_group",
           "failed_members"]
