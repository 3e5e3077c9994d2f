#!/usr/bin/env python3
"""Writes data/secret/*.in/.ans for a+b (deterministic: seeded)."""
import random
from pathlib import Path

here = Path(__file__).resolve().parent.parent / "data" / "secret"
rng = random.Random(20240501)
cases = [(0, 0), (1, -1), (-10**18, 10**18), (10**18, 10**18 - 1), (-10**18, -10**18 + 1)]
while len(cases) < 120:
    bits = rng.choice([3, 10, 31, 50, 60])
    cases.append((rng.randint(-2**bits, 2**bits), rng.randint(-2**bits, 2**bits)))
for index, (a, b) in enumerate(cases, 1):
    (here / f"{index:03d}.in").write_text(f"{a} {b}\n")
    (here / f"{index:03d}.ans").write_text(f"{a + b}\n")
