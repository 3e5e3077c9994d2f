# Splits evenly: the two numbers are equal for even n.
n = int(input())
if n <= 2:
    print("impossible")
else:
    print(n // 2, n - n // 2)
