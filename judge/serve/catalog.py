"""What a server offers: the problem packages of its --problems directory
and the languages of its table, loaded once and reloaded when a package
changes on disk.

A package is known by its directory name only: a client never names a path
on the judging machine. A package that does not load is listed with the
loader's own error and refuses submissions with it.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import JudgeError
from ..grader import DEFAULT_TIME_LIMIT
from ..languages import LanguageTable, load_languages
from ..problem import Problem, load_problem


@dataclass(frozen=True)
class Package:
    """One entry of the problems directory: its loaded problem, or why not."""

    name: str
    problem: Problem | None
    error: str | None = None

    def describe(self) -> dict:
        if self.problem is None:
            return {"name": self.name, "error": self.error}
        problem, limits = self.problem, self.problem.limits
        return {"name": self.name, "title": problem.name, "type": problem.type,
                "format_version": problem.format_version,
                "time_limit": limits.time_limit if limits.time_limit is not None
                else DEFAULT_TIME_LIMIT,
                "memory_limit_mib": limits.memory, "output_limit_mib": limits.output,
                "tests": len(problem.tests()),
                "languages": list(problem.languages) if problem.languages is not None else None}


def valid_problem_name(name: object) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= 255 and "/" not in name
            and "\0" not in name and name not in (".", "..") and not name.startswith("."))


class Catalog:
    """The problems directory and the language table. Thread-safe."""

    def __init__(self, problems_dir: Path, languages: LanguageTable | None = None):
        self.problems_dir = Path(problems_dir)
        self.languages = languages or load_languages()
        self._cache: dict[str, tuple[tuple, Package]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        try:
            entries = sorted(os.listdir(self.problems_dir))
        except OSError:
            return []
        return [name for name in entries if valid_problem_name(name)
                and (self.problems_dir / name / "problem.yaml").is_file()]

    def package(self, name: str) -> Package | None:
        """The package called `name`, None if the directory has none."""
        if not valid_problem_name(name):
            return None
        path = self.problems_dir / name
        stamp = _stamp(path)
        if stamp is None:
            return None
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        try:
            package = Package(name, load_problem(path))
        except JudgeError as exc:
            package = Package(name, None, str(exc).replace(str(self.problems_dir) + "/", ""))
        with self._lock:
            self._cache[name] = (stamp, package)
        return package

    def describe_languages(self) -> list[dict]:
        return [{"id": lang.id, "name": lang.name, "extensions": list(lang.extensions),
                 "compiled": lang.compile is not None} for lang in self.languages.languages.values()]


def _stamp(path: Path) -> tuple | None:
    """What changes when a package is edited: problem.yaml's and the tree's
    top-level modification times (a test added under data/ changes data/)."""
    if not path.is_dir():
        return None
    try:
        parts = [path / "problem.yaml", path, path / "data", path / "data" / "secret"]
        return tuple(os.stat(p).st_mtime_ns if p.exists() else 0 for p in parts)
    except OSError:
        return None
