"""judge/hostpaths.py: which host paths a message loses, and what it keeps."""
from __future__ import annotations

import os

from judge.hostpaths import HostPaths


def test_the_judges_own_places_become_what_the_program_sees(tmp_path):
    scrub = HostPaths(rustbox_root="/var/lib/rustbox", temp_dir="/tmp").add_cache(tmp_path / "cache")
    text = ("/tmp/judge-k2j_x9/build /prog | /var/lib/rustbox/812/box /box | "
            f"{tmp_path}/cache/0123abcd /prog | /tmp/judge-42-abc/a.py: no such file | "
            "/var/lib/rustbox/812/lock")
    assert scrub(text) == ("/prog /prog | /box /box | /prog /prog | <tmp>/a.py: no such file | "
                           "<rustbox>/812/lock")


def test_added_paths_win_longest_first_and_match_whole_names_only(tmp_path):
    package = tmp_path / "pkg"
    scrub = HostPaths(rustbox_root="/nowhere", temp_dir="/nowhere").add(package, "aplusb") \
        .add(package / "data", "DATA").add(f"{tmp_path}/w{os.sep}", "")
    assert scrub(f"{package}/data/1.in {package}/x {package}x {tmp_path}/w/sum.c") == \
        f"DATA/1.in aplusb/x {package}x sum.c"


def test_a_resolved_spelling_is_found_too(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    scrub = HostPaths(rustbox_root="/nowhere", temp_dir="/nowhere").add(tmp_path / "link", "P")
    assert scrub(f"{real}/f and {tmp_path}/link/f") == "P/f and P/f"


def test_text_without_host_paths_is_unchanged():
    scrub = HostPaths()
    text = "line 3 of the output: expected '3', got '4' (/box/output, /prog/main.py)"
    assert scrub(text) == text and scrub("") == ""
