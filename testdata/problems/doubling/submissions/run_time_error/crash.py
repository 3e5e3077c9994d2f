n = int(input())
if n % 2:
    raise ValueError(n)
print(2 * n)
