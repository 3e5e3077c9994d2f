"""The default output validator: one test per flag and per edge case."""
import pytest

from judge.validators import DefaultValidatorFlags, FlagError, compare, parse_flags, parse_float

PLAIN = DefaultValidatorFlags()


def ok(output, answer, *flags):
    return compare(output, answer, parse_flags(flags)).accepted


# ---- tokens and whitespace (no flags) ------------------------------------

def test_identical_output_is_accepted():
    assert ok(b"1 2 3\n", b"1 2 3\n")


def test_trailing_whitespace_is_ignored_by_default():
    assert ok(b"42   \n\n\n", b"42\n")
    assert ok(b"42", b"42\n")


def test_leading_whitespace_and_line_breaks_are_ignored_by_default():
    assert ok(b"  1\n2\t3\r\n", b"1 2 3\n")


def test_all_six_whitespace_bytes_separate_tokens():
    assert ok(b"a\tb\nc\vd\fe\rf g", b"a b c d e f g")


def test_other_bytes_are_not_whitespace():
    # A non-breaking space (UTF-8 C2 A0) is part of a token.
    assert not ok("1\u00a02".encode(), b"1 2")


def test_wrong_token_is_rejected_with_its_line():
    verdict = compare(b"1\n2\n4\n", b"1\n2\n3\n")
    assert not verdict.accepted
    assert "line 3" in verdict.message and "'3'" in verdict.message and "'4'" in verdict.message


def test_empty_output_against_nonempty_answer_is_rejected():
    verdict = compare(b"", b"7\n")
    assert not verdict.accepted
    assert "empty output" in verdict.message


def test_whitespace_only_output_is_empty():
    assert not ok(b" \n\n", b"7\n")


def test_empty_output_against_empty_answer_is_accepted():
    assert ok(b"", b"")
    assert ok(b"\n", b"")


def test_output_longer_than_answer_is_rejected():
    verdict = compare(b"1 2 3\n", b"1 2\n")
    assert not verdict.accepted
    assert "more output than the answer" in verdict.message


def test_output_shorter_than_answer_is_rejected():
    verdict = compare(b"1\n", b"1 2\n")
    assert not verdict.accepted
    assert "ends early" in verdict.message


def test_tokens_must_not_be_glued_or_split():
    assert not ok(b"12", b"1 2")
    assert not ok(b"1 2", b"12")


# ---- case_sensitive ------------------------------------------------------

def test_case_is_ignored_by_default():
    assert ok(b"YES\n", b"yes\n")
    assert ok(b"Impossible", b"iMPOSSIBLE")


def test_case_folding_is_ascii_only():
    # Non-ASCII letters are compared as bytes even without case_sensitive.
    assert not ok("É".encode(), "é".encode())


def test_case_sensitive_rejects_other_case():
    assert not ok(b"YES\n", b"yes\n", "case_sensitive")
    assert ok(b"yes\n", b"yes\n", "case_sensitive")


# ---- space_change_sensitive ----------------------------------------------

def test_space_change_sensitive_rejects_extra_spaces():
    assert not ok(b"1  2\n", b"1 2\n", "space_change_sensitive")


def test_space_change_sensitive_rejects_missing_trailing_newline():
    verdict = compare(b"1 2", b"1 2\n", parse_flags(["space_change_sensitive"]))
    assert not verdict.accepted


def test_space_change_sensitive_rejects_trailing_whitespace():
    assert not ok(b"1 2 \n", b"1 2\n", "space_change_sensitive")


def test_space_change_sensitive_rejects_other_kind_of_space():
    assert not ok(b"1\t2\n", b"1 2\n", "space_change_sensitive")
    assert not ok(b"1 2\r\n", b"1 2\n", "space_change_sensitive")


def test_space_change_sensitive_accepts_exact_spacing():
    assert ok(b" 1  2\n\n", b" 1  2\n\n", "space_change_sensitive")


def test_space_change_sensitive_still_folds_case():
    assert ok(b"Yes\n", b"yes\n", "space_change_sensitive")
    assert not ok(b"Yes\n", b"yes\n", "space_change_sensitive", "case_sensitive")


def test_space_change_sensitive_with_longer_output():
    assert not ok(b"1 2\n3\n", b"1 2\n", "space_change_sensitive")


# ---- floats: only with a tolerance ---------------------------------------

def test_floats_are_strings_without_a_tolerance():
    assert not ok(b"1.0", b"1")
    assert not ok(b"0.000001", b"1e-6")
    assert ok(b"1.50", b"1.50")


def test_scientific_notation_matches_decimal_under_a_tolerance():
    assert ok(b"1e-6", b"0.000001", "float_tolerance", "1e-9")
    assert ok(b"0.000001", b"1e-6", "float_absolute_tolerance", "0")
    assert ok(b"3.14000000e-2", b"0.0314", "float_relative_tolerance", "1e-9")


def test_absolute_tolerance():
    assert ok(b"1.0000009", b"1", "float_absolute_tolerance", "1e-6")
    assert not ok(b"1.0000011", b"1", "float_absolute_tolerance", "1e-6")
    # Absolute only: a big value does not get a relative allowance.
    assert not ok(b"1000000.5", b"1000000", "float_absolute_tolerance", "1e-6")


def test_relative_tolerance():
    assert ok(b"1000000.5", b"1000000", "float_relative_tolerance", "1e-6")
    assert not ok(b"1000001.5", b"1000000", "float_relative_tolerance", "1e-6")
    # Relative only: near zero nothing but the exact value passes.
    assert not ok(b"0.0000001", b"0", "float_relative_tolerance", "1e-6")
    assert ok(b"0.0", b"0", "float_relative_tolerance", "1e-6")


def test_float_tolerance_is_both_and_either_accepts():
    assert ok(b"1000000.5", b"1000000", "float_tolerance", "1e-6")     # relative saves it
    assert ok(b"0.0000001", b"0", "float_tolerance", "1e-6")           # absolute saves it
    assert not ok(b"1000002", b"1000000", "float_tolerance", "1e-6")


def test_both_tolerances_given_separately_either_accepts():
    flags = ("float_absolute_tolerance", "1e-3", "float_relative_tolerance", "1e-9")
    assert ok(b"5.0009", b"5", *flags)
    assert ok(b"1e12", b"1000000000000.5", *flags)
    assert not ok(b"5.01", b"5", *flags)


def test_tolerance_boundary_is_inclusive():
    assert ok(b"1.5", b"1", "float_absolute_tolerance", "0.5")


def test_non_number_where_a_number_is_expected():
    verdict = compare(b"abc", b"1.5", parse_flags(["float_tolerance", "1e-6"]))
    assert not verdict.accepted and "number" in verdict.message


def test_non_number_answer_tokens_stay_strings_under_a_tolerance():
    assert ok(b"Case #1: 2.0000001", b"case #1: 2", "float_tolerance", "1e-6")
    assert not ok(b"Case #2: 2", b"Case #1: 2", "float_tolerance", "1e-6")


def test_integers_are_compared_as_floats_under_a_tolerance():
    assert ok(b"3.0000000001", b"3", "float_tolerance", "1e-6")


def test_inf_tokens():
    assert ok(b"inf", b"inf")                                            # as strings
    assert ok(b"INF", b"inf")                                            # case folded
    assert ok(b"inf", b"inf", "float_tolerance", "1e-6")                 # equal values
    assert ok(b"Infinity", b"inf", "float_tolerance", "1e-6")
    assert not ok(b"-inf", b"inf", "float_tolerance", "1e-6")
    assert not ok(b"1e308", b"inf", "float_tolerance", "1e-6")           # inf*eps does not help
    assert not ok(b"inf", b"1e308", "float_tolerance", "1e-6")


def test_nan_tokens():
    assert ok(b"nan", b"NaN")                                            # as strings, case folded
    assert ok(b"nan", b"nan", "float_tolerance", "1e-6")                 # nan only matches nan
    assert not ok(b"0", b"nan", "float_tolerance", "1e-6")
    assert not ok(b"nan", b"0", "float_tolerance", "1e-6")


def test_float_parsing_is_strict():
    assert parse_float(b"1.5") == 1.5 and parse_float(b"-.5") == -0.5 and parse_float(b"5.") == 5.0
    assert parse_float(b"+1E+3") == 1000.0 and parse_float(b"0x1.8p1") == 3.0
    for token in (b"1_000", b"1,5", b"0x10", b"e5", b"1e", b"--1", b"infinit", b"1.2.3"):
        assert parse_float(token) is None, token


# ---- flag parsing --------------------------------------------------------

def test_flags_parse():
    flags = parse_flags(["case_sensitive", "float_relative_tolerance", "1e-4", "space_change_sensitive"])
    assert flags == DefaultValidatorFlags(True, True, None, 1e-4)
    assert parse_flags(["float_tolerance", "0.5"]) == DefaultValidatorFlags(False, False, 0.5, 0.5)


@pytest.mark.parametrize("args", [
    ["float_tolerance"], ["float_tolerance", "x"], ["float_tolerance", "-1"], ["bogus"],
    ["float_tolerance", "1", "float_absolute_tolerance", "1"],
    ["float_absolute_tolerance", "1", "float_absolute_tolerance", "2"],
])
def test_bad_flags(args):
    with pytest.raises(FlagError):
        parse_flags(args)


def test_large_output_fast_path_and_message():
    answer = b"\n".join(str(i).encode() for i in range(200000)) + b"\n"
    assert compare(answer.replace(b"\n", b" "), answer, PLAIN).accepted
    wrong = answer.replace(b"\n199999\n", b"\n199998\n")
    verdict = compare(wrong, answer, PLAIN)
    assert not verdict.accepted and "line 200000" in verdict.message
