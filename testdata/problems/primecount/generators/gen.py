#!/usr/bin/env python3
"""Writes the Prime Count test data (deterministic: seeded)."""
import random
from pathlib import Path

data = Path(__file__).resolve().parent.parent / "data"
LIMIT = 10**7
sieve = bytearray([1]) * (LIMIT + 1)
sieve[0] = sieve[1] = 0
for i in range(2, int(LIMIT ** 0.5) + 1):
    if sieve[i]:
        sieve[i * i::i] = bytearray(len(range(i * i, LIMIT + 1, i)))
count, running = [0] * (LIMIT + 1), 0
for i in range(LIMIT + 1):
    running += sieve[i]
    count[i] = running
rng = random.Random(3)
groups = {"sample": [10, 100],
          "secret/group1": [1, 2, 3, 997, 1000] + [rng.randint(4, 1000) for _ in range(5)],
          "secret/group2": [10**7, 9999991, 5 * 10**6] + [rng.randint(1001, 10**7) for _ in range(7)]}
for folder, cases in groups.items():
    for index, n in enumerate(cases, 1):
        (data / folder / f"{index:02d}.in").write_text(f"{n}\n")
        (data / folder / f"{index:02d}.ans").write_text(f"{count[n]}\n")
