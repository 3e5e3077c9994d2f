"""The problem package loader (Kattis / ICPC format, legacy and 2023-07-draft).

Reads problem.yaml, the test data tree under data/ (sample and secret, nested
groups, .in/.ans pairs, symlinked files, testdata.yaml or test_group.yaml per
group) and finds the output validators. It runs nothing. Any defect is a
ProblemError whose message starts with the offending file.
"""
from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .errors import JudgeError, ProblemError
from .validators import DefaultValidatorFlags, FlagError, parse_flags

LEGACY, DRAFT_2023_07, VERSION_2025_09 = "legacy", "2023-07-draft", "2025-09"
KNOWN_VERSIONS = {"legacy", "legacy-icpc", "2023-07-draft", "2023-07", "draft", "2025-09", "2025-09-draft"}
PASS_FAIL, SCORING = "pass-fail", "scoring"
GROUP_FILES = ("testdata.yaml", "test_group.yaml")
KNOWN_TYPES = ("pass-fail", "scoring", "multi-pass", "interactive", "submit-answer")
INCOMPATIBLE_TYPES = (("pass-fail", "scoring"), ("multi-pass", "submit-answer"),
                      ("interactive", "submit-answer"))
# Kinds of problem this judge does not run (yet): refused in one line.
UNSUPPORTED_TYPES = ("submit-answer",)
# How the submission and the output validator meet (judge/passes.py runs both).
INTERACTIVE, MULTI_PASS = "interactive", "multi-pass"
MAX_PASSES = 100
VALIDATION_MODIFIERS = ("score", "interactive", "multi-pass")
# The default grader's flags (scoring.py gives them meaning).
GRADER_FLAGS = ("worst_error", "first_error", "always_accept", "sum", "avg", "min", "max",
                "ignore_sample", "accept_if_any_accepted")

# problem.yaml keys of the 2025-09 format; older versions' keys are read too
# (with a warning in a 2025-09 package), anything else is refused there.
_PROBLEM_KEYS_2025 = {"problem_format_version", "type", "name", "uuid", "version", "credits", "source",
                      "license", "rights_owner", "embargo_until", "limits", "keywords", "languages",
                      "allow_file_writing", "constants"}
_PROBLEM_KEYS_OLDER = {"author", "source_url", "validation", "validator_flags", "grading"}
_PROBLEM_KEYS = _PROBLEM_KEYS_2025 | _PROBLEM_KEYS_OLDER
# testdata.yaml / test_group.yaml keys: legacy and 2023-07, then 2025-09's.
_GROUP_KEYS = {"on_reject", "grading", "grader_flags", "input_validator_flags", "output_validator_flags",
               "output_validator_args", "input_validator_args", "accept_score", "reject_score", "range",
               "scoring", "full_feedback", "hint", "description", "static_validation", "args",
               "max_score", "score_aggregation", "static_validation_score", "require_pass",
               "static_validator_args", "input_visualizer_args", "output_visualizer_args"}
# What the judge has no use for (it runs no input validators, visualisers or
# statements): read, and said once.
_NOT_JUDGING_KEYS = ("input_validator_flags", "input_validator_args", "input_visualizer_args",
                     "output_visualizer_args", "static_validator_args", "full_feedback", "hint", "description")
# <test case>.yaml keys (2023-07 and 2025-09).
_TEST_CASE_KEYS = {"args", "input_validator_args", "output_validator_args", "input_visualizer_args",
                   "output_visualizer_args", "full_feedback", "hint", "description"}
_LIMIT_KEYS = ("time_limit", "time_multiplier", "time_safety_margin", "time_resolution", "time_multipliers",
               "memory", "output", "code", "compilation_time", "compilation_memory", "validation_time",
               "validation_memory", "validation_output", "validation_passes")


@dataclass(frozen=True)
class ProblemLimits:
    """limits: in problem.yaml, in the units of the format (s, MiB, KiB)."""

    time_limit: float | None = None
    timelimit_file: float | None = None    # DOMjudge's .timelimit beside problem.yaml
    time_multiplier: float = 5.0           # legacy
    time_safety_margin: float = 2.0        # legacy
    ac_to_time_limit: float = 2.0          # 2023-07-draft
    time_limit_to_tle: float = 1.5         # 2023-07-draft
    time_resolution: float = 1.0           # 2023-07-draft
    memory: int = 2048
    output: int = 8
    code: int = 128
    compilation_time: float = 60.0
    compilation_memory: int = 2048
    validation_time: float = 60.0
    validation_memory: int = 2048
    validation_output: int = 8
    validation_passes: int = 2             # multi-pass: most passes of one test


@dataclass(frozen=True)
class GroupSettings:
    """What testdata.yaml says about one group (defaults where silent)."""

    on_reject: str = "break"
    accept_score: float = 1.0
    reject_score: float = 0.0
    range: tuple[float, float] = (-math.inf, math.inf)
    grader_flags: tuple[str, ...] = ()
    output_validator_args: tuple[str, ...] = ()
    has_range: bool = False
    args: tuple[str, ...] = ()                 # command-line arguments of the submission
    max_score: float | None = None             # 2025-09 (None: the default)
    aggregation: str | None = None             # 2025-09 score_aggregation: pass-fail | sum | min
    require_pass: tuple[str, ...] = ()         # 2025-09: groups that must pass first
    configured: bool = False                   # the directory has its own testdata/test_group.yaml


@dataclass
class TestCase:
    name: str                   # "secret/group1/03"
    input: Path
    answer: Path
    group: "TestGroup"
    own: dict = field(default_factory=dict)     # <name>.yaml: args, output_validator_args

    @property
    def validator_args(self) -> tuple[str, ...]:
        return self.own.get("output_validator_args", self.group.settings.output_validator_args)

    @property
    def args(self) -> tuple[str, ...]:
        return self.own.get("args", self.group.settings.args)


@dataclass
class TestGroup:
    name: str                   # "" for data/, "secret/group1"
    path: Path
    settings: GroupSettings
    parent: "TestGroup | None" = None
    children: list = field(default_factory=list)     # TestCase | TestGroup, in judging order

    def tests(self):
        for child in self.children:
            if isinstance(child, TestCase):
                yield child
            else:
                yield from child.tests()

    def groups(self):
        yield self
        for child in self.children:
            if isinstance(child, TestGroup):
                yield from child.groups()


@dataclass
class Problem:
    path: Path
    short_name: str
    name: str
    format_version: str
    type: str                                  # pass-fail | scoring
    limits: ProblemLimits
    validator_flags: tuple[str, ...]           # problem.yaml validator_flags
    custom_validators: list[Path]              # empty: the default validator
    root: TestGroup
    warnings: list[str] = field(default_factory=list)
    samples_only: str = ""                     # why only the samples are graded (no secret data)
    languages: tuple[str, ...] | None = None   # problem.yaml languages (None: all)
    constants: dict = field(default_factory=dict)
    allow_file_writing: bool = False           # the submission may write in its working directory
    modes: frozenset = frozenset()             # of INTERACTIVE, MULTI_PASS

    @property
    def interactive(self) -> bool:
        return INTERACTIVE in self.modes

    @property
    def multi_pass(self) -> bool:
        return MULTI_PASS in self.modes

    @property
    def scoring(self) -> bool:
        return self.type == SCORING

    @property
    def draft(self) -> bool:
        return self.format_version != LEGACY

    def tests(self) -> list[TestCase]:
        return list(self.root.tests())

    def included_files(self, language_id: str, table) -> dict[str, Path]:
        """include/<language>/ (else include/default/): relative path -> file,
        copied into every submission of that language before it is built."""
        base = self.path / "include"
        if not base.is_dir():
            return {}
        chosen = None
        for directory in sorted(p for p in base.iterdir() if p.is_dir()):
            try:
                if directory.name != "default" and table.get(directory.name).id == language_id:
                    chosen = directory
            except JudgeError:
                continue                  # include/<a language this judge lacks>/
        chosen = chosen or (base / "default" if (base / "default").is_dir() else None)
        if chosen is None:
            return {}
        return {str(f.relative_to(chosen)): f for f in sorted(chosen.rglob("*"))
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(chosen).parts)}

    def default_flags(self, test: TestCase) -> DefaultValidatorFlags:
        try:
            return parse_flags(self.validator_flags + test.validator_args)
        except FlagError as exc:
            raise ProblemError(self.path / "problem.yaml", f"validator_flags: {exc}") from None

    def submissions(self) -> dict[str, list[Path]]:
        """submissions/<expected>/<file or dir>, by directory, sorted."""
        out: dict[str, list[Path]] = {}
        root = self.path / "submissions"
        if not root.is_dir():
            return out
        for kind in sorted(p for p in root.iterdir() if p.is_dir()):
            entries = sorted(p for p in kind.iterdir() if not p.name.startswith("."))
            if entries:
                out[kind.name] = entries
        return out


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProblemError(path, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProblemError(path, "not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProblemError(path, f"unreadable YAML{where}: {what}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProblemError(path, f"expected a mapping of keys, got {type(data).__name__}")
    return data


def _number(path: Path, key: str, value, positive: bool = True) -> float:
    if isinstance(value, bool):
        raise ProblemError(path, f"{key}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ProblemError(path, f"{key}: expected a number, got {value!r}") from None
    if math.isnan(number) or (positive and not number > 0):
        raise ProblemError(path, f"{key}: must be a positive number, got {value!r}")
    return number


def _args(path: Path, key: str, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ProblemError(path, f"{key}: {exc}") from None
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    if isinstance(value, dict) and "flags" in value:      # legacy {name, flags} form
        return _args(path, key, value["flags"])
    raise ProblemError(path, f"{key}: expected a string or a list of strings")


def _timelimit_file(path: Path) -> float | None:
    """DOMjudge's `.timelimit` (seconds, one number): the time limit its
    packages carry outside problem.yaml (problemtools writes it too)."""
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProblemError(path, f"cannot read: {exc.strerror}") from None
    try:
        seconds = float(text)
    except ValueError:
        raise ProblemError(path, f"expected a number of seconds, got {text[:40]!r}") from None
    if not 0 < seconds < 86400:
        raise ProblemError(path, f"expected a number of seconds, got {text[:40]!r}")
    return seconds


def _limits(path: Path, data, legacy: bool = False, warnings: list | None = None) -> ProblemLimits:
    if data is None:
        return ProblemLimits()
    if not isinstance(data, dict):
        raise ProblemError(path, "limits: expected a mapping")
    values = {}
    for key, value in data.items():
        if key == "time_multipliers":
            if not isinstance(value, dict):
                if legacy and warnings is not None:
                    # not a legacy key at all: Kattis ignores it, and so do we, aloud
                    warnings.append(f"{path}: limits.time_multipliers: {value!r} is not a mapping and "
                                    "not a legacy key: ignored (legacy packages use time_multiplier)")
                    continue
                raise ProblemError(path, "limits.time_multipliers: expected a mapping")
            for sub, number in value.items():
                if sub not in ("ac_to_time_limit", "time_limit_to_tle"):
                    raise ProblemError(path, f"limits.time_multipliers: unknown key {sub!r} "
                                             "(known: ac_to_time_limit, time_limit_to_tle)")
                values[sub] = _number(path, f"limits.time_multipliers.{sub}", number)
                if values[sub] < 1:
                    raise ProblemError(path, f"limits.time_multipliers.{sub}: must be at least 1, got {number!r}")
        elif key in ("time_limit", "time_multiplier", "time_safety_margin", "time_resolution",
                     "compilation_time", "validation_time"):
            values[key] = _number(path, f"limits.{key}", value)
        elif key in ("memory", "output", "code", "compilation_memory", "validation_memory",
                     "validation_output"):
            number = _number(path, f"limits.{key}", value)
            values[key] = max(1, math.ceil(number))
        elif key == "validation_passes":
            # (Read whatever the type; only a multi-pass problem uses it.)
            if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_PASSES:
                raise ProblemError(path, f"limits.validation_passes: expected a whole number from 2 "
                                         f"to {MAX_PASSES}, got {value!r}")
            values[key] = value
        else:
            raise ProblemError(path, f"limits: unknown key {key!r}")
    return ProblemLimits(**values)


def _problem_type(path: Path, data: dict) -> str:
    """pass-fail or scoring, from `type` in any spelling of any version: one
    string, a space-separated combination ("scoring multi-pass") or a list.
    Kinds this judge cannot run yet are refused, never judged as ordinary."""
    raw = data.get("type", PASS_FAIL)
    if isinstance(raw, str):
        kinds = raw.split()
    elif isinstance(raw, list) and raw and all(isinstance(k, str) for k in raw):
        kinds = [word for kind in raw for word in kind.split()]
    else:
        kinds = []
    if not kinds:
        raise ProblemError(path, f"type: expected a problem type or a list of them, got {raw!r}")
    for kind in kinds:
        if kind not in KNOWN_TYPES:
            raise ProblemError(path, f"type: unknown problem type {kind!r} "
                                     f"(known: {', '.join(KNOWN_TYPES)})")
    if len(set(kinds)) != len(kinds):
        raise ProblemError(path, f"type: {raw!r} names a type twice")
    for first, second in INCOMPATIBLE_TYPES:
        if first in kinds and second in kinds:
            raise ProblemError(path, f"type: {first} and {second} exclude each other")
    _refuse_unsupported(path, "type", kinds)
    return SCORING if SCORING in kinds else PASS_FAIL


def _refuse_unsupported(path: Path, key: str, kinds) -> None:
    unsupported = [kind for kind in kinds if kind in UNSUPPORTED_TYPES]
    if unsupported:
        raise ProblemError(path, f"{key}: {' and '.join(unsupported)} problems are not supported "
                                 "by this judge yet; refusing the package rather than judging it "
                                 "as an ordinary one")


def _validation(path: Path, data: dict) -> str:
    """Legacy `validation`: default or custom, then some of score,
    interactive, multi-pass (DOMjudge's spelling). Returns default|custom."""
    raw = data.get("validation")
    if raw is None:
        return ""
    words = str(raw).split()
    if not words or words[0] not in ("default", "custom"):
        raise ProblemError(path, f"validation: must start with default or custom, got {raw!r}")
    _refuse_unsupported(path, f"validation: {raw}", words[1:])
    for word in words[1:]:
        if word not in VALIDATION_MODIFIERS:
            raise ProblemError(path, f"validation: unknown word {word!r} in {raw!r} "
                                     f"(known: {', '.join(VALIDATION_MODIFIERS)})")
    return words[0]


def _modes(path: Path, data: dict, validation: str) -> frozenset:
    """interactive and multi-pass, from `type` (2023-07 and later) or the
    legacy `validation` words; either needs a custom output validator."""
    words = []
    raw = data.get("type")
    if isinstance(raw, str):
        words += raw.split()
    elif isinstance(raw, list):
        words += [w for kind in raw if isinstance(kind, str) for w in kind.split()]
    words += str(data.get("validation") or "").split()[1:]
    modes = frozenset(w for w in words if w in (INTERACTIVE, MULTI_PASS))
    if modes and validation == "default":
        raise ProblemError(path, f"validation: {' '.join(sorted(modes))} needs a custom output validator "
                                 "(validation: custom ...)")
    return modes


def _name(data: dict, fallback: str) -> str:
    name = data.get("name")
    if isinstance(name, dict):
        name = name.get("en") or next(iter(name.values()), None)
    return str(name) if name else fallback


def _group_settings(path: Path, data: dict, parent: GroupSettings, draft: bool, scoring: bool) -> GroupSettings:
    # Legacy: a group's testdata.yaml replaces its ancestor's whole; the
    # 2023-07 draft inherits the validator arguments key by key.
    base = GroupSettings(output_validator_args=parent.output_validator_args, args=parent.args) if draft \
        else GroupSettings()
    values: dict = {}
    for key, value in data.items():
        if key not in _GROUP_KEYS:
            raise ProblemError(path, f"unknown key {key!r}")
        if key == "on_reject":
            if value not in ("break", "continue"):
                raise ProblemError(path, f"on_reject: expected break or continue, got {value!r}")
            values["on_reject"] = value
        elif key in ("accept_score", "reject_score"):
            values[key] = _number(path, key, value, positive=False)
        elif key == "range":
            parts = str(value).split()
            if len(parts) != 2:
                raise ProblemError(path, f"range: expected two numbers, got {value!r}")
            low, high = (_number(path, "range", p, positive=False) for p in parts)
            if low > high:
                raise ProblemError(path, f"range: {low} is above {high}")
            values["range"], values["has_range"] = (low, high), True
        elif key == "grader_flags":
            values["grader_flags"] = _args(path, key, value)
            unknown = [f for f in values["grader_flags"] if f not in GRADER_FLAGS]
            if unknown:
                raise ProblemError(path, f"grader_flags: unknown flag {unknown[0]!r}")
        elif key == "grading":
            if value not in ("default", None):
                raise ProblemError(path, "grading: custom graders are not supported by this judge")
        elif key in ("output_validator_flags", "output_validator_args"):
            values["output_validator_args"] = _args(path, key, value)
        elif key == "args":
            values["args"] = _args(path, key, value)
        elif key == "max_score":
            if value == "unbounded":
                raise ProblemError(path, "max_score: unbounded scores are not supported by this judge yet")
            values["max_score"] = _number(path, key, value, positive=False)
        elif key == "score_aggregation":
            if value not in ("pass-fail", "sum", "min"):
                raise ProblemError(path, f"score_aggregation: expected pass-fail, sum or min, got {value!r}")
            values["aggregation"] = value
        elif key == "require_pass":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ProblemError(path, "require_pass: expected a group name or a list of them")
            values["require_pass"] = tuple(n.strip().strip("/") for n in names)
        elif key in ("static_validation_score", "static_validation"):
            raise ProblemError(path, f"{key}: static validation is not supported by this judge yet")
        elif key == "scoring" and isinstance(value, dict):
            # 2023-07 draft, later revision: {score: N, aggregation: sum|min}
            # (2025-09 reads the same two as max_score and score_aggregation)
            if "score" in value and value["score"] != "unbounded":
                values["accept_score"] = _number(path, "scoring.score", value["score"], positive=False)
                values.setdefault("max_score", values["accept_score"])
            if "aggregation" in value:
                if value["aggregation"] not in ("sum", "min", "pass-fail"):
                    raise ProblemError(path, f"scoring.aggregation: unknown {value['aggregation']!r}")
                values.setdefault("aggregation", value["aggregation"])
                if value["aggregation"] != "pass-fail":
                    values["grader_flags"] = (value["aggregation"],)
    if not scoring and any(k in values for k in ("accept_score", "reject_score", "range", "max_score",
                                                   "aggregation", "require_pass")):
        raise ProblemError(path, "accept_score, reject_score, range, max_score, score_aggregation and "
                                 "require_pass are only for scoring problems")
    for key in ("max_score", "aggregation", "require_pass"):
        values.setdefault(key, getattr(GroupSettings(), key))     # never inherited
    return replace(base, configured=True, **values)


def _load_group(problem_path: Path, path: Path, name: str, parent: TestGroup | None,
                draft: bool, scoring: bool, depth: int = 0) -> TestGroup:
    if depth > 32:
        raise ProblemError(path, "test groups nested too deep (a symlink loop?)")
    inherited = parent.settings if parent else GroupSettings()
    settings = replace(inherited, configured=False, max_score=None, aggregation=None, require_pass=())
    for file_name in GROUP_FILES:
        if (path / file_name).is_file():
            settings = _group_settings(path / file_name, _read_yaml(path / file_name), inherited, draft, scoring)
            break
    group = TestGroup(name, path, settings, parent)
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        raise ProblemError(path, f"cannot list: {exc.strerror}") from None
    children: list[tuple[str, object]] = []
    for entry in entries:
        entry_path = Path(entry.path)
        if entry.name.startswith("."):
            continue
        if entry.is_dir():          # follows symlinks
            if depth == 0 and entry.name not in ("sample", "secret"):
                continue            # invalid_input/, valid_output/ ...: not judged
            sub_name = f"{name}/{entry.name}" if name else entry.name
            children.append((entry.name, _load_group(problem_path, entry_path, sub_name, group,
                                                     draft, scoring, depth + 1)))
        elif entry.name.endswith(".in") and depth > 0:
            stem = entry.name[:-3]
            answer = path / f"{stem}.ans"
            if not entry_path.exists():
                raise ProblemError(entry_path, "dangling symlink")
            if not answer.exists():
                raise ProblemError(answer, f"missing answer file for {entry_path.name}")
            if not answer.is_file() or not entry_path.is_file():
                raise ProblemError(answer if not answer.is_file() else entry_path, "not a regular file")
            for file in (entry_path, answer):
                if not os.access(file, os.R_OK):
                    raise ProblemError(file, "not readable")
            case_name = f"{name}/{stem}"
            own = _test_case_yaml(path / f"{stem}.yaml") if draft else {}
            children.append((stem, TestCase(case_name, entry_path, answer, group, own)))
    # lexicographic on base name, test cases and groups together
    group.children = [child for _, child in sorted(children, key=lambda c: c[0])]
    return group


def _languages(path: Path, value) -> tuple[str, ...] | None:
    """problem.yaml `languages`: all (None) or the codes of the languages table."""
    if value is None or value == "all":
        return None
    codes = value.split() if isinstance(value, str) else value
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise ProblemError(path, f"languages: expected all or a list of language codes, got {value!r}")
    return tuple(codes)


_CONSTANT_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_CONSTANT_USE = re.compile(rb"\{\{([a-zA-Z_][a-zA-Z0-9_]*)(?:\.([a-zA-Z_][a-zA-Z0-9_]*))?\}\}")


def _constants(path: Path, value) -> dict[str, dict[str, str]]:
    """problem.yaml `constants` (2023-07 and later): name -> {variant: text},
    `value` always among the variants. A scalar is {value: it}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProblemError(path, "constants: expected a mapping of names to values")
    out = {}
    for name, body in value.items():
        if not isinstance(name, str) or not _CONSTANT_NAME.fullmatch(name):
            raise ProblemError(path, f"constants: {name!r} is not a constant name ([a-zA-Z_][a-zA-Z0-9_]*)")
        variants = body if isinstance(body, dict) else {"value": body}
        if "value" not in variants:
            raise ProblemError(path, f"constants.{name}: a map needs its `value`")
        out[name] = {}
        for variant, text in variants.items():
            if not isinstance(variant, str) or not _CONSTANT_NAME.fullmatch(variant):
                raise ProblemError(path, f"constants.{name}: {variant!r} is not a variant name")
            if isinstance(text, bool) or not isinstance(text, (int, float, str)):
                raise ProblemError(path, f"constants.{name}.{variant}: expected an integer, a float or "
                                         f"a string, got {text!r}")
            out[name][variant] = str(text)
    return out


def substitute_constants(data: bytes, constants: dict) -> bytes:
    """{{name}} and {{name.variant}} replaced by the constant's text, as the
    format does in validators, included files and example submissions; a
    sequence naming no defined constant or variant is left as it is."""
    if not constants or b"{{" not in data:
        return data

    def one(match):
        variants = constants.get(match.group(1).decode())
        if variants is None:
            return match.group(0)
        variant = (match.group(2) or b"value").decode()
        return variants[variant].encode() if variant in variants else match.group(0)
    return _CONSTANT_USE.sub(one, data)


def _test_case_yaml(path: Path) -> dict:
    """<test case>.yaml: its own submission and validator arguments."""
    if not path.is_file():
        return {}
    own = {}
    for key, value in _read_yaml(path).items():
        if key not in _TEST_CASE_KEYS:
            raise ProblemError(path, f"unknown key {key!r} (known: {', '.join(sorted(_TEST_CASE_KEYS))})")
        if key in ("args", "output_validator_args"):
            own[key] = _args(path, key, value)
    return own


def _scoring_2025(path: Path, root: TestGroup) -> None:
    """2025-09 scores (max_score, score_aggregation) in the default grader's
    terms: each test's accept_score is its maximum (max/N in a sum group,
    max in a min or pass-fail group) and each group sums or takes the min.
    A pass-fail group is a min group of tests worth its whole score."""
    secret = next((c for c in root.children if isinstance(c, TestGroup) and c.name == "secret"), None)
    if secret is None:
        return
    groups = [c for c in secret.children if isinstance(c, TestGroup) and c.settings.configured]
    top = secret.settings
    secret_max = 100.0 if top.max_score is None else top.max_score
    secret_aggregation = top.aggregation or "sum"

    def where(group: TestGroup) -> Path:
        return next((group.path / n for n in GROUP_FILES if (group.path / n).is_file()), group.path)

    def unit(group: TestGroup, maximum: float, aggregation: str) -> None:
        tests = list(group.tests())
        if not tests:
            return
        per = maximum / len(tests) if aggregation == "sum" else maximum
        flags = ("sum",) if aggregation == "sum" else ("min",)
        for node in group.groups():
            node.settings = replace(node.settings, grader_flags=flags, accept_score=per, reject_score=0.0,
                                    on_reject="continue" if aggregation == "sum" else "break",
                                    range=(-math.inf, math.inf), has_range=False)

    if not groups:
        unit(secret, secret_max, secret_aggregation)
        return
    for group in groups:
        aggregation = group.settings.aggregation or "pass-fail"
        if secret_aggregation == "pass-fail":
            if aggregation != "pass-fail":
                raise ProblemError(where(group), "score_aggregation: must be pass-fail when secret's is")
            unit(group, secret_max, "pass-fail")
            continue
        if group.settings.max_score is None:
            raise ProblemError(where(group), f"max_score: required (secret's maximum is {secret_max:g}, so "
                                             "each test data group needs its own)")
        unit(group, group.settings.max_score, aggregation)
    flags = ("sum",) if secret_aggregation == "sum" else ("min",)
    secret.settings = replace(secret.settings, grader_flags=flags, on_reject="continue",
                              range=(0.0, secret_max), has_range=False)


def _validators(path: Path, validation: str, warnings: list[str]) -> list[Path]:
    found: list[Path] = []
    single = path / "output_validator"
    many = path / "output_validators"
    if single.is_dir():
        found.append(single)
    if many.is_dir():
        found.extend(sorted(p for p in many.iterdir() if not p.name.startswith(".")))
    if validation == "custom" and not found:
        raise ProblemError(path / "output_validators", "validation is custom but there is no output validator")
    if validation == "default" and found:
        warnings.append(f"{path / 'problem.yaml'}: validation is default; ignoring output validators")
        return []
    return found


def load_problem(path: Path | str, samples_only_ok: bool = False) -> Problem:
    """Read a problem package directory; raises ProblemError naming the bad file.

    A package without secret test data (BAPCtools generates it from
    generators/ and does not commit it) is refused unless samples_only_ok:
    then its samples are the tests and `samples_only` says why."""
    path = Path(path)
    if not path.is_dir():
        raise ProblemError(path, "not a problem package directory")
    yaml_path = path / "problem.yaml"
    if not yaml_path.exists():
        raise ProblemError(yaml_path, "missing (every problem package has one)")
    data = _read_yaml(yaml_path)
    warnings: list[str] = []
    # The kind of problem first: an interactive or multi-pass package is
    # refused as such whatever else is wrong with it.
    kind = _problem_type(yaml_path, data)
    validation = _validation(yaml_path, data)
    modes = _modes(yaml_path, data, validation)
    version = str(data.get("problem_format_version", LEGACY))
    if version not in KNOWN_VERSIONS:
        raise ProblemError(yaml_path, f"problem_format_version: unknown version {version!r}")
    version = (LEGACY if version.startswith("legacy") else
               VERSION_2025_09 if version.startswith("2025-09") else DRAFT_2023_07)
    unknown = sorted(set(data) - _PROBLEM_KEYS)
    if unknown and version == VERSION_2025_09:
        raise ProblemError(yaml_path, f"unknown key {unknown[0]!r} (2025-09 defines "
                                      f"{', '.join(sorted(_PROBLEM_KEYS_2025))})")
    if unknown:
        warnings.append(f"{yaml_path}: unknown keys {', '.join(unknown)}")
    older = sorted(set(data) & _PROBLEM_KEYS_OLDER)
    if older and version == VERSION_2025_09:
        warnings.append(f"{yaml_path}: {', '.join(older)}: keys of older versions, not of 2025-09 "
                        "(read as the older versions define them)")
    limits = _limits(yaml_path, data.get("limits"), version == LEGACY, warnings)
    limits = replace(limits, timelimit_file=_timelimit_file(path / ".timelimit"))
    flags = _args(yaml_path, "validator_flags", data.get("validator_flags"))
    validators = _validators(path, validation, warnings)
    languages = _languages(yaml_path, data.get("languages"))
    if not isinstance(data.get("allow_file_writing", False), bool):
        raise ProblemError(yaml_path, f"allow_file_writing: expected true or false, "
                                      f"got {data['allow_file_writing']!r}")
    constants = _constants(yaml_path, data.get("constants"))
    if (path / "static_validator").exists():
        raise ProblemError(path / "static_validator", "static validation is not supported by this judge yet")
    data_dir = path / "data"
    if not data_dir.is_dir():
        raise ProblemError(data_dir, "missing (the test data)")
    root = _load_group(path, data_dir, "", None, version != LEGACY, kind == SCORING)
    if version == VERSION_2025_09 and kind == SCORING:
        _scoring_2025(path, root)
        # the score is secret's: a failed sample stops nothing
        root.settings = replace(root.settings, on_reject="continue")
    for group in root.groups():
        for name in group.settings.require_pass:
            if not any(g.name == name for g in root.groups()) or name >= group.name:
                raise ProblemError(group.path, f"require_pass: {name!r} is not a test data group that "
                                               f"comes before {group.name}")
    problem = Problem(path=path, short_name=path.resolve().name, name=_name(data, path.resolve().name),
                      format_version=version, type=kind, limits=limits, validator_flags=flags,
                      custom_validators=validators, root=root, warnings=warnings, languages=languages,
                      constants=constants, allow_file_writing=data.get("allow_file_writing", False),
                      modes=modes)
    if modes and len(validators) != 1:
        raise ProblemError(path / "output_validators", f"a {' '.join(sorted(modes))} problem needs "
                                                       f"exactly one output validator, found {len(validators)}")
    if not any(t.name.startswith("secret/") for t in problem.tests()):
        what = "no test cases (.in/.ans pairs)" if (data_dir / "secret").is_dir() else \
            "missing (the secret test data)"
        if not samples_only_ok or not problem.tests():
            raise ProblemError(data_dir / "secret", what)
        generated = (path / "generators").is_dir()
        problem.samples_only = (f"data/secret: {what}" +
                                ("; the package generates its tests with generators/, which this judge "
                                 "does not run" if generated else "") +
                                f": grading the {len(problem.tests())} sample tests only")
        grader_flags = root.settings.grader_flags
        if "ignore_sample" in grader_flags:     # else nothing at all would be judged
            kept = tuple(f for f in grader_flags if f != "ignore_sample")
            for group in root.groups():
                if group.settings.grader_flags == grader_flags:
                    group.settings = replace(group.settings, grader_flags=kept)
            problem.samples_only += " (ignore_sample set aside: the samples are all there is)"
    if not validators:
        try:
            parse_flags(flags)
        except FlagError as exc:
            raise ProblemError(yaml_path, f"validator_flags: {exc}") from None
        for group in root.groups():
            try:
                parse_flags(flags + group.settings.output_validator_args)
            except FlagError as exc:
                where = next((group.path / n for n in GROUP_FILES if (group.path / n).is_file()), yaml_path)
                raise ProblemError(where, f"output validator flags: {exc}") from None
    return problem


__all__ = ["Problem", "ProblemLimits", "GroupSettings", "TestCase", "TestGroup", "load_problem",
           "PASS_FAIL", "SCORING", "LEGACY", "DRAFT_2023_07", "VERSION_2025_09",
           "substitute_constants"]
