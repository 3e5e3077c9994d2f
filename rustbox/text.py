"""Wording shared by the command lines and scripts: a count with its noun."""
from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 run', '2 runs', '0 runs'; `nouns` for irregular plurals ('boxes')."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


__all__ = ["plural"]
