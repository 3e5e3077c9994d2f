# Thinks for ever before its first guess.
x = 0
while True:
    x += 1
