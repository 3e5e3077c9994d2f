"""Languages as data: the table, detection, expansion and user overrides."""
from pathlib import Path

import pytest

from judge.errors import LanguageError
from judge.languages import load_languages
from rustbox.mounts import DirRule


def test_builtin_languages():
    table = load_languages()
    assert {"c", "cpp", "python3", "java", "rust", "javascript"} <= set(table.languages)
    cpp = table.get("c++")
    assert "-O2" in cpp.compile and "-std=gnu++20" in cpp.compile


@pytest.mark.parametrize("name, lang", [("a.c", "c"), ("a.cpp", "cpp"), ("a.cc", "cpp"), ("a.py", "python3"),
                                        ("Main.java", "java"), ("a.rs", "rust"), ("a.js", "javascript")])
def test_detection_by_ending(tmp_path, name, lang):
    path = tmp_path / name
    path.write_text("")
    assert load_languages().detect(path).id == lang


def test_unknown_ending_and_unknown_language(tmp_path):
    path = tmp_path / "a.cob"
    path.write_text("")
    with pytest.raises(LanguageError, match="--lang"):
        load_languages().detect(path)
    with pytest.raises(LanguageError, match="unknown language 'cobol'"):
        load_languages().get("cobol")


def test_expansion_and_probe():
    table = load_languages()
    java = table.get("java")
    argv = table.expand(java, java.run, {"program_dir": "/prog", "memory_mib": 256, "stem": "Sum",
                                         "java_main": "Sum", "source": "Sum.java", "sources": ["Sum.java"]})
    assert "-Xmx256m" in argv and argv[-1] == "Sum" and "/prog" in argv
    rust = table.get("rust")
    (mount,) = table.mounts(rust, rust.compile_dirs, {})
    assert mount.inside == "/opt/rust" and Path(mount.host, "bin", "rustc").exists()


def test_user_file_overrides_and_adds(tmp_path):
    extra = tmp_path / "more.toml"
    extra.write_text('[language.cpp]\ncompile = ["/usr/bin/g++", "-O0", "-o", "main", "{sources}"]\n'
                     '[language.awk]\nname = "AWK"\nextensions = ["awk"]\nrun = ["/usr/bin/awk", "-f", "{source}"]\n')
    table = load_languages(extra)
    assert table.get("cpp").compile[1] == "-O0" and table.get("cpp").name == "C++"
    assert table.get("awk").compile is None


def test_bad_user_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[language.x\n")
    with pytest.raises(LanguageError, match="bad TOML"):
        load_languages(bad)
    bad.write_text('[language.x]\nname = "X"\n')
    with pytest.raises(LanguageError, match="missing 'extensions'"):
        load_languages(bad)
    with pytest.raises(LanguageError, match="cannot read"):
        load_languages(tmp_path / "none.toml")


def test_mount_rules_are_rustbox_dir_rules():
    """A language's directory rules are parsed by rustbox's --dir parser:
    the same grammar, the same :force guard on the host's secrets."""
    table = load_languages()
    lang = table.get("python3")
    assert table.mounts(lang, ["/a"], {}) == [DirRule.parse("/a")]
    (rule,) = table.mounts(lang, ["/a:/b:rw"], {})
    assert (rule.host, rule.inside, rule.mode) == ("/a", "/b", "rw")
    (rule,) = table.mounts(lang, ["/a:/b:noexec"], {})
    assert rule.noexec and rule.mode == "ro"
    for bad in ("/a:/b:bogus", "relative", "/etc/shadow", "/var/lib/rustbox/box-1:/x"):
        with pytest.raises(LanguageError):
            table.mounts(lang, [bad], {})
    (rule,) = table.mounts(lang, ["/etc/shadow:/s:force"], {})
    assert rule.host == "/etc/shadow"


def test_entry_point_of_a_directory():
    lang = load_languages().get("python3")
    assert lang.entry_point(["util.py", "main.py"]) == "main.py"
    assert lang.entry_point(["b.py", "a.py"]) == "a.py"
    with pytest.raises(LanguageError):
        lang.entry_point(["x.txt"])
