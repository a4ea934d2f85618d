"""Output equivalence: same lines and words, numbers within tolerance, timing lines ignored."""

from tools.outputs import compare_outputs

SOURCE = "grid 512 x 512, 100 iterations\nchecksum = 1234.567890\nVerification: PASS\nTotal time: 1.52 s\n"


def test_identical_output_is_the_same():
    assert compare_outputs(SOURCE, SOURCE).same


def test_timing_lines_are_masked():
    faster = SOURCE.replace("1.52 s", "0.31 s")
    assert compare_outputs(SOURCE, faster).same
    assert compare_outputs("kernel: 12.5 ms\nok\n", "kernel: 3.1 ms\nok\n").same
    assert compare_outputs("bandwidth 12.1 GB/s\nok\n", "bandwidth 50.3 GB/s\nok\n").same


def test_numbers_within_relative_tolerance_agree():
    assert compare_outputs(SOURCE, SOURCE.replace("1234.567890", "1234.567891")).same


def test_numbers_beyond_tolerance_differ_and_the_reason_says_where():
    check = compare_outputs(SOURCE, SOURCE.replace("1234.567890", "1234.6"))
    assert not check.same and "line 2" in check.reason and "1234.6" in check.reason


def test_tolerance_is_configurable():
    assert compare_outputs("x = 1.00\n", "x = 1.01\n", rtol=0.02).same
    assert not compare_outputs("x = 1.00\n", "x = 1.01\n", rtol=1e-3).same


def test_verdict_words_must_match_exactly():
    check = compare_outputs(SOURCE, SOURCE.replace("PASS", "FAIL"))
    assert not check.same and "'PASS' became 'FAIL'" in check.reason


def test_changed_counts_are_caught():
    assert not compare_outputs("updates: 1048576\n", "updates: 2097152\n").same


def test_missing_or_extra_lines_are_caught():
    assert not compare_outputs(SOURCE, SOURCE.replace("Verification: PASS\n", "")).same
    assert not compare_outputs(SOURCE, SOURCE + "debug: hello\n").same


def test_nan_matches_nan_only():
    assert compare_outputs("r = nan\n", "r = nan\n").same
    assert not compare_outputs("r = nan\n", "r = 0.0\n").same


def test_a_verdict_on_a_masked_timing_line_still_counts():
    source = "result 42\nVerification: PASS (took 1.2 s)\n"
    assert compare_outputs(source, source.replace("1.2", "0.4")).same
    check = compare_outputs(source, source.replace("PASS", "FAIL"))
    assert not check.same and "verdict words differ" in check.reason


def test_verdict_phrases_are_compared_wherever_they_appear():
    assert not compare_outputs("check: no errors\n", "check: 3 errors found\n").same
    assert not compare_outputs("SUCCESS\n", "success\n").same


def test_whole_numbers_count_things_and_must_be_equal():
    big = "updates: 1048576000\n"
    assert not compare_outputs(big, big.replace("1048576000", "1048576001"), rtol=1e-3).same
    assert compare_outputs("x = 1048576000.0\n", "x = 1048576001.0\n", rtol=1e-6).same


def test_extra_mask_patterns_hide_lines_the_defaults_do_not_know():
    from tools.outputs import DEFAULT_MASKS

    source, candidate = "result 42\nran on node-17\n", "result 42\nran on node-03\n"
    assert not compare_outputs(source, candidate).same
    assert compare_outputs(source, candidate, masks=(*DEFAULT_MASKS, r"^ran on ")).same
