"""Grading one submission against one problem package.

    compile once in a box -> run every test in a box (several boxes at once)
    -> validate each output -> aggregate groups -> the contract's final JSON

`grade_submission()` is the public entry point (the CLI and the queue
worker call it). The contestant's box only ever holds the build (mounted
read-only), the test's input and what the program writes: answer files and
validators stay on the host, and a custom validator runs afterwards in a
freshly emptied box of its own.

`on_reject: break` is honoured exactly: tests run ahead in parallel, but a
rejection cancels the tests it cuts that have not started, and results
past the cut are dropped before aggregation (scoring.aggregate).

Two promises to whoever runs a grading (the queue worker relies on both):
- The sandbox failing under a run (a box helper died, XX) is never a
  verdict: every box the grading borrows raises SandboxFailure instead, so
  a JE is only ever what the package or the submission caused.
- `grading_budget()` says how long the grading can take at most, by
  phase, and grade_submission announces it (progress "budget") before it
  runs anything, so a caller can tell a hung grading from a long one.
Interrupted (Ctrl-C), a grading starts no further test and kills its runs.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rustbox import BoxPool, Limits
from rustbox.mounts import HOST_VISIBLE
from rustbox.verdict import ML, OK, OL, RE, SG, TO, XX

from . import passes, reruns as near_limit, scoring
from .build import (COMPILE_QUOTA, BuildResult, CompileLimits, Program, ValidatorCache,
                    _read_box_file, build, detect_language, source_files)
from .errors import JudgeError, LanguageError, ProblemError, SandboxFailure, SubmissionError
from .hostpaths import HostPaths
from .languages import PROGRAM_DIR, LanguageTable, load_languages
from .problem import Problem, TestCase, load_problem
from .validators import FEEDBACK_DIR, Judgement, compare, interpret
from .verdicts import AC, CE, JE, OLE, TLE, WA, from_status

DEFAULT_TIME_LIMIT = 1.0
# grading_budget: beyond its wall limit, what one box run may take (helper
# start, kill and reap, copying files in and out), and the rest of a
# grading (reading the package and the answers, aggregating).
RUN_MARGIN = 2.0
SETUP_MARGIN = 30.0
STDERR_TAIL = 400
QUOTA_INODES = 1000         # files a test's or validator's box may hold
WALL_KILL = "wall time limit exceeded"      # rustbox's message (verdict.classify)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rustbox-judge"


def resolve_time_limit(problem: Problem, time_limit: float | None) -> tuple[float, str]:
    """The time limit to use and where it came from."""
    if time_limit is not None:
        return float(time_limit), "command line"
    if problem.limits.time_limit is not None:
        return problem.limits.time_limit, "problem.yaml"
    if problem.limits.timelimit_file is not None:
        return problem.limits.timelimit_file, ".timelimit file (DOMjudge's)"
    return DEFAULT_TIME_LIMIT, "default"


@dataclass
class TestResult:
    name: str
    verdict: str
    cpu_time: float = 0.0
    wall_time: float = 0.0
    memory_peak: int = 0
    score: float | None = None
    message: str = ""
    run_started: float = 0.0         # monotonic clock around the submission's own run
    run_ended: float = 0.0
    status: str = ""                 # rustbox's status of the run
    wall_killed: bool = False        # TO by the wall clock, under the CPU limit
    runs: list | None = None         # every run, when near-limit re-runs added some
    transcript: str | None = None    # an interactive test's failure: the end of its transcript

    def to_dict(self) -> dict:
        out = {"name": self.name, "verdict": self.verdict, "cpu_time": round(self.cpu_time, 4),
               "wall_time": round(self.wall_time, 4), "memory_peak": self.memory_peak,
               "score": None if self.score is None else round(self.score, 6),
               "message": self.message, "reruns": len(self.runs) - 1 if self.runs else 0}
        if self.runs:
            out["runs"] = [near_limit.run_record(run) for run in self.runs]
        if self.transcript:
            out["transcript"] = self.transcript
        return out


def _check_not_visible(problem: Problem) -> None:
    real = os.path.realpath(problem.path)
    # A package under a directory every box sees would show its answers.
    for top in HOST_VISIBLE:
        if real == top or real.startswith(top + "/"):
            raise ProblemError(problem.path, f"is under {top}, which every box can read: "
                                             "move the package so answers stay secret")


def box_quota(problem: Problem) -> tuple[int, int]:
    """--quota (1 KiB blocks, inodes) of the boxes that run tests and validators:
    the largest input and answer, the output, error and validator files at
    their limits, and 16 MiB to spare. One figure for the whole problem, so
    a box moving between tests is never remounted."""
    largest = {"input": 0, "answer": 0}
    for test in problem.tests():
        for kind in largest:
            try:
                largest[kind] = max(largest[kind], getattr(test, kind).stat().st_size)
            except OSError:
                pass
    limits = problem.limits
    files = 2 * max(limits.output, limits.validation_output) + limits.validation_output + 16
    return (largest["input"] + largest["answer"] + (files << 20)) >> 10, QUOTA_INODES


def _read_only_workdir(box) -> None:
    """allow_file_writing false (the format's default): the submission reads
    its working directory but creates, changes and deletes nothing there.
    Its stdout and stderr files are made first, its own; the directory is
    root's, so the program cannot chmod it back."""
    for name in ("output", "error"):
        fd = os.open(box.path / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            os.fchown(fd, box.uid, box.uid)
        finally:
            os.close(fd)
    os.chown(box.path, 0, 0)
    os.chmod(box.path, 0o755)


def _writable_workdir(box) -> None:
    """The box's own again (validators and the next run write there)."""
    os.chown(box.path, box.uid, box.uid)
    os.chmod(box.path, 0o700)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no message"
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines)[0][:300]


class _CheckedBox:
    """A borrowed box whose runs never come back XX: the sandbox failing is
    SandboxFailure, so that it can never become a test's or a compile's JE."""

    def __init__(self, box):
        self._box = box

    def __getattr__(self, name):
        return getattr(self._box, name)

    def run(self, *args, **kwargs):
        verdict = self._box.run(*args, **kwargs)
        if verdict.status == "XX":
            raise SandboxFailure(f"box {self._box.box_id}: {verdict.message}")
        return verdict


def grading_budget(problem: Problem, time_limit: float,
                   reruns: near_limit.RerunPolicy = near_limit.OFF) -> dict[str, float]:
    """The longest a grading of `problem` can take, by phase, in seconds: as if
    every run went to its wall limit (the one rustbox kills at for the CPU
    limit Grader.limits_for gives), one after the other (tests run in
    parallel only finish sooner). A phase the grader gains (more passes,
    interactors) adds its part here. Near-limit re-runs: each test may run
    1 + reruns.extra times, each up to the band's top (its extra time); a
    test's output is still validated once at most."""
    limits = problem.limits
    compile_run = CompileLimits(limits.compilation_time).wall_time + RUN_MARGIN
    tests = len(problem.tests())
    validators = len(problem.custom_validators)
    parts = {"setup": SETUP_MARGIN}
    if validators:
        parts["validator builds"] = validators * compile_run
    parts["compile"] = compile_run
    test_run = Limits(time=time_limit, extra_time=reruns.extra_time(time_limit)).wall_kill_at
    validator_run = Limits(time=limits.validation_time).wall_kill_at + RUN_MARGIN
    if problem.modes:
        # judge/passes.py: no re-runs (the band's extra time still applies);
        # each test up to validation_passes
        # passes, an interactive one a group of the submission and its
        # interactor (ended by the submission's wall limit and the grace),
        # a multi-pass one the submission then the validator.
        count = limits.validation_passes if problem.multi_pass else 1
        if problem.interactive:
            parts["tests"] = tests * count * (passes.pass_wall(test_run) + RUN_MARGIN)
        else:
            parts["tests"] = tests * count * (test_run + RUN_MARGIN)
            parts["validation"] = tests * count * validator_run
        return parts
    parts["tests"] = tests * (1 + reruns.extra) * (test_run + RUN_MARGIN)
    if validators:
        parts["validation"] = tests * validators * validator_run
    return parts


class Grader:
    """One submission's grading: holds the problem, the build and the boxes."""

    def __init__(self, problem: Problem, pool: BoxPool, table: LanguageTable, time_limit: float,
                 cache: ValidatorCache, progress=None, host_paths: HostPaths | None = None,
                 reruns: near_limit.RerunPolicy = near_limit.OFF):
        self.problem, self.pool, self.table = problem, pool, table
        self.reruns = reruns
        self.time_limit, self.cache, self.progress = time_limit, cache, progress
        # Every message built from what a program printed goes through this.
        self.scrub = host_paths or HostPaths().add_cache(cache.root).add(problem.path,
                                                                          problem.short_name)
        self.validators: list[Program] = []
        self.answers: dict[str, bytes] = {}
        self._cut: set[str] = set()
        self._lock = threading.Lock()
        self.quota = box_quota(problem)

    @contextmanager
    def _box(self):
        with self.pool.box() as box:
            yield _CheckedBox(box)

    # ---- building ----------------------------------------------------

    def compile_submission(self, source: Path, language, workdir: Path) -> BuildResult:
        limits = self.problem.limits
        with self._box() as box:
            return build(source, language, self.table, box, self.limits_for("compile", language),
                         workdir, limits.memory, self.problem.included_files(language.id, self.table),
                         constants=self.problem.constants)

    def build_validators(self) -> None:
        limits = self.problem.limits
        for source in self.problem.custom_validators:
            try:
                language = detect_language(source, self.table, None)
                with self._box() as box:
                    result = self.cache.get(source, language, self.table, box,
                                            self.limits_for("compile", language),
                                            limits.validation_memory, constants=self.problem.constants)
            except JudgeError as exc:
                raise ProblemError(source, f"output validator: {exc}") from None
            if not result.ok:
                raise ProblemError(source, "output validator does not compile: "
                                           + self.scrub(_one_line(result.message)))
            self.validators.append(result.program)

    # ---- running -----------------------------------------------------

    def limits_for(self, kind: str, program) -> Limits:
        """The box limits of a `kind` of run, the one place they are built:
        "compile" (`program` is the Language; a validator's build too),
        "test" (the submission on one test) or "validator" (an output
        validator; both a Program). Runs take rustbox's own wall-clock
        default (Limits); a compile waits on the disk: CompileLimits.wall_time."""
        limits = self.problem.limits
        if kind == "compile":
            compile_limits = CompileLimits(limits.compilation_time, limits.compilation_memory)
            return Limits(time=compile_limits.time, wall_time=compile_limits.wall_time,
                          mem=compile_limits.memory_mib << 20, processes=program.compile_processes,
                          fsize=compile_limits.output_mib << 20, open_files=256,
                          quota=COMPILE_QUOTA)
        if kind == "test":
            memory = (limits.memory + program.memory_overhead_mib) << 20
            # The stack may grow to the memory limit (the format says so);
            # native code's address space is bounded by it too (see Language).
            return Limits(time=self.time_limit, extra_time=self.reruns.extra_time(self.time_limit),
                          mem=memory, processes=program.processes,
                          fsize=limits.output << 20, stack=memory,
                          address_space=memory if program.language.address_space else None,
                          open_files=256 if program.processes > 1 else 64, quota=self.quota)
        if kind == "validator":
            return Limits(time=limits.validation_time,
                          mem=(limits.validation_memory + program.memory_overhead_mib) << 20,
                          processes=program.processes, fsize=limits.validation_output << 20,
                          open_files=256, quota=self.quota)
        raise ValueError(f"no limits for a {kind!r} run")

    def run_test(self, program: Program, test: TestCase) -> TestResult | None:
        with self._lock:
            if test.name in self._cut:
                return None
        if self.problem.modes:      # interactive, multi-pass (judge/passes.py)
            result = self._run_passes(program, test)
        else:
            with self._box() as box:
                runs = [self._run_once(box, program, test, validate=True)]
                while near_limit.wants_rerun(runs, self.reruns, self.time_limit):
                    decided = any(run.verdict not in (None, TLE) for run in runs)
                    runs.append(self._run_once(box, program, test, validate=not decided))
            result = self._judged(runs)
        result.message = self.scrub(result.message)
        if self.problem.scoring and result.score is None:
            result.score = scoring.test_score(test, result.verdict, None)
        if result.verdict != AC:
            with self._lock:
                self._cut.update(t.name for t in scoring.cut_by_rejection(test))
        return result

    def _run_passes(self, program: Program, test: TestCase) -> TestResult:
        started = time.monotonic()
        outcome = passes.run_passes(self, program, test)
        result = TestResult(test.name, outcome.verdict, outcome.cpu_time, outcome.wall_time,
                            outcome.memory_peak, message=outcome.message, run_started=started,
                            run_ended=time.monotonic(), status=outcome.status,
                            wall_killed=outcome.verdict == TLE and outcome.cpu_time < self.time_limit)
        result.transcript = self.scrub(outcome.transcript) if outcome.transcript else None
        if self.problem.scoring and outcome.verdict in (AC, WA):
            result.score = scoring.test_score(test, outcome.verdict, outcome.score)
        return result

    def answer(self, test: TestCase) -> bytes:
        if test.name not in self.answers:
            self.answers[test.name] = test.answer.read_bytes()
        return self.answers[test.name]

    @staticmethod
    def _judged(runs: list[TestResult]) -> TestResult:
        """One test's result from its runs (judge/reruns.py decides)."""
        if len(runs) == 1:
            return runs[0]
        deciding, timed = near_limit.decide(runs)
        return TestResult(deciding.name, deciding.verdict, timed.cpu_time, timed.wall_time,
                          timed.memory_peak, deciding.score, deciding.message,
                          runs[0].run_started, runs[-1].run_ended, timed.status,
                          timed.wall_killed, runs)

    def _run_once(self, box, program: Program, test: TestCase, validate: bool) -> TestResult:
        """One run of the submission on `test`; its output validated only if
        `validate` (a re-run after the verdict is decided is only timed:
        verdict None when it ends OK)."""
        box.clear()
        shutil.copyfile(test.input, box.path / "input")
        os.chmod(box.path / "input", 0o644)
        read_only = not self.problem.allow_file_writing
        if read_only:
            _read_only_workdir(box)
        started = time.monotonic()
        try:
            verdict = box.run([*program.argv, *test.args], self.limits_for("test", program), stdin="input",
                              stdout="output",
                              stderr="error", dirs=program.dir_rules(), env=program.env)
        finally:
            if read_only:
                _writable_workdir(box)
        ended = time.monotonic()
        result = TestResult(test.name, AC, verdict.cpu_time, verdict.wall_time, verdict.memory_peak,
                            run_started=started, run_ended=ended, status=verdict.status,
                            wall_killed=verdict.message == WALL_KILL)
        if verdict.status in (RE, SG) and self._hit_output_limit(box.path):
            # A runtime that ignores SIGXFSZ (CPython does) fails its write
            # with EFBIG and dies of it: still the output limit.
            result.verdict = OLE
            result.message = f"wrote more than {self.problem.limits.output} MiB"
        elif verdict.status != OK:
            result.verdict = from_status(verdict.status)
            result.message = self._failure_message(verdict, box.path)
        elif not validate:
            result.verdict = None
        else:
            output = _read_box_file(box.path / "output", (self.problem.limits.output << 20) + 1)
            judgement = self.validate(box, test, output)
            if judgement.error:
                result.verdict, result.message = JE, judgement.error
            else:
                result.verdict = AC if judgement.accepted else WA
                result.message = judgement.message
                if self.problem.scoring:
                    result.score = scoring.test_score(test, result.verdict, judgement.score)
        # No clear here: the next borrower empties the box before use.
        return result

    def _hit_output_limit(self, box_dir: Path) -> bool:
        limit = self.problem.limits.output << 20
        for name in ("output", "error"):
            try:
                if os.lstat(box_dir / name).st_size >= limit:
                    return True
            except OSError:
                pass
        return False

    def _failure_message(self, verdict, box_dir: Path) -> str:
        if verdict.status == XX:
            return f"the sandbox failed: {verdict.message}"
        text = {TO: self._time_message(verdict),
                ML: f"over the memory limit of {self.problem.limits.memory} MiB",
                OL: f"wrote more than {self.problem.limits.output} MiB"}.get(verdict.status, verdict.message)
        error = _read_box_file(box_dir / "error", 64 << 10).decode("utf-8", "replace").strip()
        if error and verdict.status in (RE, SG):
            tail = error[-STDERR_TAIL:]
            text += ": " + (tail if len(error) <= STDERR_TAIL else "..." + tail)
        return text

    def _time_message(self, verdict) -> str:
        """Which limit the run hit: a program that sleeps or blocks is killed
        by the wall clock with little CPU time used, and must be told so.
        (No measured figure here: the test's cpu_time and wall_time say them,
        and the same run must give the same message.)"""
        if verdict.message == WALL_KILL:
            wall = (verdict.limits or {}).get("wall_time")
            limit = f" of {wall:g} s" if wall else ""
            return (f"over the wall time limit{limit} while under the CPU time limit of "
                    f"{self.time_limit:g} s (the program waited, slept or blocked)")
        return f"over the time limit of {self.time_limit:g} s"

    def validate(self, box, test: TestCase, output: bytes) -> Judgement:
        if test.name not in self.answers:
            self.answers[test.name] = test.answer.read_bytes()
        answer = self.answers[test.name]
        if not self.validators:
            return compare(output, answer, self.problem.default_flags(test))
        try:
            return self._run_validators(box, test, output, answer)
        finally:
            box.clear()          # never leave an answer file behind in a box

    def _run_validators(self, box, test: TestCase, output: bytes, answer: bytes) -> Judgement:
        args = list(self.problem.validator_flags + test.validator_args)
        final = Judgement(True)
        for validator in self.validators:
            box.clear()
            for name, data in (("input", test.input.read_bytes()), ("answer", answer),
                               ("team_output", output)):
                (box.path / name).write_bytes(data)
                os.chmod(box.path / name, 0o644)
            feedback = box.path / FEEDBACK_DIR
            feedback.mkdir(mode=0o755)
            os.chown(feedback, box.uid, box.uid)
            verdict = box.run([*validator.argv, "/box/input", "/box/answer", f"/box/{FEEDBACK_DIR}/", *args],
                              self.limits_for("validator", validator),
                              stdin="team_output", stdout="validator.out", stderr="validator.err",
                              dirs=validator.dir_rules(), env=validator.env)
            stderr = _read_box_file(box.path / "validator.err", 4096).decode("utf-8", "replace").strip()
            judgement = interpret(verdict.exit_code, verdict.status, box.path, stderr[-300:], verdict.message)
            if judgement.error or not judgement.accepted:
                return judgement
            final = judgement
        return final

    def run_tests(self, program: Program) -> dict[str, TestResult]:
        tests = self.problem.tests()
        results: dict[str, TestResult] = {}
        done = 0
        executor = ThreadPoolExecutor(max_workers=max(1, len(self.pool)))
        try:
            futures = [(test, executor.submit(self.run_test, program, test)) for test in tests]
            for test, future in futures:
                result = future.result()
                if result is None:
                    continue
                results[test.name] = result
                done += 1
                if self.progress:
                    self.progress("test", {"test": result.to_dict(), "done": done, "total": len(tests)})
        except BaseException:
            # Ctrl-C, or a test that raised: start no further test. The runs
            # in progress end with their wall limit, or at once when the
            # caller closes its pool with kill=True.
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown()
        return results

    # ---- aggregating -------------------------------------------------

    def max_score(self) -> float:
        perfect = {t.name: scoring.Result(AC, self._best_test_score(t)) for t in self.problem.tests()}
        return scoring.aggregate(self.problem.root, perfect, skip_sample_score=self.problem.draft)[0].score

    def _best_test_score(self, test: TestCase) -> float:
        settings = test.group.settings
        if self.validators and settings.has_range and settings.range[1] != float("inf"):
            return settings.range[1]
        return settings.accept_score


def check_submission(problem: Problem, source: Path, table: LanguageTable, language: str | None):
    """The submission's language, once what the package allows is checked:
    its `languages`."""
    table = table.for_problem(problem.languages)
    lang = detect_language(source, table, language)
    missing = table.missing_tool(lang)
    if missing:
        raise LanguageError(f"{source}: {lang.name} needs {missing}, which is not installed here")
    if problem.languages is not None and not any(_same_language(table, code, lang.id)
                                                 for code in problem.languages):
        raise LanguageError(f"{source}: problem.yaml allows only {', '.join(problem.languages)}, "
                            f"not {lang.id}")
    return lang


def _same_language(table: LanguageTable, code: str, lang_id: str) -> bool:
    try:
        return table.get(code).id == lang_id
    except LanguageError:
        return code == lang_id


def grade_submission(problem_dir, source_path, language=None, time_limit=None, pool=None,
                     submission_id=None, progress=None, *, languages=None, cache_dir=None,
                     timings: dict | None = None, reruns: near_limit.RerunPolicy | None = None,
                     calibration: dict | None = None) -> dict:
    """Grade one submission; returns the contract's final JSON as a dict.

    language     a language id (else detected from the file ending)
    time_limit   seconds (else problem.yaml's limits.time_limit, else 1 s)
    pool         a rustbox BoxPool to borrow boxes from (else one per core,
                 closed afterwards)
    progress     called as progress(event, data): ("budget", {"seconds": S, "parts":
                 {phase: s}}) first (grading_budget), then ("compiled", {"compile":
                 {...}}), then ("test", {"test": {...}, "done": k, "total": n}) per test
    languages    a LanguageTable (else the built-in table)
    cache_dir    where built validators are kept (else ~/.cache/rustbox-judge)
    timings      if a dict, filled with where the wall time went (benchmarks)
    reruns       the near-limit re-run policy (judge/reruns.py; default: the
                 0.8x-1.5x band, 2 more runs; reruns.OFF for none)
    calibration  the host's calibration (rustbox.calibrate.summary()) at
                 grading time, carried into the result as is (None: not measured)

    A broken package raises ProblemError; a bad language or a missing source
    raises another JudgeError; the sandbox failing under a run raises
    SandboxFailure. The submission's own failures are verdicts.
    """
    started = time.monotonic()
    problem = problem_dir if isinstance(problem_dir, Problem) else load_problem(problem_dir)
    _check_not_visible(problem)
    table = (languages or load_languages()).for_problem(problem.languages)
    source = Path(source_path)
    source_files(source)                           # a missing submission fails early
    lang = check_submission(problem, source, table, language)
    limit, _ = resolve_time_limit(problem, time_limit)
    reruns = near_limit.RerunPolicy() if reruns is None else reruns
    own_pool = pool is None
    pool = pool or BoxPool()
    workdir = Path(tempfile.mkdtemp(prefix="judge-"))
    result = {"submission": submission_id, "problem": problem.short_name, "language": lang.id,
              "verdict": JE, "score": None, "max_score": None, "time_limit": limit,
              "compile": {"status": "OK", "message": ""}, "tests": [],
              "reruns": reruns.describe(), "calibration": calibration}
    cache = ValidatorCache(cache_dir or default_cache_dir())
    host_paths = (HostPaths().add(workdir / "build", PROGRAM_DIR).add(workdir, "<tmp>")
                  .add_cache(cache.root).add(problem.path, problem.short_name))
    if progress:
        parts = grading_budget(problem, limit, reruns)
        progress("budget", {"seconds": sum(parts.values()), "parts": parts})
    try:
        grader = Grader(problem, pool, table, limit, cache, progress, host_paths, reruns)
        grader.build_validators()
        compile_started = time.monotonic()
        built = grader.compile_submission(source, lang, workdir / "build")
        compile_ended = time.monotonic()
        result["compile"] = {"status": built.status, "message": host_paths.scrub(built.message)}
        if problem.scoring:
            result["max_score"] = round(grader.max_score(), 6)
            result["score"] = 0.0
        if progress:
            progress("compiled", {"compile": result["compile"]})
        if not built.ok:
            result["verdict"] = CE if built.status == "CE" else JE
            return result
        results = grader.run_tests(built.program)
        tests_ended = time.monotonic()
        by_name = {name: scoring.Result(r.verdict, r.score or 0.0, None if r.verdict == AC else r.verdict)
                   for name, r in results.items()}
        root, counted = scoring.aggregate(problem.root, by_name, skip_sample_score=problem.draft)
        result["tests"] = [results[name].to_dict() for name in counted]
        first = root.first_rejection
        if problem.scoring:
            result["score"] = round(root.score, 6)
            result["verdict"] = AC if (root.verdict == AC or root.score > 0) else (first or root.verdict)
        else:
            result["verdict"] = AC if root.verdict == AC else (first or root.verdict)
        if timings is not None:
            timings.update(_timings(started, compile_started, compile_ended, tests_ended,
                                    [results[n] for n in counted]))
        return result
    except BaseException:
        if own_pool:            # Ctrl-C, or a failure: runs in progress end now
            pool.close(kill=True)
            own_pool = False
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if own_pool:
            pool.close()


def _timings(started, compile_started, compile_ended, tests_ended, results) -> dict:
    """Where the wall time went: the union of the submission's own runs
    (intervals may overlap across boxes) against everything else."""
    intervals = sorted((r.run_started, r.run_ended) for r in results)
    union, current = 0.0, None
    for begin, end in intervals:
        if current and begin <= current[1]:
            current[1] = max(current[1], end)
        else:
            if current:
                union += current[1] - current[0]
            current = [begin, end]
    if current:
        union += current[1] - current[0]
    return {"total": tests_ended - started, "setup": compile_started - started,
            "compile": compile_ended - compile_started, "tests_phase": tests_ended - compile_ended,
            "runs_union": union, "runs_sum": sum(e - b for b, e in intervals),
            "program_wall_sum": sum(r.wall_time for r in results),
            "program_cpu_sum": sum(r.cpu_time for r in results), "runs": len(results)}


__all__ = ["grade_submission", "check_submission", "grading_budget", "resolve_time_limit", "Grader",
           "TestResult", "DEFAULT_TIME_LIMIT"]
