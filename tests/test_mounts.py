"""Directory rules: parsing, the refusal of sensitive paths, merging."""
import pytest

from rustbox.errors import UsageError
from rustbox.mounts import DirRule, default_rules, merge_rules


def test_host_only_rule_is_read_only_at_the_same_path():
    rule = DirRule.parse("/opt/jdk")
    assert (rule.inside, rule.host, rule.mode, rule.noexec) == ("/opt/jdk", "/opt/jdk", "ro", False)


def test_inside_path_and_options():
    rule = DirRule.parse("/srv/data:/data:rw:noexec")
    assert (rule.inside, rule.host, rule.mode, rule.noexec) == ("/data", "/srv/data", "rw", True)


@pytest.mark.parametrize("text", ["/etc/shadow", "/root", "/proc", "/sys/kernel", "/",
                                  "/var/lib/rustbox/1/box", "/opt:/proc", "/opt:/dev/x"])
def test_sensitive_paths_need_force(text):
    with pytest.raises(UsageError, match="force"):
        DirRule.parse(text)
    assert DirRule.parse(text + ":force")


@pytest.mark.parametrize("text", ["relative", "/a:b", "/a:/b:rw:ro", ":/x"])
def test_malformed_rules(text):
    with pytest.raises(UsageError):
        DirRule.parse(text)


def test_extra_rules_override_defaults_by_inside_path():
    rules = merge_rules(default_rules(), [DirRule.parse("/srv:/etc")])
    etc = [r for r in rules if r.inside == "/etc"]
    assert len(etc) == 1 and etc[0].host == "/srv"
    assert rules.index(etc[0]) < len(rules)


def test_defaults_are_read_only_but_tmp():
    for rule in default_rules():
        assert rule.mode == ("rw" if rule.inside == "/tmp" else "ro")
