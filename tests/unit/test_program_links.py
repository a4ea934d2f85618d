"""Program folders and workspace copies never follow a link out of the folder; sparse files stay sparse."""

from __future__ import annotations

import os

import pytest

from tools.errors import LassiError
from tools.program import check_size, copy_within, load_program, stage_workspace

MAIN = "int main() { return 0; }\n"


@pytest.fixture
def folder(tmp_path):
    prog = tmp_path / "prog"
    prog.mkdir()
    (prog / "main.cpp").write_text(MAIN)
    (prog / "data.txt").write_text("inside")
    (tmp_path / "outside.txt").write_text("outside")
    return prog


def test_a_link_to_a_file_outside_the_program_folder_is_refused_naming_the_setting(folder):
    (folder / "input.txt").symlink_to(folder.parent / "outside.txt")
    with pytest.raises(LassiError) as caught:
        check_size(load_program(folder))
    assert "input.txt is a link to" in str(caught.value) and caught.value.setting == "follow_links"


def test_a_link_that_climbs_out_through_dot_dot_is_refused_too(folder):
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("../../outside.txt")
    with pytest.raises(LassiError, match="outside the program folder"):
        check_size(load_program(folder))


def test_when_the_user_says_so_an_outside_link_is_copied_as_the_file_it_names(folder, tmp_path):
    (folder / "input.txt").symlink_to(folder.parent / "outside.txt")
    check_size(load_program(folder), follow_links=True)
    stage_workspace(load_program(folder), tmp_path / "work", {"main.cpp": MAIN}, follow_links=True)
    copied = tmp_path / "work" / "input.txt"
    assert not copied.is_symlink() and copied.read_text() == "outside"


def test_a_link_inside_the_folder_stays_a_link(folder, tmp_path):
    (folder / "alias.txt").symlink_to("data.txt")
    check_size(load_program(folder))
    stage_workspace(load_program(folder), tmp_path / "work", {"main.cpp": MAIN})
    assert os.readlink(tmp_path / "work" / "alias.txt") == "data.txt"


def test_a_copy_leaves_out_links_to_outside_and_to_nothing_and_says_which(folder, tmp_path):
    (folder / "loot").symlink_to("/etc")
    (folder / "dangling").symlink_to("/nonexistent/lassi")
    left_out = copy_within(folder, tmp_path / "copy")
    assert sorted(p.name for p in left_out) == ["dangling", "loot"]
    assert sorted(os.listdir(tmp_path / "copy")) == ["data.txt", "main.cpp"]


def test_a_sparse_data_file_stays_sparse_in_every_workspace(folder, tmp_path):
    with open(folder / "big.bin", "wb") as f:
        f.seek(512 * 1024 * 1024)
        f.write(b"end")
    if os.stat(folder / "big.bin").st_blocks * 512 > 1024 * 1024:
        pytest.skip("this filesystem does not keep holes")
    stage_workspace(load_program(folder), tmp_path / "work", {"main.cpp": MAIN})
    copied = tmp_path / "work" / "big.bin"
    assert copied.stat().st_size == 512 * 1024 * 1024 + 3 and copied.stat().st_blocks * 512 <= 1024 * 1024
    with open(copied, "rb") as f:
        f.seek(512 * 1024 * 1024 - 2)
        assert f.read() == b"\0\0end"
