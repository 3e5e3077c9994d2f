"""Helpers for the judge tests: write small problem packages."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PROBLEMS = REPO / "testdata" / "problems"


def make_package(root: Path, files: dict) -> Path:
    """Write a package: {relative path: text}; problem.yaml defaults to a name."""
    files = {"problem.yaml": "name: Test\nlimits:\n  time_limit: 1\n  memory: 128\n", **files}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def echo_tests(count: int, folder: str = "data/secret") -> dict:
    """count tests whose answer is their input."""
    out = {}
    for i in range(1, count + 1):
        out[f"{folder}/{i:02d}.in"] = f"{i}\n"
        out[f"{folder}/{i:02d}.ans"] = f"{i}\n"
    return out
