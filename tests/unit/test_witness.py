"""The text side of witnesses: their guarded blocks taken out, their lines told from the program's."""

import pytest

from tools.witness import (
    WitnessError,
    describe_witness,
    measured_build_differs,
    outside_blocks_differ,
    remove_blocks,
    split_output,
    strip_witness,
    varied_args,
)

SOURCE = """int main() {
  int sum = compute();
  printf("PASS\\n");
  return 0;
}
"""
WITNESS = """int main() {
  int sum = compute();
  printf("PASS\\n");
#ifdef LASSI_WITNESS
  printf("LASSI-WITNESS sum %d\\n", sum);
#endif
  return 0;
}
"""


def test_a_witness_without_its_blocks_is_the_source():
    assert strip_witness(WITNESS) == (SOURCE, 1)
    assert outside_blocks_differ(SOURCE, WITNESS) == ""


def test_nested_conditionals_stay_inside_their_block_and_an_else_part_is_the_programs():
    code = ("a\n#if defined(LASSI_WITNESS)\n#ifdef _OPENMP\nx\n#endif\ny\n#else\nz\n#endif\nb\n")
    assert strip_witness(code) == ("a\nz\nb\n", 1)


@pytest.mark.parametrize("code, words", [("#ifdef LASSI_WITNESS\nx\n", "never closed"),
                                         ("#ifdef LASSI_WITNESS\nx\n#elif FOO\ny\n#endif\n", "#elif")])
def test_a_block_that_cannot_be_read_is_refused_with_the_reason(code, words):
    with pytest.raises(WitnessError, match=words):
        strip_witness(code)


def test_a_changed_line_outside_the_blocks_is_named():
    changed = WITNESS.replace("int sum = compute();", "long sum = compute(); long trips = 0;")
    why = outside_blocks_differ(SOURCE, changed)
    assert "`int sum = compute();` became `long sum = compute(); long trips = 0;`" in why
    assert "must sit inside a block" in why


def test_a_witness_without_blocks_or_with_blank_lines_moved():
    assert outside_blocks_differ(SOURCE, SOURCE) == "it has no #ifdef LASSI_WITNESS block"
    assert outside_blocks_differ(SOURCE, WITNESS.replace("  return 0;", "\n\n  return 0;   ")) == ""


def test_an_added_line_outside_the_blocks_is_refused():
    added = outside_blocks_differ(SOURCE, WITNESS.replace("  return 0;", "  long trips = 0;\n  return 0;"))
    assert "it adds `long trips = 0;` to the source" in added
    assert "it drops the source's `return 0;`" in outside_blocks_differ(SOURCE, WITNESS.replace("  return 0;\n", ""))


def test_witness_lines_are_told_from_the_programs_own():
    plain, lines = split_output("bench: 10 keys\nLASSI-WITNESS sum 42\nPASS\n  LASSI-WITNESS trips 7\n")
    assert plain == "bench: 10 keys\nPASS\n" and lines == ["LASSI-WITNESS sum 42", "LASSI-WITNESS trips 7"]


@pytest.mark.parametrize("args, varied", [(["10"], ["5"]), (["-n", "1024", "3"], ["-n", "1024", "1"]),
                                          (["1"], ["2"]), (["--fast", "x.dat"], None), ([], None)])
def test_the_varied_arguments_halve_the_last_whole_number(args, varied):
    assert varied_args(args) == varied


def test_remove_blocks_gives_only_the_files_that_had_blocks():
    assert remove_blocks({"main.cpp": WITNESS, "util.h": "int f();\n"}) == {"main.cpp": SOURCE}


def test_a_witness_record_in_words():
    assert describe_witness({"status": "accepted", "reason": "accepted: it prints 2 lines"}).startswith("witness of")
    assert describe_witness({"status": "off", "reason": "switched off"}) == "no witness of the source: switched off"


@pytest.mark.parametrize("code, words", [
    ("#ifndef LASSI_WITNESS\nhalf();\n#endif\n", "names LASSI_WITNESS outside its `#ifdef LASSI_WITNESS` blocks"),
    ("#if LASSI_WITNESS\nfull();\n#endif\n", "names LASSI_WITNESS outside"),
    ("#define ON LASSI_WITNESS\nint n = ON;\n", "names LASSI_WITNESS outside"),
    ("#ifdef LASSI_WITNESS\nfull();\n#else\nhalf();\n#endif\n", "has an #else branch"),
    ("#ifdef LASSI_WITNESS\nw();\n#elifdef X\nhalf();\n#endif\n", "may not have an #elif branch"),
    ("#ifdef LASSI_WITNESS\nw();\n", "never closed"),
])
def test_a_candidate_may_not_let_its_measured_build_differ_from_its_witness_build(code, words):
    assert words in measured_build_differs({"main.cpp": code})


def test_blocks_that_only_add_lines_and_comments_naming_the_macro_are_fine():
    code = "int x;\n// the LASSI_WITNESS blocks stay\n#ifdef LASSI_WITNESS\n#if 1\nw();\n#endif\n#endif\nrest();\n"
    assert measured_build_differs({"main.cpp": code}) == ""


def test_lines_split_at_newlines_only_as_the_compiler_splits_them():
    code = "int x; // note \f#ifdef LASSI_WITNESS\nmain_body();\n// \f#endif\nrest();\n"
    assert strip_witness(code) == (code, 0)
