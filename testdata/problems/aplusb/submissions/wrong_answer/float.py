# Loses precision: floats cannot hold every 60-bit integer.
a, b = map(float, input().split())
print(int(a + b))
