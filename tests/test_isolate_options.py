"""rustbox-isolate's command line: the getopt_long parser, isolate's units
and rules, and the README's table of every option (no root needed)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rustbox.errors import UsageError
from rustbox.isolate import command, options
from rustbox.mounts import DirRule

README = Path(__file__).resolve().parent.parent / "README.md"


def parsed(*argv):
    found, operands = options.parse(list(argv))
    return [(option.long, value) for option, value in found], operands


def test_getopt_long_spellings():
    assert parsed("-b5", "-b", "6", "--box-id=7", "--box-id", "8", "--box=9", "--run") == (
        [("box-id", "5"), ("box-id", "6"), ("box-id", "7"), ("box-id", "8"), ("box-id", "9"),
         ("run", None)], [])
    # a cluster; an optional value only attached; words before -- are operands
    assert parsed("-sv", "-p", "-p10", "--processes=3", "x", "--run", "--", "-t", "1") == (
        [("silent", None), ("verbose", None), ("processes", None), ("processes", "10"),
         ("processes", "3"), ("run", None)], ["x", "-t", "1"])


@pytest.mark.parametrize("argv,message", [
    (["--bogus"], "unrecognized option '--bogus'"),
    (["--c"], "ambiguous"),
    (["-Z"], "invalid option -- 'Z'"),
    (["-b"], "requires an argument"),
    (["--init=1"], "doesn't allow an argument"),
])
def test_bad_options_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        options.parse(argv)


def request(*argv):
    return command.read([*argv, "--run", "--", "/bin/true"]).request


def test_isolate_units_and_defaults():
    r = request("-t", "1.5", "-m", "65536", "-k", "8192", "-f", "1024")
    assert r["time"] == 1.5 and r["address_space"] == 64 << 20 and r["stack"] == 8 << 20
    assert "mem" not in r                                     # -m is not the cgroup's
    assert r["fsize"] == 1 << 20
    assert r["wall_time"] == command.NO_WALL_LIMIT           # no wall limit unless given
    assert r["open_files"] == 1024 and "processes" not in r   # isolate's 1024; one process
    assert request("-w", "3")["wall_time"] == 3.0
    # -x is isolate's kill point, not a grace added to -t
    assert "extra_time" not in request("-t", "5", "-x", "1")
    assert request("-t", "1", "-x", "1.5")["extra_time"] == 0.5
    assert request("-p")["processes"] == "unlimited" and request("-p0")["processes"] == "unlimited"
    assert request("--processes=7")["processes"] == 7
    assert "time" not in request("-t", "0")          # isolate: 0 is no limit
    both = request("--cg", "--cg-mem=1000", "-m", "2000")
    assert both["mem"] == 1000 * 1024 and both["address_space"] == 2000 * 1024


def test_cg_mem_needs_cg_and_one_command_only():
    with pytest.raises(UsageError, match="require --cg"):
        command.read(["--cg-mem=1000", "--run", "--", "/bin/true"])
    with pytest.raises(UsageError, match="only one command"):
        command.read(["--init", "--cleanup"])
    with pytest.raises(UsageError, match="requires a command"):
        command.read(["--run"])
    with pytest.raises(UsageError, match="takes no parameters"):
        command.read(["--init", "extra"])


@pytest.mark.parametrize("flag", ["--inherit-fds", "--tty-hack", "--special-files",
                                  "--as-uid=1000", "--core=100"])
def test_unsupported_options_are_refused_not_ignored(flag):
    with pytest.raises(UsageError, match="not supported"):
        command.read([flag, "--run", "--", "/bin/true"])


def test_environment_rules_in_order(monkeypatch):
    monkeypatch.setenv("KEEP", "k")
    monkeypatch.setenv("DROP", "d")
    env = request("-E", "KEEP", "-E", "SET=1", "-E", "UNSET_HERE", "-E", "SET=2")["env"]
    assert env == {"LIBC_FATAL_STDERR_": "1", "KEEP": "k", "SET": "2", "PATH": None}
    env = request("-e", "-E", "DROP=", "-E", "PATH=/x")["env"]
    assert "DROP" not in env and env["KEEP"] == "k" and env["PATH"] == "/x"


def test_directory_rules():
    rules = {r.inside: r for r in request("-d", "/etc:noexec", "-d", "opt=/usr/share:rw:maybe",
                                          "-d", "/dev/shm:tmp", "-d", "usr=", "-d", "work:tmp")["dir"]}
    assert rules["/etc"] == DirRule("/etc", "/etc", "ro", True, False, False)
    assert rules["/opt"] == DirRule("/opt", "/usr/share", "rw", False, False, True)
    assert rules["/dev/shm"].tmpfs and rules["/work"].tmpfs and rules["/tmp"].tmpfs
    assert "/usr" not in rules and "/bin" in rules
    assert [r.inside for r in request("-D", "-d", "box=./box:rw")["dir"]] == []


@pytest.mark.parametrize("rule,message", [
    ("/dev:dev", "'dev' is not supported"),
    ("proc=proc:fs", "only fs=tmpfs"),
    ("/x=relative", "must start with '/' or './'"),
    ("x=/y:tmp", "do not have a right-hand side"),
    ("/box=/srv", "always the box's own"),
    ("/x=/proc", "exposes the host's /proc"),
    ("/x:bogus", "unknown option"),
])
def test_bad_directory_rules(rule, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        request("-d", rule)


def test_readme_table_has_every_option():
    text = README.read_text()
    section = text[text.index("### Every isolate option"):]
    section = section[:section.index("\n### ", 1)]
    for option in options.OPTIONS:
        row = [line for line in section.splitlines() if f"`--{option.long}" in line]
        assert row, f"--{option.long} has no row in the README's table"
        assert f"| {option.support} |" in row[0], row[0]


def test_num_boxes_moves_the_box_id_range(monkeypatch):
    """CMS numbers its workers' boxes from 1000 (up to 65999): RUSTBOX_NUM_BOXES,
    like isolate's num_boxes, opens that range; the uid range is checked."""
    from rustbox.box import check_box_id, first_uid
    with pytest.raises(UsageError, match="RUSTBOX_NUM_BOXES raises"):
        check_box_id(1000)
    monkeypatch.setenv("RUSTBOX_NUM_BOXES", "66000")
    assert check_box_id(65999) == 65999 and first_uid() == 61000
    with pytest.raises(UsageError, match="expected 0-65999"):
        check_box_id(66000)
    monkeypatch.setenv("RUSTBOX_FIRST_UID", str((1 << 32) - 60000))  # would reach 2**32-1
    with pytest.raises(UsageError, match="must lie within"):
        first_uid()
    monkeypatch.delenv("RUSTBOX_FIRST_UID")
    monkeypatch.setenv("RUSTBOX_NUM_BOXES", "0")
    with pytest.raises(UsageError, match="invalid RUSTBOX_NUM_BOXES"):
        check_box_id(0)
