"""How long each wait of a run may last: the supervisor polls, the child's
set-up, the kill of the box and the end of its PID namespace."""
from __future__ import annotations

POLL_MAX = 0.010        # seconds between CPU checks far from the limit
POLL_MIN = 0.0005       # ... and close to it
SETUP_TIMEOUT = 10.0    # the child must reach exec within this
KEYS_WAIT = 5.0         # ... of which waiting for an earlier run's keys to die
# However a program ends (or refuses to), its run returns by its wall limit
# plus a second: the rest of the box is killed and its processes reaped
# within KILL_WITHIN of the program's end (or of the limit), the PID
# namespace's init within STOP_WITHIN after that.
KILL_WITHIN = 0.4
KILL_MIN = 0.05
STOP_WITHIN = 0.2
