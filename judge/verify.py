"""`judge verify`: grade every example submission and check what the package promises.

What each submission must get comes from judge/expectations.py (its
directory, submissions.yaml, DOMjudge's @EXPECTED_RESULTS@ lines). A
submission the judge cannot run is skipped with the reason; one nothing
speaks for is graded and reported as not checked.

Also derives the time limit the way the package format defines it when
neither the command line nor problem.yaml gives one: the slowest test run
of the fully accepted submissions times the multiplier (legacy
`time_multiplier`, later versions `ac_to_time_limit`), rounded up to a
multiple of the time resolution (1 s in legacy packages). Only a run that
passed every test (with full score on scoring problems) says how fast a
correct solution is: a failed run's tests may have been cut at the probe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LanguageError, SubmissionError
from .expectations import Expectations, Finding, plan
from .grader import DEFAULT_TIME_LIMIT, grade_submission, resolve_time_limit
from .problem import Problem
from .verdicts import TLE

PROBE_TIME_LIMIT = 10.0      # seconds the accepted submissions get while we measure them


@dataclass
class Check:
    submission: Path
    directory: str
    expectations: Expectations
    result: dict
    skipped: str = ""                # why it was not graded (an unknown language, ...)
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self):
        if not self.skipped:
            self.findings = self.expectations.check(self.result)

    @property
    def expected(self) -> str:
        return self.expectations.label

    @property
    def got(self) -> str:
        return self.result["verdict"]

    @property
    def not_checked(self) -> str:
        return "" if self.skipped else self.expectations.not_checked

    @property
    def slowest(self) -> float:
        return max((t["cpu_time"] for t in self.result["tests"]), default=0.0)

    @property
    def notes(self) -> list[str]:
        return [f.text for f in self.findings if f.ok]

    @property
    def failures(self) -> list[str]:
        return [f.text for f in self.findings if not f.ok]

    @property
    def ok(self) -> bool:
        """Graded, something was promised, and every promise held."""
        return not self.skipped and not self.not_checked and not self.failures

    @property
    def mismatch(self) -> bool:
        return not self.skipped and not self.not_checked and bool(self.failures)


def derive_time_limit(problem: Problem, slowest_accepted: float) -> tuple[float, str]:
    if problem.draft:
        multiplier, name = problem.limits.ac_to_time_limit, "ac_to_time_limit"
        resolution = problem.limits.time_resolution
    else:
        multiplier, name, resolution = problem.limits.time_multiplier, "time_multiplier", 1.0
    steps = max(1, math.ceil(round(slowest_accepted * multiplier / resolution, 9)))
    limit = round(steps * resolution, 6)
    how = (f"derived: slowest accepted test run {slowest_accepted:.3f} s x {multiplier:g} ({name}), "
           f"rounded up to a multiple of {resolution:g} s")
    return limit, how


def submissions_to_check(problem: Problem) -> list[tuple[str, Path]]:
    """Every entry of every submissions/<directory>/, sorted."""
    return [(directory, entry) for directory, entries in problem.submissions().items() for entry in entries]


def _skipped_result(problem: Problem, seconds: float) -> dict:
    return {"submission": None, "problem": problem.short_name, "language": None, "verdict": None,
            "score": None, "max_score": None, "time_limit": seconds,
            "compile": {"status": None, "message": ""}, "tests": []}


def _reason(exc: Exception, entry: Path) -> str:
    text = str(exc)
    for prefix in (f"{entry}: ", f"{entry.resolve()}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.replace("; use --lang", "")
    if text == "cannot tell the language from the file ending":
        files = [p.name for p in entry.iterdir() if p.is_file()] if entry.is_dir() else [entry.name]
        endings = sorted({"".join(Path(f).suffixes) or f for f in files})
        text = f"no language of this judge for {', '.join(endings) or 'an empty directory'}"
    return text


def _over(check: Check, limit: float) -> bool:
    """Whether any test of a probe run went past `limit`: its verdict under
    the real limit could differ, so it is graded again."""
    return any(t["verdict"] == TLE or t["cpu_time"] > limit for t in check.result["tests"])


def verify(problem: Problem, pool, time_limit: float | None = None, languages=None,
           on_result=None, on_time_limit=None, on_start=None, progress=None,
           promised: dict | None = None) -> list[Check]:
    """Grade every example submission. Callbacks: on_start(directory, entry,
    seconds) before each grading (also the probe runs that measure the
    accepted submissions), on_time_limit(seconds, how) once the limit is
    known, on_result(check) for each submission's final check; progress is
    grade_submission's per-test callback; promised is expectations.plan()'s
    answer when the caller has it already."""
    todo = submissions_to_check(problem)
    promised = promised if promised is not None else plan(problem, todo)
    checks: list[Check] = []
    limit, source = resolve_time_limit(problem, time_limit)

    def grade(directory: str, entry: Path, seconds: float) -> Check:
        if on_start:
            on_start(directory, entry, seconds)
        expectations = promised[(directory, entry)]
        try:
            result = grade_submission(problem, entry, expectations.language, time_limit=seconds, pool=pool,
                                      languages=languages, submission_id=f"{directory}/{entry.name}",
                                      progress=progress)
        except (LanguageError, SubmissionError) as exc:
            # One file the judge cannot run (an unknown ending, a missing
            # compiler) is that submission's problem, not the package's.
            return Check(entry, directory, expectations, _skipped_result(problem, seconds),
                         skipped=_reason(exc, entry))
        return Check(entry, directory, expectations, result)

    def report(check: Check) -> None:
        checks.append(check)
        if on_result:
            on_result(check)

    if source == "default":
        accepted = [(d, e) for d, e in todo if d == "accepted"]
        todo = [(d, e) for d, e in todo if d != "accepted"]
        measured = [grade(d, e, PROBE_TIME_LIMIT) for d, e in accepted]
        passed = [c for c in measured if c.ok]
        if passed:
            limit, how = derive_time_limit(problem, max(c.slowest for c in passed))
        else:
            limit = DEFAULT_TIME_LIMIT
            how = (f"default: no accepted submission passed every test within the {PROBE_TIME_LIMIT:g} s "
                   "probe, so there is nothing to derive the time limit from")
        if on_time_limit:
            on_time_limit(limit, how)
        for check in measured:
            if check.skipped or check.ok or not _over(check, limit):
                check.result["time_limit"] = limit      # the same outcome under the real limit
                report(check)
            else:
                report(grade(check.directory, check.submission, limit))
    elif on_time_limit:
        on_time_limit(limit, f"from the {source}")
    for directory, entry in todo:
        report(grade(directory, entry, limit))
    return checks


__all__ = ["verify", "derive_time_limit", "Check", "submissions_to_check", "PROBE_TIME_LIMIT"]
