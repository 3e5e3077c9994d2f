"""Resource limits of one run, and the parsing of sizes, times and counts.

`Limits` is the single description of what a run may use, and the single
place its values are checked: the CLI's flags, the batch spec lines and the
Python API all build one (from "64M", "1.5", 64 << 20, ...), so each refuses
the same values with the same one-line `UsageError`. Every value has a sane
upper bound as well as a lower one: a run that asks for 10**30 bytes is a
mistake to report at once, not a number to carry into a cgroup file, an
rlimit or the verdict's JSON.
"""
from __future__ import annotations

import math

from .errors import UsageError

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# Upper bounds, far above any real run and far below what breaks a cgroup
# file, an rlimit or a JSON encoder (orjson stops at 64 bits).
MAX_SIZE = 1 << 40            # 1 TiB: memory, swap, file size, stack
MAX_TIME = 86400.0            # one day: CPU, wall and extra time
MAX_PROCESSES = 1 << 22       # the kernel's PID_MAX_LIMIT
MAX_OPEN_FILES = 1 << 20      # the kernel's default fs.nr_open
MAX_CPU_SHARES = 262144       # cgroup v1 cpu.shares' own maximum
MAX_CPUS = 4096.0             # cores of a --cpus quota
MAX_QUOTA_BLOCKS = MAX_SIZE >> 10   # 1 KiB blocks of a --quota
MAX_QUOTA_INODES = 1 << 24
NO_LIMIT = ("unlimited", "max")   # --processes unlimited: pids.max "max"


def parse_size(text: str | int | float | None, what: str = "size",
               maximum: int = MAX_SIZE) -> int | None:
    """'64M' -> 67108864; bare numbers are bytes; None/'unlimited' -> None."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise UsageError(f"invalid {what}: {text!r} (expected e.g. 64M, 1G, 4096)")
    if isinstance(text, (int, float)):
        if not (isinstance(text, int) or math.isfinite(text)):
            raise UsageError(f"invalid {what}: {text!r} (expected e.g. 64M, 1G, 4096)")
        if text < 0:
            raise UsageError(f"invalid {what}: {text!r} (must not be negative)")
        value = int(text)
    else:
        raw = str(text).strip().lower()
        if raw in ("unlimited", "inf", "none"):
            return None
        # NUMBER[K|M|G|T][[i]B]: parsed by hand (no `re` in the box helper).
        for suffix in ("ib", "b"):
            if (raw.endswith(suffix) and len(raw) > len(suffix)
                    and not raw[-len(suffix) - 1].isdigit()):
                raw = raw[:-len(suffix)]
                break
        unit = raw[-1:] if raw[-1:] in _UNITS else ""
        number = raw[:len(raw) - len(unit)].strip()
        if (not number or not number.replace(".", "", 1).isdigit()
                or not number[0].isdigit() or len(number) > 30):
            raise UsageError(f"invalid {what}: {text!r} (expected e.g. 64M, 1G, 4096)")
        value = int(float(number) * _UNITS[unit])
    if value > maximum:
        raise UsageError(f"invalid {what}: {text!r} (at most {_size_text(maximum)})")
    return value


def _size_text(size: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit.lower()] and size % _UNITS[unit.lower()] == 0:
            return f"{size // _UNITS[unit.lower()]}{unit}"
    return str(size)


def parse_time(text: str | int | float | None, what: str = "time",
               maximum: float = MAX_TIME, unit: str = "seconds") -> float | None:
    """'1.5' -> 1.5 seconds; must be positive, finite and at most `maximum`."""
    if text is None:
        return None
    try:
        if isinstance(text, bool):
            raise ValueError
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"invalid {what}: {text!r} (expected {unit}, e.g. 1.5)") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"invalid {what}: {text!r} (must be a positive number of {unit})")
    if value > maximum:
        raise UsageError(f"invalid {what}: {text!r} (at most {maximum:g})")
    return value


def parse_quota(value, what: str = "--quota") -> tuple[int, int] | None:
    """'BLOCKS,INODES' (isolate's syntax; blocks of 1 KiB), or a pair of
    numbers -> (blocks, inodes); None -> no quota."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = []
    if len(parts) != 2:
        raise UsageError(f"invalid {what}: {value!r} (expected BLOCKS,INODES, e.g. 65536,1000)")
    blocks = parse_count(parts[0], f"{what} blocks", maximum=MAX_QUOTA_BLOCKS)
    inodes = parse_count(parts[1], f"{what} inodes", maximum=MAX_QUOTA_INODES)
    return blocks, inodes


def parse_count(text: str | int | None, what: str, minimum: int = 1,
                maximum: int = MAX_PROCESSES) -> int | None:
    if text is None:
        return None
    try:
        if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
            raise ValueError
        value = int(text)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"invalid {what}: {text!r} (expected a whole number)") from None
    if value < minimum:
        raise UsageError(f"invalid {what}: {text!r} (must be at least {minimum})")
    if value > maximum:
        raise UsageError(f"invalid {what}: {text!r} (at most {maximum})")
    return value


class Limits:
    """What one run may use (immutable). None means "no limit" except where noted.

    Every value goes through the same parser as the CLI flag of its name
    (LIMIT_PARSERS), so `Limits(mem="64M", time="1.5")` works and
    `Limits(time=-1)` raises UsageError, as `--time -1` does.

    A plain class rather than a dataclass: the box helper, which forks once
    per run, stays smaller without the dataclasses machinery.
    """

    FIELDS = ("time", "wall_time", "extra_time", "mem", "swap", "processes", "cpu_shares",
              "cpus", "fsize", "stack", "open_files", "quota", "address_space")
    __slots__ = FIELDS

    def __init__(self, time: float | None = None,   # CPU seconds, all threads and processes
                 wall_time: float | None = None,     # default 2*time+1 when time is set
                 extra_time: float = 0.0,            # grace before the kill
                 mem: int | None = None,             # bytes, whole box
                 swap: int = 0,                      # bytes of swap on top of mem
                 processes: int | None = 1,          # processes + threads (pids.max)
                 cpu_shares: int | None = None,      # relative weight (v1 shares scale)
                 cpus: float | None = None,          # hard quota in cores
                 fsize: int | None = None,           # largest file written (RLIMIT_FSIZE)
                 stack: int | None = None,           # RLIMIT_STACK; None = unlimited
                 open_files: int = 64,               # RLIMIT_NOFILE
                 quota: tuple[int, int] | None = None,   # /box: 1 KiB blocks, inodes
                 address_space: int | None = None):  # RLIMIT_AS of each process; None = unlimited
        values = (time, wall_time, extra_time, mem, swap, processes, cpu_shares, cpus, fsize,
                  stack, open_files, quota, address_space)
        for name, value in zip(self.FIELDS, values):
            object.__setattr__(self, name, LIMIT_PARSERS[name](value))
        if self.wall_time is None and self.time is not None:
            object.__setattr__(self, "wall_time", 2 * self.time + 1)

    def __setattr__(self, name, value):
        raise AttributeError("Limits is immutable: use .replace()")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other) -> bool:
        return isinstance(other, Limits) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Limits(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.FIELDS) + ")"

    def __reduce__(self):
        return (Limits, self._values())

    @property
    def cpu_kill_at(self) -> float | None:
        """CPU seconds after which the supervisor kills the run."""
        return None if self.time is None else self.time + self.extra_time

    @property
    def wall_kill_at(self) -> float | None:
        return None if self.wall_time is None else self.wall_time + self.extra_time

    def summary(self) -> dict:
        """The `limits` object of the verdict: only what was set."""
        out = {"time": self.time, "wall_time": self.wall_time, "mem": self.mem,
               "processes": self.processes}
        for key in ("extra_time", "swap", "cpu_shares", "cpus", "fsize", "stack", "address_space"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.open_files != 64:
            out["open_files"] = self.open_files
        if self.quota is not None:
            out["quota"] = list(self.quota)
        return out

    def replace(self, **changes) -> "Limits":
        values = self.as_dict()
        values.update(changes)
        return Limits(**values)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}


# The spec/flag names of the limits and how each one is parsed and bounded
# (None: not given, the default).
LIMIT_PARSERS = {
    "time": lambda v: parse_time(v, "--time"),
    "wall_time": lambda v: parse_time(v, "--wall-time"),
    "extra_time": lambda v: 0.0 if v in (None, 0, "0") else parse_time(v, "--extra-time"),
    "mem": lambda v: _positive_size(v, "--mem"),
    "swap": lambda v: parse_size(v, "--swap") or 0,
    "processes": lambda v: (None if isinstance(v, str) and v.strip().lower() in NO_LIMIT
                            else parse_count(v, "--processes", maximum=MAX_PROCESSES)),
    "cpu_shares": lambda v: parse_count(v, "--cpu-shares", minimum=2, maximum=MAX_CPU_SHARES),
    "cpus": lambda v: parse_time(v, "--cpus", maximum=MAX_CPUS, unit="cores"),
    "fsize": lambda v: _positive_size(v, "--fsize"),
    "stack": lambda v: parse_size(v, "--stack"),
    "open_files": lambda v: 64 if v is None else parse_count(v, "--open-files", minimum=4,
                                                             maximum=MAX_OPEN_FILES),
    "quota": parse_quota,
    "address_space": lambda v: _positive_size(v, "--address-space"),
}


def _positive_size(value, what: str) -> int | None:
    size = parse_size(value, what)
    if size is not None and size <= 0:
        raise UsageError(f"invalid {what}: {value!r} (must be positive)")
    return size


def limits_from(values: dict) -> Limits:
    """Build Limits from flag/spec values (strings or numbers); None = default."""
    unknown = sorted(key for key in values if key not in LIMIT_PARSERS)
    if unknown:
        raise UsageError(f"unknown limit: {unknown[0]!r}")
    return Limits(**{key: value for key, value in values.items() if value is not None})


__all__ = ["Limits", "limits_from", "parse_size", "parse_time", "parse_count", "parse_quota"]
