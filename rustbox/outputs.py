"""Where `rustbox run` puts its results, and what the program gets instead.

The verdict goes out on rustbox's stdout (or the --json file) and in the
--meta file; error lines go to its stderr. A program that shared one of
those open file descriptions could set O_NONBLOCK on it and fill it, so
that the verdict write fails with EAGAIN and a line the program printed is
all a consumer reads. Hence:

- The program never gets rustbox's own open file descriptions
  (`ProgramStdio`). Each of fds 0-2 it inherits is a new description of
  the same file, made by reopening /proc/self/fd/N (pipes and FIFOs,
  regular files, terminals and other devices): O_NONBLOCK, offsets and
  other per-description state the program sets stay its own. What cannot be
  reopened (a socket) reaches the program through a pipe that a `cat`
  relay, started and reaped by rustbox, copies to or from it.
- --meta and --json (`OperatorFile`) are checked before the run, their
  directory held open from then on: the walk never follows a link a box
  uid made, and the file itself is never a link, nor anything but a
  regular file with one name; a missing directory is an error before
  anything runs.
- Every write of the verdict is checked (`deliver`): partial writes and
  EAGAIN are carried on, and a verdict that cannot be written (EPIPE,
  ENOSPC, EIO, ...) makes the exit status 2 with one line on stderr.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import stat

from .errors import UsageError

RELAY_ARGV = ("/usr/bin/cat",)
_MAX_LINKS = 40          # the kernel's own limit on links in one path walk
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFLNK: "a symbolic link"}
# What reopening /proc/self/fd/N gives a new open file description of.
_REOPENABLE = (stat.S_IFREG, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK)


def ensure_standard_fds() -> None:
    """Open /dev/null on a closed fd 0, 1 or 2, so that nothing opened later
    (a pipe to the child, a verdict file) takes its number."""
    for fd in (0, 1, 2):
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


# -- the program's stdio --------------------------------------------------------

class ProgramStdio:
    """New open file descriptions of rustbox's fds 0-2 for the program.

    `fds` is (fd0, fd1, fd2): what the program gets for each slot it
    inherits (None for a slot it gets a file for). Close-on-exec here; the
    child dup2()s them onto 0-2. `finish()` after the run.
    """

    def __init__(self, slots: tuple[int, ...]):
        self.fds: list[int | None] = [None, None, None]
        self._opened: list[int] = []          # every fd we made, closed by finish()
        self._relays: list[tuple[int, int]] = []   # (pid, slot) of the cat relays
        # (our fd, the program's) on a regular file: after the run our offset
        # moves on to where the program's stopped (our stdin goes on after what
        # it read; the next writer to our stdout or stderr after what it wrote).
        self._regular: list[tuple[int, int]] = []
        made: dict[tuple[int, int], tuple[int, int]] = {}   # file -> (fd, access mode)
        try:
            for slot in slots:
                self.fds[slot] = self._for(slot, made)
        except BaseException:
            self.finish()
            raise

    def _for(self, slot: int, made: dict) -> int:
        st = os.fstat(slot)
        need = os.O_RDONLY if slot == 0 else os.O_WRONLY
        key = (st.st_dev, st.st_ino)
        if key in made and made[key][1] in (need, os.O_RDWR):
            return made[key][0]   # `2>&1`, a terminal on 0-2: one description, as before
        fd = None
        if stat.S_IFMT(st.st_mode) in _REOPENABLE:
            fd = _reopen(slot, st)
        if fd is None:
            fd = self._relay(slot)
        else:
            self._opened.append(fd)
            if stat.S_ISREG(st.st_mode):
                self._regular.append((slot, fd))
        made[key] = (fd, fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE)
        return fd

    def _relay(self, slot: int) -> int:
        """A pipe for the program, copied to (or from) our fd by `cat`."""
        if not os.path.exists(RELAY_ARGV[0]):
            raise UsageError(f"fd {slot} of rustbox cannot be given to the program as a file "
                             f"of its own, and {RELAY_ARGV[0]} (to relay it) is missing: "
                             "use --stdin/--stdout/--stderr")
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        if slot == 0:   # our stdin -> cat -> pipe -> the program
            source, sink, relay_end, program_end = slot, write_end, write_end, read_end
        else:           # the program -> pipe -> cat -> our fd
            source, sink, relay_end, program_end = read_end, slot, read_end, write_end
        try:
            pid = os.posix_spawn(
                RELAY_ARGV[0], RELAY_ARGV, {},
                file_actions=[(os.POSIX_SPAWN_DUP2, source, 0), (os.POSIX_SPAWN_DUP2, sink, 1),
                              (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)],
                setsid=True, setsigmask=(),
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM))
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        os.close(relay_end)
        self._opened.append(program_end)
        self._relays.append((pid, slot))
        return program_end

    def finish(self) -> None:
        """After the run: our stdin goes on where the program stopped reading,
        our stdout and stderr after what it wrote (a regular file: the next
        command writing there must not overwrite it), the program's
        descriptions are closed, output relays drain to their
        end, input relays are stopped."""
        for ours, theirs in self._regular:
            try:
                position = os.lseek(theirs, 0, os.SEEK_CUR)
                if position > os.lseek(ours, 0, os.SEEK_CUR):
                    os.lseek(ours, position, os.SEEK_SET)
            except OSError:
                pass
        self._regular = []
        for fd in self._opened:
            os.close(fd)
        self._opened = []
        for pid, slot in self._relays:
            if slot == 0:
                _kill(pid)
            os.waitpid(pid, 0)
        self._relays = []


def _reopen(fd: int, st: os.stat_result) -> int | None:
    """A new open file description of what fd is open on, or None."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        # O_NONBLOCK: a FIFO's open must not wait for a peer (a pipe whose
        # reader is gone fails with ENXIO, and goes through a relay instead).
        new = os.open(f"/proc/self/fd/{fd}", (flags & (os.O_ACCMODE | os.O_APPEND))
                      | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    os.set_blocking(new, True)
    if stat.S_ISREG(st.st_mode) and not flags & os.O_APPEND:
        os.lseek(new, os.lseek(fd, 0, os.SEEK_CUR), os.SEEK_SET)
    return new


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the files root writes for the operator ---------------------------------------

class OperatorFile:
    """--meta or --json: a regular file root writes for the operator.

    Made before the run: the walk to its directory never follows a link a
    box uid made (the path may lead into a box), the directory is held open
    from then on, and what is already there must be a regular file with one
    name; anything else, a missing directory included, is a UsageError now.
    Written after the run through that directory and never through a link,
    a FIFO, or a file with other names that appeared meanwhile (those make
    the write fail, loudly).
    """

    def __init__(self, path: str, what: str):
        self.path, self.what = str(path), what
        self._dir_fd, self.name = self._walk()
        try:
            self._check(os.stat(self.name, dir_fd=self._dir_fd, follow_symlinks=False))
        except FileNotFoundError:
            pass
        except BaseException:
            self.close()
            raise

    def _refuse(self, reason: str) -> UsageError:
        return UsageError(f"cannot write {self.what} {self.path}: {reason}")

    def _check(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise self._refuse(f"it is {_KINDS.get(stat.S_IFMT(st.st_mode), 'not a regular file')}"
                               "; rustbox writes only a regular file there")
        if st.st_nlink != 1:
            raise self._refuse("it has other hard links; rustbox writes only a file of one name")

    def _walk(self) -> tuple[int, str]:
        from .box import first_uid, max_box_id
        first = first_uid()
        box_uids = range(first, first + max_box_id() + 1)
        parts = [part for part in self.path.split("/") if part not in ("", ".")]
        if not parts:
            raise self._refuse("not a file name")
        name = parts.pop()
        dir_fd = os.open("/" if self.path.startswith("/") else ".", _DIR)
        try:
            links = 0
            while parts:
                part = parts.pop(0)
                try:
                    st = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    raise self._refuse(f"the directory {part!r} on its way does not exist") \
                        from None
                if stat.S_ISLNK(st.st_mode):
                    if st.st_uid in box_uids:
                        raise self._refuse(f"{part!r} on its way is a link that box uid "
                                           f"{st.st_uid} made; rustbox does not follow it")
                    links += 1
                    if links > _MAX_LINKS:
                        raise self._refuse("too many levels of symbolic links")
                    target = os.readlink(part, dir_fd=dir_fd)
                    if target.startswith("/"):
                        os.close(dir_fd)
                        dir_fd = os.open("/", _DIR)
                    parts[:0] = [p for p in target.split("/") if p not in ("", ".")]
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise self._refuse(f"{part!r} on its way is not a directory")
                inner = os.open(part, _DIR | os.O_NOFOLLOW, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd = inner
        except BaseException:
            os.close(dir_fd)
            raise
        return dir_fd, name

    def write(self, data: bytes) -> None:
        """The whole content; OSError when it cannot be written as promised."""
        # O_NONBLOCK: a FIFO put there meanwhile fails (ENXIO) or is refused below.
        fd = os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_NOCTTY | os.O_CLOEXEC, 0o644, dir_fd=self._dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                raise OSError(0, "no longer a regular file of one name")
            os.set_blocking(fd, True)
            os.ftruncate(fd, 0)
            write_all(fd, data)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None


# -- writing the verdict ------------------------------------------------------------

def write_all(fd: int, data: bytes) -> None:
    """Write every byte (partial writes, EAGAIN on a non-blocking description
    waited out); any other error is raised."""
    view = memoryview(data)
    poller = None
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            if poller is None:
                poller = select.poll()
                poller.register(fd, select.POLLOUT)
            poller.poll()


def _resume_terminal(fd: int) -> None:
    """A program may have stopped a terminal's output (tcflow TCOOFF): a
    write to it would then block for ever. Restart it first."""
    import termios
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background rustbox too
    try:
        termios.tcflow(fd, termios.TCOON)
    except (OSError, termios.error):
        pass
    finally:
        signal.signal(signal.SIGTTOU, previous)


def write_stream(fd: int, data: bytes) -> None:
    """The verdict (or an error line) on one of our own fds, checked."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        # After everything the program wrote there, on a line of its own.
        if not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
            os.lseek(fd, 0, os.SEEK_END)
        if st.st_size and _last_byte(fd, st.st_size) not in (b"\n", None):
            data = b"\n" + data
    elif stat.S_ISCHR(st.st_mode) and os.isatty(fd):
        _resume_terminal(fd)
    write_all(fd, data)


def _last_byte(fd: int, size: int) -> bytes | None:
    try:
        reader = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return None
    try:
        return os.pread(reader, 1, size - 1)
    except OSError:
        return None
    finally:
        os.close(reader)


def deliver(verdict, meta: OperatorFile | None, json: OperatorFile | None) -> int:
    """Write the verdict everywhere it goes; the exit status of `rustbox run`."""
    failed = []
    outputs = []
    data = verdict.to_json_oneshot() + b"\n"
    if meta is not None:
        outputs.append(("the --meta file", meta.write, verdict.to_meta().encode()))
    if json is not None:
        outputs.append(("the --json file", json.write, data))
    else:
        outputs.append(("stdout", lambda payload: write_stream(1, payload), data))
    for where, write, payload in outputs:
        try:
            write(payload)
        except OSError as exc:
            failed.append(f"{where} ({exc.strerror or exc})")
    status = verdict.exit_status
    if failed:
        detail = f": {verdict.message}" if verdict.status == "XX" else ""
        line = (f"rustbox: error: the verdict ({verdict.status}{detail}) could not be "
                f"written to {', '.join(failed)}\n")
        status = 2
    elif verdict.status == "XX":
        line = f"rustbox: error: {verdict.message}\n"
    else:
        return status
    try:
        write_stream(2, line.encode(errors="replace"))
    except OSError:
        pass  # nowhere left to say it: the exit status does
    return status
