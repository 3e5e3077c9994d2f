"""Building a program once, inside a box, into a directory of artifacts.

Submissions and custom validators are both "programs" (a file, or a
directory of files, possibly with `build`/`run` scripts). `build()` copies
the sources into a box, runs the language's compile command there with the
compilation limits, and copies back the regular files it left: that
directory is later mounted read-only at PROGRAM_DIR in every box that runs
the program. `ValidatorCache` keeps built validators on disk, keyed by a
hash of their sources and build recipe, so each is compiled only once.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rustbox import DirRule, Limits
from rustbox.verdict import ML, OL, RE, TO, XX

from .errors import LanguageError, SubmissionError
from .languages import PROGRAM_DIR, Language, LanguageTable
from .problem import substitute_constants

COMPILE_LOG = "compile.log"
MESSAGE_LINES, MESSAGE_CHARS = 40, 4000
MAX_SOURCE_BYTES = 16 << 20          # what we copy in, whatever limits.code says
MAX_ARTIFACT_BYTES = 512 << 20       # what we copy out of the compile box ...
MAX_ARTIFACT_ENTRIES = 100_000       # ... in files and directories
MAX_ARTIFACT_DEPTH = 100             # ... and in levels of directories
# What a compile box may hold (--quota, 1 KiB blocks and inodes): the
# sources, what may be copied out, and room for the compiler's own files.
COMPILE_QUOTA = ((MAX_SOURCE_BYTES + MAX_ARTIFACT_BYTES) >> 10, MAX_ARTIFACT_ENTRIES + 1000)


@dataclass(frozen=True)
class CompileLimits:
    time: float = 60.0               # seconds (limits.compilation_time)
    memory_mib: int = 2048           # limits.compilation_memory
    output_mib: int = 256            # largest file the compiler may write

    @property
    def wall_time(self) -> float:
        """The compile's wall clock limit (compilers wait on the disk)."""
        return self.time * 2 + 5


@dataclass
class Program:
    """A built program: where its files are and how to start it in a box."""

    language: Language
    directory: Path                  # host dir, mounted read-only at PROGRAM_DIR
    argv: list[str]
    mounts: list[DirRule] = field(default_factory=list)
    env: dict = field(default_factory=dict)
    processes: int = 1
    memory_overhead_mib: int = 0

    def dir_rules(self) -> list[DirRule]:
        return [DirRule(inside=PROGRAM_DIR, host=str(self.directory), mode="ro"), *self.mounts]


@dataclass
class BuildResult:
    ok: bool
    status: str                      # "OK", "CE" (the program's fault) or "JE" (ours)
    message: str = ""
    cpu_time: float = 0.0
    wall_time: float = 0.0
    program: Program | None = None


def source_files(source: Path) -> dict[str, Path]:
    """name -> host file for a program given as one file or a directory."""
    if source.is_dir():
        files = {}
        for entry in sorted(source.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                files[entry.name] = entry
        if not files:
            raise SubmissionError(f"{source}: no files in the program directory")
        return files
    if not source.is_file():
        raise SubmissionError(f"{source}: no such file")
    return {source.name: source}


def truncate_message(text: str) -> str:
    """A compiler's output, cut to what a person reads: the first lines."""
    text = text.replace("\r", "").strip()
    lines = text.splitlines()
    cut = len(lines) > MESSAGE_LINES
    text = "\n".join(lines[:MESSAGE_LINES])
    if len(text) > MESSAGE_CHARS:
        text, cut = text[:MESSAGE_CHARS], True
    return text + ("\n[... compiler output truncated]" if cut else "")


def _read_box_file(path: Path, limit: int) -> bytes:
    """Read a file the box wrote, never through a symlink it left."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class ArtifactLimit(Exception):
    """The build left more than the judge copies out (the program's fault: CE)."""


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy_out(box_dir: Path, target: Path) -> None:
    """Regular files (and directories) the compile left, never following links.

    The box's tree is the program's: every open is relative to its parent
    directory's fd and O_NOFOLLOW (a link is skipped, never followed), and
    the walk is a loop holding one directory open on each side, so neither
    a tree thousands of levels deep nor a wide one touches Python's
    recursion limit or the fd limit. No box process runs meanwhile (the
    compile's processes are dead and we hold the box), so going back up by
    ".." is safe; the target side is ours. What is copied is bounded in
    bytes, entries and depth: past a bound the build is refused
    (ArtifactLimit), so the copy stays small enough for anyone to walk.
    """
    budget = {"bytes": 0, "entries": 0}
    src = os.open(box_dir, _DIR_FLAGS)
    try:
        dst = os.open(target, _DIR_FLAGS)
    except BaseException:
        os.close(src)
        raise
    pending = [_copy_files(src, dst, budget)]   # per level: subdirectories left to copy
    try:
        while True:
            if pending[-1]:
                name = pending[-1].pop()
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=src)
                except OSError:
                    continue                        # gone or not a directory: nothing to copy
                if len(pending) >= MAX_ARTIFACT_DEPTH:
                    os.close(child)
                    raise ArtifactLimit(f"the build left directories nested deeper than "
                                        f"{MAX_ARTIFACT_DEPTH} levels")
                os.close(src)
                src = child
                os.mkdir(name, 0o755, dir_fd=dst)
                child = os.open(name, _DIR_FLAGS, dir_fd=dst)
                os.close(dst)
                dst = child
                pending.append(_copy_files(src, dst, budget))
                continue
            pending.pop()
            if not pending:
                return
            src, dst = _parent(src), _parent(dst)
    finally:
        os.close(src)
        os.close(dst)


def _parent(fd: int) -> int:
    """The directory above fd, opened; closes fd."""
    parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
    os.close(fd)
    return parent


def _copy_files(src: int, dst: int, budget: dict) -> list[str]:
    """Copy the regular files of directory src into dst; return its subdirectories."""
    subdirs = []
    with os.scandir(src) as entries:
        for entry in entries:
            budget["entries"] += 1
            if budget["entries"] > MAX_ARTIFACT_ENTRIES:
                raise ArtifactLimit(f"the build left more than {MAX_ARTIFACT_ENTRIES} files "
                                    "and directories")
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            elif entry.is_file(follow_symlinks=False) and entry.name != COMPILE_LOG:
                _copy_file(src, dst, entry.name, budget)
    return subdirs


def _copy_file(src: int, dst: int, name: str, budget: dict) -> None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return
        budget["bytes"] += st.st_size
        if budget["bytes"] > MAX_ARTIFACT_BYTES:
            raise ArtifactLimit(f"the build left more than {MAX_ARTIFACT_BYTES >> 20} MiB of files")
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o755 if st.st_mode & 0o111 else 0o644, dir_fd=dst)
        try:
            left = st.st_size
            while left > 0:
                sent = os.sendfile(out, fd, None, min(left, 1 << 24))
                if not sent:
                    break
                left -= sent
            os.fchmod(out, 0o755 if st.st_mode & 0o111 else 0o644)
        finally:
            os.close(out)
    finally:
        os.close(fd)


_KOTLIN_PACKAGE = re.compile(rb"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


def kotlin_main_class(entry: str, path: Path | None) -> str:
    """The JVM class Kotlin compiles a file's top-level main into: hello.kt
    holds HelloKt (in the file's package, if it names one)."""
    stem = re.sub(r"\W", "_", Path(entry).stem) or "_"
    name = stem[0].upper() + stem[1:] + "Kt"
    try:
        head = path.read_bytes()[:1 << 16] if path is not None else b""
    except OSError:
        head = b""
    package = _KOTLIN_PACKAGE.search(head)
    return f"{package.group(1).decode()}.{name}" if package else name


# {placeholder}: (file endings, what declares a class, what declares its main).
_MAIN_CLASS = {
    "java_main": ((".java",), rb"\b(?:class|interface|enum|record)\s+([A-Za-z_$][\w$]*)",
                  rb"\bstatic\s+(?:public\s+|final\s+)*void\s+main\s*\("),
    "scala_main": ((".scala",), rb"\bobject\s+([A-Za-z_$][\w$]*)", rb"\bdef\s+main\s*\("),
}
_PACKAGE = re.compile(rb"^\s*package\s+([A-Za-z_][\w.]*)\s*;?", re.MULTILINE)
_COMMENTS = re.compile(rb"/\*.*?\*/|//[^\n]*", re.DOTALL)


def main_class(paths: list[Path], declaration: bytes, main: bytes) -> str | None:
    """The class whose main method starts a JVM program (DOMjudge detects it
    too): the class declared last before the first main method, in its
    file's package; None when no file has one."""
    seen = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        try:
            text = _COMMENTS.sub(b" ", path.read_bytes()[:MAX_SOURCE_BYTES])
        except OSError:
            continue
        found = re.search(main, text)
        if not found:
            continue
        classes = re.findall(declaration, text[:found.start()])
        if not classes:
            continue
        package = _PACKAGE.search(text)
        name = classes[-1].decode()
        return f"{package.group(1).decode()}.{name}" if package else name
    return None


def _install(box, name: str, data: bytes, mode: int = 0o644) -> None:
    dest = box.path / name
    dest.write_bytes(data)
    os.chmod(dest, mode)


def build(source: Path, language: Language, table: LanguageTable, box, limits: Limits,
          output_dir: Path, memory_mib: int, included: dict[str, Path] | None = None,
          constants: dict | None = None) -> BuildResult:
    """Compile `source` in `box` into `output_dir` (created, world-readable),
    under `limits` (Grader.limits_for("compile", language)).

    `included` (relative path -> host file) are the package's include/
    files: copied over the submission's own, as the format says."""
    included = included or {}
    own = source_files(source)
    files = {**own, **{n: p for n, p in included.items() if "/" not in n}}
    has_scripts = source.is_dir() and ("build" in files or "run" in files)
    # main.* wherever it comes from (an include/ may bring the entry point),
    # else the submission's own first file, never an included helper.
    entry = "run" if has_scripts else language.entry_point(
        [f for f in files if Path(f).stem in ("main", "Main", "__main__") and language.matches(f)]
        or list(own)
        if any(language.matches(f) for f in own) else list(files))
    sources = sorted(f for f in files if language.matches(f)) or [entry]
    values = {"source": entry, "stem": Path(entry).stem, "sources": sources,
              "program_dir": PROGRAM_DIR, "memory_mib": memory_mib,
              "kotlin_main": kotlin_main_class(entry, files.get(entry))}
    for name, (endings, declaration, main) in _MAIN_CLASS.items():
        if not has_scripts and any(f"{{{name}}}" in arg for arg in language.run):
            found = main_class([files[f] for f in [entry, *sorted(files)] if Path(f).suffix in endings],
                               declaration, main)
            if found is None:
                return BuildResult(False, "CE", f"no class with a main method among {', '.join(sources)}")
            values[name] = found
    output_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(output_dir, 0o755)
    box.clear()
    size = 0
    for name, path in files.items():
        data = substitute_constants(path.read_bytes(), constants)
        size += len(data)
        if size > MAX_SOURCE_BYTES:
            raise SubmissionError(f"{source}: more than {MAX_SOURCE_BYTES >> 20} MiB of source")
        _install(box, name, data, 0o755 if os.access(path, os.X_OK) else 0o644)
    for name, path in included.items():
        if "/" in name:                       # an included tree (include/java/pkg/Util.java)
            for parent in reversed(Path(name).parents[:-1]):
                if not (box.path / parent).is_dir():
                    (box.path / parent).mkdir(mode=0o755)
                    os.chown(box.path / parent, box.uid, box.uid)
            _install(box, name, substitute_constants(path.read_bytes(), constants),
                     0o755 if os.access(path, os.X_OK) else 0o644)
    if has_scripts:
        compile_argv = ["/bin/sh", "build"] if "build" in files else None
        run_argv = [f"{PROGRAM_DIR}/run"]
        compile_mounts: list[DirRule] = []
    else:
        compile_argv = table.expand(language, language.compile, values) if language.compile else None
        run_argv = table.expand(language, language.run, values)
        compile_mounts = table.mounts(language, language.compile_dirs, values)
    run_mounts = table.mounts(language, language.run_dirs, values)
    result = BuildResult(ok=True, status="OK")
    if compile_argv:
        # The box's own files are root's: let the compiler write next to them.
        os.chown(box.path, box.uid, box.uid)
        verdict = box.run(compile_argv, limits, stdout=COMPILE_LOG, stderr_to_stdout=True, dirs=compile_mounts,
                          env=table.environment(language, language.compile_env, values))
        log = _read_box_file(box.path / COMPILE_LOG, 1 << 20).decode("utf-8", "replace")
        result.cpu_time, result.wall_time = verdict.cpu_time, verdict.wall_time
        if verdict.status == XX:
            return BuildResult(False, "JE", f"the sandbox failed while compiling: {verdict.message}",
                               verdict.cpu_time, verdict.wall_time)
        if verdict.status != "OK":
            reason = {TO: f"compilation took longer than {limits.time:g} s",
                      ML: f"the compiler ran out of memory ({limits.mem >> 20} MiB)",
                      OL: "the compiler wrote too much output"}.get(verdict.status, verdict.message)
            text = truncate_message(log)
            return BuildResult(False, "CE", f"{reason}\n{text}".strip() if verdict.status != RE else text or reason,
                               verdict.cpu_time, verdict.wall_time)
        result.message = truncate_message(log)       # warnings
    try:
        _copy_out(box.path, output_dir)
    except ArtifactLimit as exc:
        return BuildResult(False, "CE", str(exc), result.cpu_time, result.wall_time)
    finally:
        box.clear()
    result.program = Program(language=language, directory=output_dir, argv=run_argv,
                             mounts=run_mounts, env=table.environment(language, language.env, values),
                             processes=language.processes,
                             memory_overhead_mib=language.memory_overhead_mib)
    return result


class ValidatorCache:
    """Built validators on disk, one directory per hash of sources + recipe."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @staticmethod
    def key(source: Path, language: Language, table: LanguageTable, constants: dict | None = None) -> str:
        digest = hashlib.sha256()
        digest.update(repr((language, sorted(table.languages), sorted((constants or {}).items()))).encode())
        for name, path in source_files(source).items():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:24]

    def get(self, source: Path, language: Language, table: LanguageTable, box,
            limits: Limits, memory_mib: int, constants: dict | None = None) -> BuildResult:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        final = self.root / self.key(source, language, table, constants)
        if (final / ".built").is_file():
            values = (final / ".built").read_text().split("\0")
            return BuildResult(True, "OK", program=Program(
                language=language, directory=final, argv=values,
                mounts=table.mounts(language, language.run_dirs, {}),
                env=table.environment(language, language.env, {"memory_mib": memory_mib}),
                processes=language.processes, memory_overhead_mib=language.memory_overhead_mib))
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=self.root))
        try:
            result = build(source, language, table, box, limits, staging, memory_mib, constants=constants)
            if not result.ok:
                return result
            (staging / ".built").write_text("\0".join(result.program.argv))
            try:
                os.rename(staging, final)           # atomic: racing workers agree
            except OSError:
                pass                                # another worker won; use its copy
            result.program.directory = final
            return result
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def detect_language(source: Path, table: LanguageTable, requested: str | None) -> Language:
    if requested:
        return table.get(requested)
    if source.is_dir() and ((source / "build").exists() or (source / "run").exists()):
        try:
            return table.detect(source)
        except LanguageError:
            return next(iter(table))                # scripts decide; any language will do
    return table.detect(source)


__all__ = ["Program", "BuildResult", "CompileLimits", "build", "ValidatorCache", "source_files",
           "truncate_message", "detect_language"]
