"""What a package promises about its example submissions, and the check of a result against it.

Three sources, as the formats define them:

- the directory a submission sits in. Legacy and 2023-07 directories promise
  the final verdict (`accepted` AC with full score, `partially_accepted` AC
  with a partial score, `wrong_answer` WA, ...). The 2025-09 format defines
  its default directories per test case (`wrong_answer`: every test AC or WA,
  at least one WA; `rejected`: at least one WA, TLE or RTE; `brute_force`
  ...); `rejected` and `brute_force` mean that in every version.
- `submissions/submissions.yaml` (2025-09, BAPCtools): glob patterns over
  submission paths mapping to `permitted`, `required`, `score`, `message`,
  and the same keys per test-data glob. A key naming a directory replaces
  that directory's default; `dir/*` and file patterns add to it.
- DOMjudge's `@EXPECTED_RESULTS@:` and `@EXPECTED_SCORE@:` lines in a
  source: the final verdict is one of those listed (replacing the
  directory's promise, as DOMjudge does).

A submission nothing speaks for (a `mixed/` folder without tags) is graded
and reported as not checked, with the reason. Per-test rules see the tests
that were judged: with `on_reject: break` those after the first rejection
never run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProblemError
from .problem import VERSION_2025_09, _read_yaml
from .verdicts import AC, CE, JE, MLE, OLE, RTE, TLE, WA

FORMAT_VERDICTS = (AC, WA, TLE, RTE)
# A test verdict in the format's four: a run killed for memory or output crashed.
AS_FORMAT_VERDICT = {MLE: RTE, OLE: RTE}

# Legacy / 2023-07 directories: the final verdict (and, for scores, how much).
FINAL_VERDICT_DIRECTORIES = {
    "accepted": (AC, "full"),
    "partially_accepted": (AC, "partial"),
    "wrong_answer": (WA, None),
    "time_limit_exceeded": (TLE, None),
    "run_time_error": (RTE, None),
    "memory_limit_exceeded": (MLE, None),
    "output_limit_exceeded": (OLE, None),
    "compile_error": (CE, None),
}
# Verdicts a directory also takes, and why.
ALSO_ACCEPTED_IN_DIRECTORY = {
    "run_time_error": {MLE: "a memory-limit crash is a run-time error in the package format"},
    "time_limit_exceeded": {OLE: "the package format has no output-limit verdict: this judge stops a "
                                 "program at the output limit, where DOMjudge and BAPCtools only cap "
                                 "what they keep and let it run into the time limit"},
}
# The same, for a DOMjudge @EXPECTED_RESULTS@ naming the verdict.
ALSO_ACCEPTED_FOR_VERDICT = {RTE: ALSO_ACCEPTED_IN_DIRECTORY["run_time_error"],
                             TLE: ALSO_ACCEPTED_IN_DIRECTORY["time_limit_exceeded"]}
# 2025-09 default directories (section "Default directories"), per test case.
TEST_RULE_DIRECTORIES = {
    "accepted": {"permitted": (AC,)},
    "rejected": {"required": (RTE, TLE, WA)},
    "wrong_answer": {"permitted": (AC, WA), "required": (WA,)},
    "time_limit_exceeded": {"permitted": (AC, TLE), "required": (TLE,)},
    "run_time_error": {"permitted": (AC, RTE), "required": (RTE,)},
    "brute_force": {"permitted": (AC, RTE, TLE), "required": (RTE, TLE)},
}
NEWER_DIRECTORIES = ("rejected", "brute_force")       # defined by 2025-09 only, meant in every version

RULE_KEYS = ("permitted", "required", "score", "message", "use_for_time_limit")
METADATA_KEYS = ("language", "entrypoint", "authors", "model_solution")

# DOMjudge's result names (and the spellings its examples use) -> verdicts.
DOMJUDGE_RESULTS = {
    "CORRECT": AC, "ACCEPTED": AC,
    "WRONG-ANSWER": WA, "WRONG_ANSWER": WA, "NO-OUTPUT": WA,
    "TIMELIMIT": TLE, "TIME_LIMIT_EXCEEDED": TLE, "TIME-LIMIT": TLE,
    "RUN-ERROR": RTE, "RUN_TIME_ERROR": RTE, "RUN-TIME-ERROR": RTE, "MEMORY-LIMIT": MLE,
    "OUTPUT-LIMIT": OLE, "COMPILER-ERROR": CE, "COMPILE-ERROR": CE,
}
_TAG = re.compile(rb"@EXPECTED_(RESULTS|SCORE)@:?[ \t]*([^\r\n]*)")
TAG_BYTES = 256 << 10                 # how much of a source is searched for the tags


@dataclass
class Finding:
    ok: bool
    text: str


@dataclass
class FinalVerdict:
    """The final verdict is one of `verdicts` (legacy directories, DOMjudge tags)."""

    verdicts: tuple[str, ...]
    source: str
    score: str | None = None                  # "full" | "partial" (scoring problems)
    also: dict = field(default_factory=dict)  # verdict -> why it is right too

    @property
    def label(self) -> str:
        return "|".join(self.verdicts)

    def check(self, result: dict) -> list[Finding]:
        got = result["verdict"]
        notes = []
        rejection = next((t["verdict"] for t in result["tests"] if t["verdict"] != AC), None)
        if result.get("max_score") is not None and got == AC and rejection and AC not in self.verdicts:
            # A scoring run with a score is AC (Kattis shows "Accepted (score)"),
            # but its verdict in the format (first_error, worst_error) is the
            # first rejected test's: what wrong_answer/ and DOMjudge's results mean.
            got = rejection
            notes.append(Finding(True, f"a scoring submission's verdict is its first rejected test's "
                                       f"({got}, score {result.get('score', 0):g})"))
        if got not in self.verdicts:
            if got in self.also:
                return notes + [Finding(True, f"{got} is accepted in {self.source}: {self.also[got]}")]
            return notes + [Finding(False, f"{self.source}: expected {' or '.join(self.verdicts)}, got {got}")]
        score, best = result.get("score"), result.get("max_score")
        if self.score == "full" and score is not None and best is not None and score < best - 1e-9:
            return [Finding(False, f"{self.source}: expected the full score {best:g}, got {score:g}")]
        if self.score == "partial" and (score is None or best is None or not 0 < score < best - 1e-9):
            shown = "no score" if score is None else f"{score:g} of {best:g}"
            return [Finding(False, f"{self.source}: expected a partial score, got {shown}")]
        return notes


@dataclass
class ScoreIs:
    """DOMjudge's @EXPECTED_SCORE@: the submission's score."""

    score: float
    source: str
    problem: object = None                    # for DOMjudge's reading of the groups
    label = "score"

    def check(self, result: dict) -> list[Finding]:
        score = result.get("score")
        if score is not None and not self._same(score):
            unscored = score - sum(t.get("score") or 0.0 for t in result["tests"]
                                   if t["name"].startswith("sample/"))
            if self._same(unscored):
                # A legacy package sums its samples into the score unless
                # ignore_sample; DOMjudge (like the 2023-07 format) does not.
                return [Finding(True, f"{self.source}: score {self.score:g} without the samples "
                                      f"(DOMjudge does not score them; the legacy format does: {score:g})")]
            theirs = domjudge_score(self.problem, result) if self.problem is not None else None
            if theirs is not None and self._same(theirs):
                return [Finding(True, f"{self.source}: score {self.score:g} as DOMjudge reads the groups "
                                      f"(samples unscored, a group of test cases worth its accept_score "
                                      f"only when all pass); the format's sum is {score:g}")]
        if score is None or not self._same(score):
            return [Finding(False, f"{self.source}: expected score {self.score:g}, got "
                                   f"{'none' if score is None else f'{score:g}'}")]
        return []

    def _same(self, score: float) -> bool:
        return abs(score - self.score) <= 1e-6 * max(1.0, abs(self.score))


def domjudge_score(problem, result: dict) -> float | None:
    """The score DOMjudge gives a legacy scoring package (its example
    scoring problems say so): samples are not scored; a group of test cases
    scores its tests' minimum (accept_score once, when every test passes);
    a group of groups aggregates them by its grader_flags (sum, avg, min, max)."""
    from .problem import TestCase
    from .scoring import GraderMode
    scores = {t["name"]: t.get("score") or 0.0 for t in result["tests"]}

    def of(group) -> float:
        tests = [c for c in group.children if isinstance(c, TestCase)]
        groups = [c for c in group.children if not isinstance(c, TestCase) and c.name != "sample"]
        if tests and not groups:
            return min(scores.get(t.name, 0.0) for t in tests)
        values = [of(g) for g in groups] + [scores.get(t.name, 0.0) for t in tests]
        if not values:
            return 0.0
        mode = GraderMode.from_flags(group.settings.grader_flags).score
        return {"sum": sum, "min": min, "max": max,
                "avg": lambda v: sum(v) / len(v)}.get(mode, sum)(values)
    try:
        return of(problem.root)
    except (AttributeError, ValueError):
        return None


@dataclass
class TestRule:
    """permitted / required / score / message over the tests a glob selects (2025-09)."""

    source: str
    tests: str | None = None                  # a test-data glob; None: every test
    permitted: tuple[str, ...] | None = None
    required: tuple[str, ...] | None = None
    score: tuple[float, float] | None = None
    message: str | None = None

    @property
    def label(self) -> str:
        if self.required:
            return "|".join(self.required)
        if self.permitted:
            return "|".join(self.permitted)
        return "score" if self.score else "message"

    def check(self, result: dict) -> list[Finding]:
        where = f"{self.source}" + (f" (tests {self.tests})" if self.tests else "")
        if result["verdict"] == CE:
            return [Finding(False, f"{where}: did not compile")]
        tests = [t for t in result["tests"] if self.tests is None or _test_matches(self.tests, t["name"])]
        out: list[Finding] = []
        if self.tests is not None and not tests and (self.permitted or self.required):
            # on_reject: break cut the run before any of these tests: a
            # promise about them is neither kept nor broken.
            return [Finding(True, f"{where}: none of these tests was judged (the run stopped at its "
                                  "first rejection): not checked")]
        verdicts = [AS_FORMAT_VERDICT.get(t["verdict"], t["verdict"]) for t in tests]
        if self.permitted is not None:
            bad = next((t for t, v in zip(tests, verdicts) if v not in self.permitted), None)
            if bad:
                out.append(Finding(False, f"{where}: {bad['name']} got {bad['verdict']}, permitted "
                                          f"{', '.join(self.permitted)}"))
        if self.required is not None and not any(v in self.required for v in verdicts):
            out.append(Finding(False, f"{where}: no judged test got {' or '.join(self.required)}"))
        if self.score is not None:
            if self.tests is not None:
                out.append(Finding(True, f"{where}: a group's score is not checked (only the submission's)"))
            else:
                low, high = self.score
                score = result.get("score")
                if score is None or not low - 1e-9 <= score <= high + 1e-9:
                    wanted = f"{low:g}" if low == high else f"{low:g} to {high:g}"
                    out.append(Finding(False, f"{where}: expected score {wanted}, got "
                                              f"{'none' if score is None else f'{score:g}'}"))
        if self.message is not None and not any(self.message in t["message"] for t in tests):
            out.append(Finding(False, f"{where}: no test's message contains {self.message!r}"))
        return out


@dataclass
class Expectations:
    """Everything promised about one submission."""

    rules: list = field(default_factory=list)
    language: str | None = None
    notes: list[str] = field(default_factory=list)
    not_checked: str = ""                      # why nothing is promised

    @property
    def label(self) -> str:
        return self.rules[0].label if self.rules else "-"

    def check(self, result: dict) -> list[Finding]:
        found = [Finding(True, note) for note in self.notes]
        if result["verdict"] == JE:
            found.append(Finding(False, "the judge failed (JE): nothing can be checked"))
        for rule in self.rules:
            found.extend(rule.check(result))
        return found


# ---- glob patterns (2025-09 "Glob patterns") ---------------------------------

def expand_braces(pattern: str) -> list[str]:
    """`a.{py,cpp}` -> [a.py, a.cpp], nested and in sequence (a cartesian product)."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    for end in range(start, len(pattern)):
        if pattern[end] == "{":
            depth += 1
        elif pattern[end] == "}":
            depth -= 1
            if depth == 0:
                break
    else:
        return [pattern]
    inner, options, depth, begin = pattern[start + 1:end], [], 0, 0
    for i, char in enumerate(inner):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            options.append(inner[begin:i])
            begin = i + 1
    options.append(inner[begin:])
    head, tail = pattern[:start], pattern[end + 1:]
    return [head + expanded + rest for option in options for expanded in expand_braces(option)
            for rest in expand_braces(tail)]


def _regex(pattern: str) -> re.Pattern:
    alternatives = []
    for expanded in expand_braces(pattern):
        parts = [("[^/]*" if piece == "*" else re.escape(piece)) for piece in re.split(r"(\*)", expanded)]
        alternatives.append("".join(parts))
    return re.compile("(?:" + "|".join(alternatives) + ")")


def path_matches(pattern: str, path: str) -> bool:
    """The pattern matches the path or one of its parent directories."""
    regex = _regex(pattern.strip().rstrip("/"))
    parts = path.split("/")
    return any(regex.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1))


def _test_matches(pattern: str, test_name: str) -> bool:
    return path_matches(pattern, test_name)


# ---- reading the sources ---------------------------------------------------

def _verdicts(path: Path, where: str, value) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, tuple) else value
    if not isinstance(items, list) or not items:
        raise ProblemError(path, f"{where}: expected a list of verdicts")
    out = []
    for item in items:
        if item not in FORMAT_VERDICTS:
            raise ProblemError(path, f"{where}: unknown verdict {item!r} (known: {', '.join(FORMAT_VERDICTS)})")
        out.append(item)
    return tuple(out)


def _rule(path: Path, where: str, data, tests: str | None) -> TestRule:
    if not isinstance(data, dict):
        raise ProblemError(path, f"{where}: expected a mapping")
    rule = TestRule(source=f"submissions.yaml {where}" if not where.startswith("the ") else where,
                    tests=tests)
    for key, value in data.items():
        if key == "permitted":
            rule.permitted = _verdicts(path, f"{where}.permitted", value)
        elif key == "required":
            rule.required = _verdicts(path, f"{where}.required", value)
        elif key == "score":
            numbers = value if isinstance(value, list) else [value]
            try:
                low, high = (float(numbers[0]), float(numbers[-1])) if len(numbers) in (1, 2) else (None, None)
            except (TypeError, ValueError):
                low = None
            if low is None or isinstance(value, bool) or low > high:
                raise ProblemError(path, f"{where}.score: expected a number or two (a range), got {value!r}")
            rule.score = (low, high)
        elif key == "message":
            rule.message = str(value)
        elif key == "use_for_time_limit":
            if value not in (True, False, "lower", "upper"):
                raise ProblemError(path, f"{where}.use_for_time_limit: expected true, false, lower or upper")
            if value == "lower" and rule.permitted is None:
                rule.permitted = (AC, WA, RTE)
            elif value == "upper" and rule.required is None:
                rule.required = (TLE,)
        else:
            raise ProblemError(path, f"{where}: unknown key {key!r} (known: {', '.join(RULE_KEYS)})")
    return rule


class SubmissionsYaml:
    """submissions/submissions.yaml, read once per verify."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.entries: list[tuple[str, dict]] = []
        for pattern, body in data.items():
            if not isinstance(pattern, str) or not isinstance(body, dict):
                raise ProblemError(path, f"{pattern!r}: expected a glob pattern mapping to keys")
            for key in body:
                if not isinstance(key, str):
                    raise ProblemError(path, f"{pattern}: unknown key {key!r}")
            self.entries.append((pattern, body))
            rules_from(path, pattern, body)           # every entry checked now, not when first used

    @classmethod
    def load(cls, problem_dir: Path) -> "SubmissionsYaml | None":
        path = problem_dir / "submissions" / "submissions.yaml"
        if not path.is_file():
            return None
        return cls(path, _read_yaml(path))

    def directory_override(self, directory: str) -> dict | None:
        return next((body for pattern, body in self.entries if pattern.strip().rstrip("/") == directory), None)

    def for_submission(self, relative: str, directory: str) -> tuple[list[TestRule], dict]:
        """The rules and the metadata (language, entrypoint ...) for one submission."""
        rules: list[TestRule] = []
        metadata: dict = {}
        for pattern, body in self.entries:
            if pattern.strip().rstrip("/") == directory or not path_matches(pattern, relative):
                continue
            rules.extend(self._rules(pattern, body))
            metadata.update({k: v for k, v in body.items() if k in METADATA_KEYS})
        return rules, metadata

    def _rules(self, pattern: str, body: dict) -> list[TestRule]:
        return rules_from(self.path, pattern, body)


def rules_from(path: Path, pattern: str, body: dict) -> list[TestRule]:
    """The rules of one submissions.yaml entry: its own keys, then one rule
    per test-data glob under it."""
    direct = {k: v for k, v in body.items() if k in RULE_KEYS}
    rules = [_rule(path, pattern, direct, None)] if direct else []
    for key, value in body.items():
        if key in RULE_KEYS or key in METADATA_KEYS:
            continue
        if not isinstance(value, dict):
            raise ProblemError(path, f"{pattern}: unknown key {key!r} (a test-data glob maps to "
                                     f"{', '.join(RULE_KEYS)}; known keys: "
                                     f"{', '.join(RULE_KEYS + METADATA_KEYS)})")
        rules.append(_rule(path, f"{pattern} > {key}", value, key))
    return rules


def domjudge_tags(source: Path, problem=None) -> tuple[list, list[str]]:
    """(@EXPECTED_RESULTS@ / @EXPECTED_SCORE@ expectations, notes) of a source file or directory."""
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
    results, scores = [], []
    for file in files:
        try:
            with open(file, "rb") as handle:
                head = handle.read(TAG_BYTES)
        except OSError:
            continue
        for kind, value in _TAG.findall(head):
            (results if kind == b"RESULTS" else scores).append((file.name, value.decode("utf-8", "replace")))
    rules, notes = [], []
    if len(results) > 1:
        notes.append(f"@EXPECTED_RESULTS@ appears {len(results)} times: not checked")
    elif results:
        name, text = results[0]
        words = [w.strip().upper() for w in text.strip().rstrip("*/ -").split(",") if w.strip()]
        unknown = [w for w in words if w not in DOMJUDGE_RESULTS]
        if unknown or not words:
            notes.append(f"@EXPECTED_RESULTS@: {', '.join(unknown) or 'nothing'} is not a result this judge "
                         "gives: not checked")
        else:
            verdicts = tuple(dict.fromkeys(DOMJUDGE_RESULTS[w] for w in words))
            also = {k: why for v in verdicts for k, why in ALSO_ACCEPTED_FOR_VERDICT.get(v, {}).items()
                    if k not in verdicts}
            rules.append(FinalVerdict(verdicts, f"@EXPECTED_RESULTS@ in {name}", also=also))
    if len(scores) == 1:
        name, text = scores[0]
        try:
            rules.append(ScoreIs(float(text.strip().rstrip("*/ -")), f"@EXPECTED_SCORE@ in {name}", problem))
        except ValueError:
            notes.append(f"@EXPECTED_SCORE@: {text.strip()!r} is not a number: not checked")
    elif len(scores) > 1:
        notes.append(f"@EXPECTED_SCORE@ appears {len(scores)} times: not checked")
    return rules, notes


def plan(problem, entries) -> dict:
    """(directory, entry) -> Expectations for each submission; a broken
    submissions.yaml raises ProblemError before anything is graded."""
    yaml = SubmissionsYaml.load(problem.path)
    return {(directory, entry): expectations_for(problem, directory, entry, yaml)
            for directory, entry in entries}


def expectations_for(problem, directory: str, entry: Path, yaml: SubmissionsYaml | None) -> Expectations:
    """Everything the package promises about submissions/<directory>/<entry>."""
    relative = f"{directory}/{entry.name}"
    result = Expectations()
    tags, result.notes = domjudge_tags(entry, problem)
    override = yaml.directory_override(directory) if yaml else None
    modern = problem.format_version == VERSION_2025_09 or directory in NEWER_DIRECTORIES
    if tags and any(isinstance(t, FinalVerdict) for t in tags):
        result.rules.extend(tags)          # DOMjudge: the tag replaces the directory's promise
    elif override is not None or (modern and directory in TEST_RULE_DIRECTORIES):
        body = {**TEST_RULE_DIRECTORIES.get(directory, {}), **(override or {})}
        where = directory if override is not None else f"the 2025-09 default for {directory}/"
        result.rules.extend(rules_from(yaml.path if yaml else Path("submissions.yaml"), where, body))
        result.rules.extend(t for t in tags if isinstance(t, ScoreIs))
    elif directory in FINAL_VERDICT_DIRECTORIES:
        verdict, score = FINAL_VERDICT_DIRECTORIES[directory]
        result.rules.append(FinalVerdict((verdict,), f"{directory}/", score,
                                         ALSO_ACCEPTED_IN_DIRECTORY.get(directory, {})))
        result.rules.extend(tags)
    else:
        result.rules.extend(tags)
    if yaml:
        rules, metadata = yaml.for_submission(relative, directory)
        result.rules.extend(rules)
        if metadata.get("language") is not None:
            result.language = str(metadata["language"])
        if metadata.get("entrypoint") is not None:
            result.notes.append(f"entrypoint {metadata['entrypoint']!r} of submissions.yaml is not honoured: "
                                "the judge starts main.* or the first file of the language")
    if not result.rules:
        result.not_checked = (f"{directory}/ is not a directory the package format defines, and no "
                              "submissions.yaml rule or @EXPECTED_RESULTS@ line speaks for it")
    return result


__all__ = ["plan", "Expectations", "FinalVerdict", "TestRule", "ScoreIs", "SubmissionsYaml", "expectations_for",
           "domjudge_tags", "path_matches", "expand_braces", "FINAL_VERDICT_DIRECTORIES",
           "TEST_RULE_DIRECTORIES", "ALSO_ACCEPTED_IN_DIRECTORY"]
