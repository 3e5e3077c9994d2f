# Counts from a to a+b one by one: hopeless for large b.
a, b = map(int, input().split())
total = a
step = 1 if b >= 0 else -1
for _ in range(abs(b)):
    total += step
print(total)
