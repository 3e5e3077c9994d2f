#!/usr/bin/env python3
"""Writes the Distinct Pair test data (deterministic: seeded)."""
import random
from pathlib import Path

data = Path(__file__).resolve().parent.parent / "data"
rng = random.Random(11)


def answer(n):
    return "impossible" if n <= 2 else f"1 {n - 1}"


samples = [5, 2]
secret = [1, 2, 3, 4, 10**18, 10**18 - 1] + [rng.randint(3, 10 ** rng.randint(1, 18)) for _ in range(24)]
for folder, cases in (("sample", samples), ("secret", secret)):
    for index, n in enumerate(cases, 1):
        (data / folder / f"{index:02d}.in").write_text(f"{n}\n")
        (data / folder / f"{index:02d}.ans").write_text(answer(n) + "\n")
