"""Near-limit re-runs: a test charged close to its time limit is run again
and judged on its fastest run.

On a noisy host (`rustbox calibrate`) the same program is charged different
CPU times from run to run, so a verdict near the limit can be the
neighbours' doing. A `RerunPolicy` names a band around the limit (default
0.8x-1.5x) and how many more runs a test in it gets (default 2):

- The test's box may run past the limit up to the band's top (rustbox's
  --extra-time): a run over the limit is still TO, but its CPU time says
  by how much. Killed at the band's top, it is a TLE no re-run revisits.
- A run is re-run while its fastest run so far is in the band and its
  outcome is about time: a TLE, or an AC (to judge its time on the fastest
  run too). At most `extra` more runs.
- A run the wall clock stopped under the CPU limit is re-run too, whatever
  its CPU time: on a crowded host a program waits for a core (a 2-core
  machine shared by a few builds gave a program 0.66 s of CPU in 3.5 s of
  wall clock), and then the wall clock says nothing about the program. A
  program that really sleeps or blocks costs its wall limit K more times,
  and is a TLE all the same.
- What a validator decided stands: the first run that finishes within the
  limit is validated and its verdict (AC or WA) is the test's, whatever
  later runs do; they are not validated again, only timed. Any other
  failure of a run (RE, ML, OLE, a validator's JE) ends the re-runs and is
  the verdict. Only when every run is over the limit is the test a TLE.
- The test reports its judged run's figures (the fastest run within the
  limit, else the fastest run), `reruns` (how many more runs it got) and
  `runs` (every run's rustbox status, CPU and wall time).

The band's top is tied to the calibration's thresholds (rustbox/calibrate.py):
on a host whose runs differ by at most 50%, a run pushed over the limit by
noise alone lands inside a 1.5x band and is run again.

`decide()` and `wants_rerun()` take runs and figures only, so they are
tested on tables; the grader (judge/grader.py) runs the runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from rustbox.verdict import OK, TO

from .errors import JudgeError
from .verdicts import AC, TLE

DEFAULT_BAND = (0.8, 1.5)
DEFAULT_EXTRA = 2
MAX_EXTRA = 10
MAX_HIGH = 10.0


class RerunError(JudgeError):
    """A re-run band or count that makes no sense (one line, exit 2)."""


@dataclass(frozen=True)
class RerunPolicy:
    low: float = DEFAULT_BAND[0]     # the band, as multiples of the time limit
    high: float = DEFAULT_BAND[1]
    extra: int = DEFAULT_EXTRA       # runs beyond the first, at most

    def __post_init__(self) -> None:
        if not (0 < self.low <= 1 <= self.high <= MAX_HIGH):
            raise RerunError(f"invalid re-run band {self.low:g}-{self.high:g} (LOW-HIGH as "
                             f"multiples of the time limit, 0 < LOW <= 1 <= HIGH <= {MAX_HIGH:g})")
        if isinstance(self.extra, bool) or not isinstance(self.extra, int) \
                or not 0 <= self.extra <= MAX_EXTRA:
            raise RerunError(f"invalid number of re-runs {self.extra!r} (0-{MAX_EXTRA})")

    @classmethod
    def parse(cls, band: str | None = None, extra: int | None = None) -> "RerunPolicy":
        """From `--rerun-band LOW-HIGH` and `--reruns K` (None: the default)."""
        low, high = DEFAULT_BAND
        if band is not None:
            try:
                low_text, high_text = band.split("-")
                low, high = float(low_text), float(high_text)
            except ValueError:
                raise RerunError(f"invalid re-run band {band!r} (LOW-HIGH, e.g. 0.8-1.5)") from None
        return cls(low, high, DEFAULT_EXTRA if extra is None else extra)

    @property
    def enabled(self) -> bool:
        return self.extra > 0

    def extra_time(self, limit: float) -> float:
        """How far past the limit a test's box may run: to the band's top."""
        return (self.high - 1) * limit if self.enabled else 0.0

    def in_band(self, cpu_time: float, limit: float) -> bool:
        return self.low * limit <= cpu_time < self.high * limit

    def describe(self) -> dict:
        """What a result says of the policy it was graded under."""
        return {"band": [self.low, self.high], "max": self.extra}


OFF = RerunPolicy(extra=0)


def _deciding(runs) -> object | None:
    """The first run whose outcome is not a TLE: the validator's AC or WA
    on the first run that finished within the limit, or a failure of the
    program's own. None while every run so far is over the limit."""
    return next((run for run in runs if run.verdict is not None and run.verdict != TLE), None)


def _fastest(runs, status: str):
    timed = [run for run in runs if run.status == status]
    return min(timed, key=lambda run: run.cpu_time) if timed else None


def wants_rerun(runs: list, policy: RerunPolicy, limit: float) -> bool:
    """Whether a test with these runs gets another. A run has .verdict (the
    judge's: None for a run after the deciding one, which is not validated),
    .status (rustbox's), .wall_killed and .cpu_time."""
    if len(runs) > policy.extra:
        return False
    deciding = _deciding(runs)
    if deciding is not None and deciding.verdict != AC:
        return False            # not about time: the verdict stands
    if deciding is None and runs[-1].wall_killed:
        return True
    fastest = _fastest(runs, OK) or _fastest(runs, TO)
    return fastest is not None and policy.in_band(fastest.cpu_time, limit)


def decide(runs: list):
    """(the run whose verdict the test takes, the run whose figures it reports)."""
    deciding = _deciding(runs)
    if deciding is None:                       # every run over the limit
        return runs[0], _fastest(runs, TO) or runs[0]
    if deciding.verdict == AC:                 # judged on its fastest run within the limit
        return deciding, _fastest(runs, OK) or deciding
    return deciding, deciding


def run_record(run) -> dict:
    """One entry of a test's `runs`."""
    record = {"status": run.status, "cpu_time": round(run.cpu_time, 4),
              "wall_time": round(run.wall_time, 4)}
    if run.wall_killed:
        record["wall_killed"] = True
    return record


__all__ = ["RerunPolicy", "RerunError", "OFF", "wants_rerun", "decide", "run_record",
           "DEFAULT_BAND", "DEFAULT_EXTRA"]
