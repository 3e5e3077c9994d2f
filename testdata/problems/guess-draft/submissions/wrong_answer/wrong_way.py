lo, hi = 1, 1000
for _ in range(12):
    guess = (lo + hi) // 2
    print(guess, flush=True)
    reply = input()
    if reply == "correct":
        break
    if reply == "lower":
        lo = guess + 1
    else:
        hi = guess - 1
