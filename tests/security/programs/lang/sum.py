# An ordinary accepted solution: sum the integers on stdin, with two threads.
import sys
import threading

values = [int(w) for w in sys.stdin.read().split()]
partial = [0, 0]


def add_half(half):
    partial[half] = sum(values[half::2])


worker = threading.Thread(target=add_half, args=(1,))
worker.start()
add_half(0)
worker.join()
print(partial[0] + partial[1])
