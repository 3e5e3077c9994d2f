# Never reads its input: guesses blindly, then leaves.
for guess in range(1, 21):
    print(guess * 7, flush=True)
