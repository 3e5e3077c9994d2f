# Prints in scientific notation: any float formatting is fine under a tolerance.
import math

a, b = map(float, input().split())
print("%.12e" % math.hypot(a, b))
