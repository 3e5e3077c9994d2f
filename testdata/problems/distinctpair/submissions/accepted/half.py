# A different valid pair: as balanced as distinctness allows.
n = int(input())
if n <= 2:
    print("impossible")
else:
    a = (n - 1) // 2
    print(a, n - a)
