"""Every code block of README.md, run or checked as its info string says.

The README is followed top to bottom in one scratch directory (with
`testdata` linked in), as a new user would, as root, with a queue database
of its own. Each fenced block's info string says what it is:

    sh                   run with bash -e; must exit 0
    console              `$ ` lines are commands run in order; the lines after
                         each are its output (stdout and stderr)
    python               run as a script
    toml                 a languages file: loaded over the built-in table
    json                 parsed
    ... output           (json or text) the output of the sh or python block
                         just above it
    text                 not code; `text synopsis` lines (`rustbox VERB ...`,
                         `judge VERB ...`): every --flag shown is in `VERB -h`
    ... docker | multi-machine | setup | suite | benchmark | systemd
                         needs what this machine has not (Docker, other
                         machines, a fresh machine, the suite itself, minutes
                         of exclusive machine time, systemd as init): skipped
                         with that reason

Shown output is matched loosely: numbers match any number, runs of blanks
(and of table rule characters) match any run, and a line of just `...`
stands for any lines. A block without an info string fails: every new
example must say what it is.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
README = REPO / "README.md"
BIN = Path(sys.executable).parent
README_BOXES = range(0, 4)          # the ids the README's examples use

SKIPPED = {
    "docker": "needs Docker (the README says so)",
    "multi-machine": "needs a Redis queue host and judge machines (the README says so)",
    "setup": "installs system packages: what .ci/run does on a fresh machine",
    "suite": "runs the test suite itself",
    "benchmark": "a benchmark: minutes of a quiet machine; its figures are measurements",
    "systemd": "a systemd unit: needs systemd as init (this machine and the CI VM have none)",
}
LANGUAGES = {"sh", "console", "python", "toml", "json", "text", "conf"}
BLOCK_TIMEOUT = 600


@dataclass
class Block:
    line: int                 # of the opening fence
    info: list[str]
    text: str

    @property
    def language(self) -> str:
        return self.info[0] if self.info else ""

    @property
    def skip(self) -> str | None:
        return next((SKIPPED[word] for word in self.info[1:] if word in SKIPPED), None)

    @property
    def is_output(self) -> bool:
        return "output" in self.info[1:]

    def __str__(self) -> str:
        return f"README.md:{self.line} ```{' '.join(self.info)}"


def blocks(text: str) -> list[Block]:
    found, current, start, info = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if current is None:
                current, start, info = [], number, line[3:].split()
            else:
                found.append(Block(start, info, "\n".join(current) + "\n"))
                current = None
        elif current is not None:
            current.append(line)
    assert current is None, f"README.md:{start}: a fence is never closed"
    return found


# -- loose matching of shown output --------------------------------------

_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_RULES = re.compile(r"([━─═┄┈]){2,}")


def _normal(line: str) -> str:
    line = _NUMBER.sub("#", line.rstrip())
    line = _RULES.sub(r"\1", line)
    return re.sub(r"[ \t]+", " ", line).strip()


def _is_ellipsis(line: str) -> bool:
    return re.sub(r"[\s│┃|]", "", line) == "..."


def output_matches(expected: str, actual: str) -> bool:
    pattern = []
    for line in expected.splitlines():
        if _is_ellipsis(line):
            pattern.append(r"(?:[^\n]*\n)*?")
        elif line.strip():
            # "..." inside a line stands for any text there.
            pattern.append(re.escape(_normal(line)).replace(r"\.\.\.", ".*?") + r"\n")
    got = "".join(_normal(line) + "\n" for line in actual.splitlines() if line.strip())
    return re.fullmatch("".join(pattern), got) is not None


def test_loose_matching():
    shown = "time 1.5 s\n...\n│ a  │ 3.0MiB │ over ... │\n┏━━━┳━━┓\nend\n"
    assert output_matches(shown, "time 0.25 s\nx\ny\n│ a │ 21.7MiB │ over it │\n┏━━━━━━┳━━━━┓\nend\n")
    assert not output_matches(shown, "time 1 s\n│ b │ 3MiB │\n┏━┳━┓\nend\n")
    assert not output_matches("a\n", "a\nb\n")


# -- running ---------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch():
    if os.geteuid() != 0:
        pytest.skip("the README's examples run boxes, which needs root")
    from rustbox.box import BoxDir
    existing = {i for i in README_BOXES if BoxDir(i).home.exists()}
    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        path = Path(tmp)
        path.chmod(0o755)                 # a box may be shown it (--dir $PWD:/data)
        (path / "testdata").symlink_to(REPO / "testdata")
        yield path
    for box_id in README_BOXES:
        if box_id not in existing:
            subprocess.run([str(BIN / "rustbox"), "cleanup", "--box-id", str(box_id)],
                           capture_output=True, timeout=60)


def environment(scratch: Path) -> dict:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(REPO), "JUDGE_QUEUE": f"sqlite://{scratch}/queue.db",
            "XDG_CACHE_HOME": str(scratch / ".cache")}


def shell(script: str, scratch: Path, strict: bool) -> subprocess.CompletedProcess:
    # Background jobs an example starts (a worker) are stopped when it ends.
    prologue = "set -e\n" if strict else ""
    prologue += ("trap 'rc=$?; set +e; j=$(jobs -p); [ -z \"$j\" ] || kill $j 2>/dev/null; "
                 "wait; exit $rc' EXIT\n")
    # One stream, as a terminal shows it: stdout and stderr in the order written.
    return subprocess.run(["bash", "-c", prologue + script], cwd=scratch, env=environment(scratch),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=BLOCK_TIMEOUT)


def console_steps(text: str) -> list[tuple[str, str]]:
    steps: list[list] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:], []])
        else:
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line)
    return [(command, "\n".join(out) + "\n") for command, out in steps]


def check_synopsis(block: Block, scratch: Path) -> None:
    for line in block.text.splitlines():
        words = line.split("#")[0].split()
        if len(words) < 2 or words[0] not in ("rustbox", "judge") or not words[1].isalpha():
            continue
        helped = shell(f"{words[0]} {words[1]} -h", scratch, strict=True)
        assert helped.returncode == 0, (str(block), line, helped.stdout)
        for flag in re.findall(r"--[a-z][a-z-]*", line):
            assert flag in helped.stdout, f"{block}: {flag} of {line!r} is not in `{words[0]} {words[1]} -h`"


def check_skipped(block: Block, scratch: Path) -> None:
    """What can be checked of a skipped example without running it."""
    if "benchmark" in block.info:
        for command in re.findall(r"(?:\.venv/bin/)?python3? (benchmarks/\S+\.py)([^\n#]*)",
                                  block.text):
            script, options = command
            helped = subprocess.run([sys.executable, str(REPO / script), "--help"], cwd=REPO,
                                    env=environment(scratch), capture_output=True, text=True,
                                    timeout=120)
            assert helped.returncode == 0, (str(block), helped.stderr)
            for flag in re.findall(r"--[a-z][a-z-]*", options):
                assert flag in helped.stdout, f"{block}: {script} has no {flag}"


def run_block(block: Block, previous: Block | None, following: Block | None,
              scratch: Path) -> None:
    language = block.language
    if language == "sh":
        proc = shell(block.text, scratch, strict=True)
        assert proc.returncode == 0, f"{block} exited {proc.returncode}:\n{proc.stdout}"
        if following is not None and following.is_output:
            shown = proc.stdout
            assert output_matches(following.text, shown), (
                f"{block}: output differs from {following}:\n--- shown\n{following.text}"
                f"--- printed\n{shown}")
    elif language == "console":
        for command, shown in console_steps(block.text):
            proc = shell(command, scratch, strict=False)
            printed = proc.stdout
            assert output_matches(shown, printed), (
                f"{block}: `{command}` printed what the README does not show:\n--- shown\n"
                f"{shown}--- printed (exit {proc.returncode})\n{printed}")
    elif language == "python":
        proc = subprocess.run([sys.executable, "-c", block.text], cwd=scratch,
                              env=environment(scratch), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=BLOCK_TIMEOUT)
        assert proc.returncode == 0, f"{block} failed:\n{proc.stdout}"
        if following is not None and following.is_output:
            assert output_matches(following.text, proc.stdout), (
                f"{block}: output differs from {following}:\n--- shown\n{following.text}"
                f"--- printed\n{proc.stdout}")
    elif language == "toml":
        from judge.languages import load_languages
        path = scratch / f"languages-{block.line}.toml"
        path.write_text(block.text)
        table = load_languages(path)
        for lang_id in re.findall(r"^\[language\.([a-z0-9_+-]+)\]", block.text, re.M):
            assert lang_id in table.languages, f"{block}: {lang_id} not loaded"
    elif language == "json":
        json.loads(block.text)
    elif language == "text":
        if "synopsis" in block.info:
            check_synopsis(block, scratch)
    else:
        pytest.fail(f"{block}: no runner for {language!r}")


ALL = blocks(README.read_text())
# What is run or checked: everything but an output (checked with the block it
# belongs to) and plain text (not code).
CHECKED = [i for i, b in enumerate(ALL)
           if not b.is_output and (b.language != "text" or "synopsis" in b.info)]


def test_every_block_says_what_it_is():
    unknown = [str(b) for b in ALL if b.language not in LANGUAGES
               or any(w not in SKIPPED and w not in ("output", "synopsis") for w in b.info[1:])]
    assert not unknown, f"blocks without a known info string: {unknown}"
    orphans = [str(b) for i, b in enumerate(ALL)
               if b.is_output and (i == 0 or ALL[i - 1].language not in ("sh", "python"))]
    assert not orphans, f"output blocks that do not follow a sh or python block: {orphans}"


@pytest.mark.parametrize("index", CHECKED, ids=[f"line{ALL[i].line}-{ALL[i].language}"
                                                for i in CHECKED])
def test_readme_block(index, scratch):
    block = ALL[index]
    if block.skip:
        check_skipped(block, scratch)
        pytest.skip(f"{block}: {block.skip}")
    previous = ALL[index - 1] if index else None
    following = ALL[index + 1] if index + 1 < len(ALL) else None
    run_block(block, previous, following, scratch)
