#!/usr/bin/env python3
import re
import sys

data = sys.stdin.read()
match = re.fullmatch(r"(-?\d+) (-?\d+)\n", data)
if not match or any(abs(int(x)) > 10**18 for x in match.groups()):
    sys.exit(43)
sys.exit(42)
