# Bisects with a fixed tiny step count... that never terminates.
a, b = map(float, input().split())
target = a * a + b * b
low, high = 0.0, 2e6
while high - low >= 0:
    mid = (low + high) / 2
    if mid * mid < target:
        low = mid
    else:
        high = mid
print(low)
