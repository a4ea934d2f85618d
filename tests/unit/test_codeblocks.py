"""Extracting the program from a model's answer."""

from tools.llm.codeblocks import extract_code


def test_takes_the_block_tagged_for_the_language():
    text = "Plan:\n```bash\nmake\n```\nCode:\n```cuda\n__global__ void k() {}\nint main() {}\n```\n"
    assert extract_code(text, "cuda") == "__global__ void k() {}\nint main() {}\n"


def test_takes_the_longest_of_several_blocks():
    text = "```cpp\nint x;\n```\n```cpp\nint main() { return 0; }\n```"
    assert extract_code(text, "cpp") == "int main() { return 0; }\n"


def test_untagged_blocks_count():
    assert extract_code("```\nint main() {}\n```", "cpp") == "int main() {}\n"


def test_an_answer_cut_off_inside_its_block_still_yields_the_code():
    assert extract_code("Here you go:\n```cpp\nint main() {\n  return 0;\n", "cpp") == "int main() {\n  return 0;\n"


def test_no_block_means_no_code():
    assert extract_code("I would move the copy out of the loop.", "cuda") is None


def test_a_block_in_another_language_is_not_code_for_this_one():
    assert extract_code("```python\nprint(1)\n```", "cpp") is None
