"""isolate's options as one table, and a getopt_long-style parser for them.

The table is the single description of isolate's command line here: the
parser reads it, and so does the README's option table (a test checks
that every option in it has its row there). Each entry says what rustbox
does with the option:

    SUPPORTED      as isolate's manual says
    DIFFERENT      accepted; rustbox does it another way (the note says how)
    NOT_SUPPORTED  refused with a one-line error and exit 2 (the note says why):
                   a silently ignored option would give a wrong run

The parser follows GNU getopt_long, as isolate does: short options cluster
(`-sv`, `-b5`), a short option's value may be the next word (`-b 5`), long
options take `--name=value` or `--name value`, a long name may be cut to a
unique prefix (`--box=3`), an optional value must be attached (`-p10`,
`--processes=10`), and words that are not options may come anywhere before
`--` (they are the program and its arguments).
"""
from __future__ import annotations

from ..errors import UsageError

SUPPORTED, DIFFERENT, NOT_SUPPORTED = "supported", "different", "not supported"
NONE, REQUIRED, OPTIONAL = "none", "required", "optional"


class Option:
    __slots__ = ("short", "long", "arg", "support", "note", "dest")

    def __init__(self, short: str | None, long: str, arg: str, support: str, note: str = "",
                 dest: str | None = None):
        self.short, self.long, self.arg = short, long, arg
        self.support, self.note = support, note
        self.dest = dest or long.replace("-", "_")


# isolate 2.x's options (isolate.1.txt), then the two isolate 1.10 spells
# that 2.x dropped. The notes are the README's "how"/"why" column.
OPTIONS = (
    # the commands
    Option(None, "init", NONE, SUPPORTED,
           "prints the box's directory (`/var/lib/rustbox/N`, whose `box/` is the box); "
           "an existing box is emptied"),
    Option(None, "run", NONE, SUPPORTED, "runs `-- PROGRAM ARGS...` (see the rest of this table)"),
    Option(None, "cleanup", NONE, SUPPORTED, "removes the box's directory and cgroups"),
    Option(None, "version", NONE, DIFFERENT, "names rustbox-isolate and the isolate version "
           "whose command line it takes"),
    Option(None, "print-cg-root", NONE, DIFFERENT,
           "prints the directory holding rustbox's box cgroups (`.../rustbox`), not isolate's"),
    Option(None, "check-config", NONE, DIFFERENT,
           "there is no configuration file; checks the box root and uid range instead"),
    # basic options
    Option("b", "box-id", REQUIRED, SUPPORTED,
           "the same box as `rustbox --box-id N` (0-999 by default; "
           "`RUSTBOX_NUM_BOXES` raises the count, like isolate's `num_boxes`)"),
    Option("M", "meta", REQUIRED, SUPPORTED, "isolate's keys and statuses; see Meta file below"),
    Option("i", "stdin", REQUIRED, SUPPORTED, "a path inside the box (relative: to /box)"),
    Option("o", "stdout", REQUIRED, SUPPORTED, "a path inside the box (relative: to /box)"),
    Option("r", "stderr", REQUIRED, SUPPORTED, "a path inside the box; cancels --stderr-to-stdout"),
    Option(None, "stderr-to-stdout", NONE, SUPPORTED, "cancels -r"),
    Option("c", "chdir", REQUIRED, SUPPORTED, "a directory inside the box, entered after "
           "the redirections are opened (as isolate does)"),
    Option("v", "verbose", NONE, DIFFERENT, "prints the box and what the run was asked, once"),
    Option("s", "silent", NONE, SUPPORTED, "no status line on stderr (sandbox errors still are)"),
    Option(None, "wait", NONE, SUPPORTED, "waits for a busy box instead of failing"),
    # limits
    Option("m", "mem", REQUIRED, SUPPORTED,
           "KiB of address space of each process (RLIMIT_AS); with --cg-mem both hold"),
    Option("t", "time", REQUIRED, SUPPORTED, "CPU seconds of the whole box (cgroup), "
           "also without --cg"),
    Option("w", "wall-time", REQUIRED, SUPPORTED, "no wall limit unless given"),
    Option("x", "extra-time", REQUIRED, SUPPORTED,
           "as isolate's: the kill comes once the CPU time passes both -t and -x "
           "(`-t 5 -x 1` kills at 5 s); the wall limit gets the same grace"),
    Option("k", "stack", REQUIRED, SUPPORTED, "KiB"),
    Option("n", "open-files", REQUIRED, SUPPORTED,
           "default 1024; 0: as many as the host's hard limit allows"),
    Option("f", "fsize", REQUIRED, SUPPORTED, "KiB; going past it is `SG` with `exitsig:25`"),
    Option("q", "quota", REQUIRED, DIFFERENT,
           "BLOCKS,INODES; /box becomes a tmpfs of that size (any file system, no quota "
           "support needed); given at --init it holds for every run of the box"),
    Option(None, "core", REQUIRED, DIFFERENT,
           "only 0 (the default): a box never writes core files"),
    Option("p", "processes", OPTIONAL, SUPPORTED,
           "-p alone: no limit; default 1; counted by the cgroup, also without --cg"),
    # environment rules
    Option("E", "env", REQUIRED, SUPPORTED,
           "VAR inherits, VAR=VALUE sets, VAR= removes; starts from `LIBC_FATAL_STDERR_=1` "
           "only, as isolate"),
    Option("e", "full-env", NONE, SUPPORTED, "applied before the -E rules"),
    # directory rules
    Option("d", "dir", REQUIRED, DIFFERENT,
           "IN=OUT, DIR, IN= and the options rw, noexec, maybe, tmp, norec, fs (tmpfs only); "
           "binds are never recursive; host paths that expose the host (/proc, /sys, /dev, "
           "/root, /run, the box root...) are refused; options dev and fs=proc|sysfs|devpts "
           "are refused: a box sees no host device and no host kernel interface"),
    Option("D", "no-default-dirs", NONE, DIFFERENT,
           "drops the default rules; /box, /proc and /dev (null, zero, urandom) are always "
           "there"),
    # control groups
    Option(None, "cg", NONE, DIFFERENT,
           "rustbox always runs a box in its cgroups; --cg adds `cg-mem` and `cg-oom-killed` "
           "to the meta file (as isolate does) and allows --cg-mem"),
    Option(None, "cg-mem", REQUIRED, SUPPORTED, "KiB, the whole box (needs --cg, as isolate)"),
    Option(None, "cg-timing", NONE, DIFFERENT,
           "isolate 1.10: accepted; time is always the whole box's (cgroup)"),
    Option(None, "no-cg-timing", NONE, DIFFERENT,
           "isolate 1.10: accepted; time is always the whole box's (cgroup)"),
    # special options
    Option(None, "share-net", NONE, SUPPORTED, ""),
    Option(None, "inherit-fds", NONE, NOT_SUPPORTED,
           "the program gets fds 0-2 only: a supervisor fd reaching it would share the "
           "verdict channel; pass data through files or FIFOs in the box"),
    Option(None, "tty-hack", NONE, NOT_SUPPORTED,
           "a program holding the terminal could push input to the caller's shell (TIOCSTI)"),
    Option(None, "special-files", NONE, NOT_SUPPORTED,
           "a box keeps no symlink, FIFO, socket or device a run made (as isolate's default): "
           "the caller reads the box as root"),
    Option(None, "syscalls", REQUIRED, DIFFERENT,
           "accepted and ignored: rustbox's `default` seccomp policy always blocks keyctl, "
           "io_uring and non-native calls (isolate's flags 1, 8, 16); AF_VSOCK sockets and "
           "file locks (flags 2, 4) are not blocked"),
    Option(None, "as-uid", REQUIRED, NOT_SUPPORTED,
           "rustbox-isolate runs as root (it is not setuid); the box belongs to the box uid"),
    Option(None, "as-gid", REQUIRED, NOT_SUPPORTED,
           "rustbox-isolate runs as root (it is not setuid); the box belongs to the box uid"),
)

BY_LONG = {option.long: option for option in OPTIONS}
BY_SHORT = {option.short: option for option in OPTIONS if option.short}
COMMANDS = ("init", "run", "cleanup", "version", "print-cg-root", "check-config")


def _long_option(name: str) -> Option:
    if name in BY_LONG:
        return BY_LONG[name]
    matches = [option for long, option in BY_LONG.items() if long.startswith(name)]
    if len(matches) == 1 and name:
        return matches[0]
    if matches:
        names = ", ".join("--" + option.long for option in matches)
        raise UsageError(f"option '--{name}' is ambiguous; possibilities: {names}")
    raise UsageError(f"unrecognized option '--{name}'")


def parse(argv: list[str]) -> tuple[list[tuple[Option, str | None]], list[str]]:
    """isolate's arguments -> ([(option, value or None)...] in order, operands)."""
    found: list[tuple[Option, str | None]] = []
    operands: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            operands.extend(argv[i:])
            break
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            option = _long_option(name)
            if option.arg == NONE:
                if eq:
                    raise UsageError(f"option '--{option.long}' doesn't allow an argument")
                found.append((option, None))
            elif option.arg == OPTIONAL:
                found.append((option, value if eq else None))
            elif eq:
                found.append((option, value))
            elif i < len(argv):
                found.append((option, argv[i]))
                i += 1
            else:
                raise UsageError(f"option '--{option.long}' requires an argument")
            continue
        if word.startswith("-") and word != "-":
            letters = word[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                option = BY_SHORT.get(letter)
                if option is None:
                    raise UsageError(f"invalid option -- '{letter}'")
                if option.arg == NONE:
                    found.append((option, None))
                    continue
                if letters:
                    found.append((option, letters))
                elif option.arg == OPTIONAL:
                    found.append((option, None))
                elif i < len(argv):
                    found.append((option, argv[i]))
                    i += 1
                else:
                    raise UsageError(f"option requires an argument -- '{letter}'")
                letters = ""
            continue
        operands.append(word)
    return found, operands


__all__ = ["OPTIONS", "Option", "parse", "SUPPORTED", "DIFFERENT", "NOT_SUPPORTED", "COMMANDS"]
