"""Languages as data: load the TOML table, detect a language, expand its commands.

The built-in table is judge/languages.toml; a user file given explicitly
(`judge run --languages FILE`) is merged over it, language by language and
key by key. Nothing here runs a contestant's program: build.py and grader.py
take the argv and mounts this module expands.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from rustbox.errors import UsageError
from rustbox.mounts import DirRule

from .errors import LanguageError

DEFAULT_TABLE = Path(__file__).with_name("languages.toml")

# Where a build is mounted, read-only, inside the box that runs it.
PROGRAM_DIR = "/prog"

_KEYS = {"name", "code", "address_space", "shebang", "extensions", "compile", "run", "compile_dirs", "run_dirs",
         "compile_processes", "processes", "memory_overhead_mib", "env",
         "compile_env", "probe"}


@dataclass(frozen=True)
class Language:
    id: str
    name: str
    extensions: tuple[str, ...]
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    compile_dirs: tuple[str, ...] = ()
    run_dirs: tuple[str, ...] = ()
    compile_processes: int = 16
    processes: int = 1
    memory_overhead_mib: int = 0
    env: dict = field(default_factory=dict)
    compile_env: dict = field(default_factory=dict)
    probe: dict = field(default_factory=dict)
    code: str = ""                   # the package format's language code it implements
    address_space: bool = False      # RLIMIT_AS = the memory limit (native code)
    shebang: str = ""                # a first line that claims a file of these endings

    @property
    def format_code(self) -> str:
        """The package format's code for this language (python3 for pypy3/cpython3)."""
        return self.code or self.id

    def entry_point(self, files: list[str]) -> str:
        """The file a multi-file program starts from: main.*, else the only
        or first one (by name) written in this language."""
        own = sorted(f for f in files if self.matches(f))
        if not own:
            raise LanguageError(f"no {self.name} source file among {', '.join(sorted(files)) or 'no files'}")
        for name in own:
            if Path(name).stem in ("main", "Main", "__main__"):
                return name
        return own[0]

    def matches(self, filename: str) -> bool:
        suffix = Path(filename).suffix[1:]
        return suffix in self.extensions


class LanguageTable:
    """All known languages, by id, with detection by file ending."""

    def __init__(self, languages: dict[str, Language]):
        self.languages = languages
        self._probed: dict[tuple[str, str], str] = {}
        self._chosen: dict[str, str] = {}        # format code -> the implementation in use

    def implementations(self, code: str) -> list[str]:
        """The ids of the languages implementing a format code (python3: python3, cpython3)."""
        return sorted(lang.id for lang in self.languages.values() if lang.format_code == code)

    def chosen(self, code: str) -> str | None:
        """The implementation `use` chose for a format code, if any."""
        return self._chosen.get(code)

    def for_problem(self, languages) -> "LanguageTable":
        """The table a problem asks for: a problem.yaml `languages` naming one
        implementation of a code and not the code itself (cpython3 without
        python3) makes that implementation what the code means, unless a
        command line chose already."""
        if not languages:
            return self
        table = self
        for name in languages:
            try:
                lang = self.get(name)
            except LanguageError:
                continue
            code = lang.format_code
            if (name != code and code not in languages and self.chosen(code) is None
                    and lang.id != self._default(code)):
                table = table.use(lang.id)
        return table

    def _default(self, code: str) -> str:
        return code if code in self.languages else ""

    def use(self, lang_id: str) -> "LanguageTable":
        """A copy of the table where `lang_id` is what its format code means:
        its files are detected as it, and --lang <code> names it
        (`use("cpython3")`: .py is CPython)."""
        chosen = self.get(lang_id)
        table = LanguageTable(self.languages)
        table._probed = self._probed
        table._chosen = {**self._chosen, chosen.format_code: chosen.id}
        return table

    def active(self, lang: Language) -> bool:
        """Whether file endings select `lang`: of the implementations of one
        format code, only the chosen one (else the one named by the code)."""
        code = lang.format_code
        chosen = self._chosen.get(code) or (code if code in self.languages else lang.id)
        return lang.id == chosen

    def __contains__(self, lang_id: str) -> bool:
        return lang_id in self.languages

    def __iter__(self):
        return iter(self.languages.values())

    def get(self, lang_id: str) -> Language:
        key = lang_id.lower()
        aliases = {"c++": "cpp", "python": "python3", "py": "python3", "js": "javascript",
                   "node": "javascript", "rs": "rust", "c++20": "cpp", "kt": "kotlin",
                   "golang": "go", "hs": "haskell", "cs": "csharp", "c#": "csharp", "rb": "ruby",
                   "pas": "pascal", "ml": "ocaml"}
        key = aliases.get(key, key)
        key = self._chosen.get(key, key)         # python3: the implementation in use
        # An implementation named as such is that one, whatever python3 means.
        key = {"pypy3": "python3", "pypy": "python3", "cpython": "cpython3"}.get(key, key)
        if key not in self.languages:
            raise LanguageError(f"unknown language {lang_id!r} (known: {', '.join(sorted(self.languages))})")
        return self.languages[key]

    def detect(self, source: Path) -> Language:
        """The language of a file by its ending, or of a directory by its files."""
        if source.is_dir():
            files = [p.name for p in source.iterdir() if p.is_file()]
        else:
            files = [source.name]
        if source.is_file():
            claimed = self._shebang(source)
            if claimed is not None:
                return claimed
        counts: dict[str, int] = {}
        for name in files:
            for lang in self.languages.values():
                if self.active(lang) and lang.matches(name):
                    counts[lang.id] = counts.get(lang.id, 0) + 1
        if not counts:
            raise LanguageError(f"{source}: cannot tell the language from the file ending; use --lang")
        best = max(counts.values())
        winners = sorted(k for k, v in counts.items() if v == best)
        if len(winners) > 1:
            raise LanguageError(f"{source}: ambiguous language ({', '.join(winners)}); use --lang")
        return self.languages[winners[0]]

    def _shebang(self, source: Path) -> Language | None:
        """A language whose `shebang` matches the file's first line, whatever
        the ending (`#!/usr/bin/env python2` in a .py is Python 2, as
        problemtools reads it)."""
        candidates = [lang for lang in self.languages.values() if lang.shebang]
        if not candidates:
            return None
        try:
            with open(source, "rb") as fh:
                first = fh.readline(256).decode("utf-8", "replace")
        except OSError:
            return None
        return next((lang for lang in candidates if re.match(lang.shebang, first)), None)

    @staticmethod
    def missing_tool(lang: Language) -> str | None:
        """The compiler or interpreter of `lang` that is not on this machine, if any."""
        # A tool inside a directory the language mounts (rustc at /opt/rust)
        # is the probe's business, not a host path.
        mounted = [rule.split(":")[1] for rule in (*lang.compile_dirs, *lang.run_dirs)
                   if rule.count(":") >= 1 and rule.split(":")[1].startswith("/")]
        for argv in (lang.compile, lang.run):
            if (argv and argv[0].startswith("/") and "{" not in argv[0]
                    and not any(argv[0].startswith(m.rstrip("/") + "/") for m in mounted)
                    and not os.access(argv[0], os.X_OK)):
                return argv[0]
        return None

    def probe(self, lang: Language, name: str) -> str:
        """The value of a {probe} placeholder: the first host command that answers."""
        if (lang.id, name) in self._probed:
            return self._probed[(lang.id, name)]
        candidates = lang.probe.get(name)
        if not candidates:
            raise LanguageError(f"language {lang.id}: unknown placeholder {{{name}}}")
        tried = []
        for argv in candidates:
            argv = [os.path.expanduser(argv[0]), *argv[1:]]
            exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0])
            tried.append(argv[0])
            if not exe or not os.access(exe, os.X_OK):
                continue
            try:
                out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if out.returncode == 0 and out.stdout.strip():
                value = out.stdout.strip().splitlines()[0]
                self._probed[(lang.id, name)] = value
                return value
        raise LanguageError(f"language {lang.id}: cannot find {name} (tried {', '.join(tried)}); is it installed?")

    def expand(self, lang: Language, template, values: dict) -> list[str]:
        """Fill an argv template: {sources} becomes one argument per file."""
        out: list[str] = []
        for arg in template:
            if arg == "{sources}":
                out.extend(values["sources"])
                continue
            out.append(self._fill(lang, arg, values))
        return out

    def environment(self, lang: Language, env: dict, values: dict) -> dict:
        """A language's environment variables, placeholders filled."""
        return {str(k): self._fill(lang, str(v), values) for k, v in env.items()}

    def mounts(self, lang: Language, rules, values: dict) -> list[DirRule]:
        """A language's directory rules, in rustbox's own --dir grammar and
        with its checks (a sensitive host path needs :force)."""
        result = []
        for rule in rules:
            try:
                result.append(DirRule.parse(self._fill(lang, rule, values)))
            except UsageError as exc:
                raise LanguageError(f"language {lang.id}: {exc}") from None
        return result

    def _fill(self, lang: Language, text: str, values: dict) -> str:
        while "{" in text:
            start = text.index("{")
            end = text.find("}", start)
            if end < 0:
                raise LanguageError(f"language {lang.id}: unclosed placeholder in {text!r}")
            name = text[start + 1:end]
            if name in values and not isinstance(values[name], list):
                value = str(values[name])
            else:
                value = self.probe(lang, name)
            text = text[:start] + value + text[end + 1:]
        return text


def _flag(value, lang_id: str, origin: str) -> bool:
    if not isinstance(value, bool):
        raise LanguageError(f"{origin}: language {lang_id}: address_space: expected true or false")
    return value


def _language(lang_id: str, table: dict, origin: str) -> Language:
    unknown = set(table) - _KEYS
    if unknown:
        raise LanguageError(f"{origin}: language {lang_id}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("name", "extensions", "run"):
        if key not in table:
            raise LanguageError(f"{origin}: language {lang_id}: missing {key!r}")
    try:
        return Language(
            id=lang_id, name=str(table["name"]),
            extensions=tuple(str(e).lstrip(".") for e in table["extensions"]),
            run=tuple(str(a) for a in table["run"]),
            compile=tuple(str(a) for a in table["compile"]) if table.get("compile") else None,
            compile_dirs=tuple(table.get("compile_dirs", ())),
            run_dirs=tuple(table.get("run_dirs", ())),
            compile_processes=int(table.get("compile_processes", 16)),
            processes=int(table.get("processes", 1)),
            memory_overhead_mib=int(table.get("memory_overhead_mib", 0)),
            env=dict(table.get("env", {})), compile_env=dict(table.get("compile_env", {})),
            probe={k: [list(map(str, c)) for c in v] for k, v in table.get("probe", {}).items()},
            code=str(table.get("code", "")),
            address_space=_flag(table.get("address_space", False), lang_id, origin),
            shebang=str(table.get("shebang", "")),
        )
    except (TypeError, ValueError) as exc:
        raise LanguageError(f"{origin}: language {lang_id}: {exc}") from None


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise LanguageError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LanguageError(f"{path}: bad TOML: {exc}") from None
    languages = data.get("language")
    if not isinstance(languages, dict):
        raise LanguageError(f"{path}: expected [language.<id>] tables")
    return languages


def load_languages(extra: Path | str | None = None, base: Path | str = DEFAULT_TABLE) -> LanguageTable:
    """The built-in table, with the tables of `extra` merged over it."""
    merged = {k: dict(v) for k, v in _read(Path(base)).items()}
    if extra is not None:
        for lang_id, table in _read(Path(extra)).items():
            if not isinstance(table, dict):
                raise LanguageError(f"{extra}: language {lang_id}: expected a table")
            merged.setdefault(lang_id, {}).update(table)
    return LanguageTable({k: _language(k, v, str(extra or base)) for k, v in merged.items()})


__all__ = ["Language", "LanguageTable", "load_languages", "PROGRAM_DIR", "DEFAULT_TABLE"]
