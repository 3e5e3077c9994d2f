#!/usr/bin/env python3
"""Writes the hypotenuse test data (deterministic: seeded)."""
import math
import random
from pathlib import Path

data = Path(__file__).resolve().parent.parent / "data"
rng = random.Random(7)
samples = [(3.0, 4.0), (1.0, 1.0)]
secret = [(0.0, 0.0), (0.0, 2.5), (1e6, 1e6), (1e-6, 1e-6), (123456.789, 0.001)]
while len(secret) < 30:
    secret.append((round(rng.uniform(0, 10 ** rng.randint(0, 6)), rng.randint(0, 6)),
                   round(rng.uniform(0, 10 ** rng.randint(0, 6)), rng.randint(0, 6))))
for folder, cases in (("sample", samples), ("secret", secret)):
    for index, (a, b) in enumerate(cases, 1):
        (data / folder / f"{index:02d}.in").write_text(f"{a!r} {b!r}\n")
        (data / folder / f"{index:02d}.ans").write_text(f"{math.hypot(a, b):.9f}\n")
