"""Keeping the judging machine's own paths out of what the judge shows.

Every message the judge stores or prints that comes from a run, a compile
or a validator is text a program chose: a contestant's program can print
`/proc/self/mountinfo` (where the host directory behind `/prog` and `/box`
is written), and the sandbox's own failures name host paths. Such text goes
to the contestant and the contest site, so before it is shown every host
path the judge knows is replaced by what the program sees or by a neutral
name:

    <rustbox root>/<N>/box/...      -> /box/...
    <judge temp dir>/build/...      -> /prog/...     (the build, mounted there)
    <validator cache>/<key>/...     -> /prog/...
    <temp dir>/judge-*              -> <tmp>         (any grading's or worker's)
    <rustbox root>, <cache>         -> <rustbox>, <cache>
    the problem package             -> its short name
    extra (host, shown) pairs         given by the caller (a worker's temp dir)

Paths are matched as written and as resolved (a `/tmp` that is a link),
whole names only (`/tmp/judge-ab` does not match inside `/tmp/judge-abc`).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# What may follow a path's last name: a separator or the end, not more name.
_END = r"(?![^\s/'\"`:;,()\[\]{}<>|=])"


class HostPaths:
    """A set of host paths and what to show instead; `scrub(text)` applies them."""

    def __init__(self, *, rustbox_root: str | Path | None = None,
                 temp_dir: str | Path | None = None) -> None:
        self._rules: list[tuple[str, str]] = []     # (regex source, replacement)
        root = rustbox_root if rustbox_root is not None else _rustbox_root()
        for base in _spellings(root):
            self._rules.append((re.escape(base) + r"/\d+/box" + _END, "/box"))
            self._rules.append((re.escape(base) + _END, "<rustbox>"))
        for base in _spellings(temp_dir if temp_dir is not None else tempfile.gettempdir()):
            self._rules.append((re.escape(base) + r"/judge-[^\s/'\"`:;,()\[\]{}<>|=]*/build" + _END,
                                "/prog"))
            self._rules.append((re.escape(base) + r"/judge-[^\s/'\"`:;,()\[\]{}<>|=]*" + _END,
                                "<tmp>"))
        self._extra: list[tuple[str, str]] = []
        self._pattern: re.Pattern | None = None

    def add(self, host: str | Path, shown: str) -> "HostPaths":
        """Show `host` (a file or directory, and what lies under it) as `shown`."""
        for spelling in _spellings(host):
            if spelling not in ("", "/"):
                self._extra.append((spelling, shown))
        self._pattern = None
        return self

    def add_cache(self, cache_root: str | Path) -> "HostPaths":
        """Built programs under a cache directory: each entry is what /prog shows."""
        for base in _spellings(cache_root):
            self._rules.append((re.escape(base) + r"/[^\s/'\"`:;,()\[\]{}<>|=]+" + _END, "/prog"))
            self._rules.append((re.escape(base) + _END, "<cache>"))
        self._pattern = None
        return self

    def scrub(self, text: str) -> str:
        if not text:
            return text
        if self._pattern is None:
            self._compile()
        return self._pattern.sub(lambda m: self._shown[m.lastindex - 1], text)

    __call__ = scrub

    def _compile(self) -> None:
        # Longest literal paths first, so a package inside the temp dir (or a
        # file inside a package) is named by the most specific rule.
        extra = sorted(self._extra, key=lambda pair: len(pair[0]), reverse=True)
        rules = [(re.escape(host) + ("" if host.endswith("/") else _END), shown)
                 for host, shown in extra] + self._rules
        self._pattern = re.compile("|".join(f"({source})" for source, _ in rules))
        self._shown = [shown for _, shown in rules]


def _spellings(path: str | Path) -> list[str]:
    """The path as given (absolute) and resolved, without a trailing slash
    unless it was given with one (then it matches only with what follows)."""
    text = str(path)
    keep_slash = text.endswith("/") and text != "/"
    out = []
    for candidate in (os.path.abspath(text), os.path.realpath(text)):
        candidate = candidate.rstrip("/") + ("/" if keep_slash else "")
        if candidate and candidate not in out:
            out.append(candidate)
    return out


def _rustbox_root() -> str:
    from rustbox.box import box_root
    return str(box_root())


__all__ = ["HostPaths"]
