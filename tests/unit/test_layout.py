"""The house's floors: which package may import which, and every setting on every face from one declaration."""

from __future__ import annotations

import ast

import pytest

from graph.context import Context, settings
from tests.helpers import ROOT


def imports_of(package: str) -> dict[str, set[str]]:
    """Module path -> the top-level names (and dotted prefixes) it imports, for every module of `package`."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}" for module, names in imports_of(package).items() for name in sorted(names)
            if name.split(".")[0] in forbidden]


def test_nodes_never_import_a_face():
    assert offenders("nodes", ("app",)) == []


def test_the_graph_core_never_imports_a_face():
    assert offenders("graph", ("app",)) == []


def test_faces_never_import_nodes():
    assert offenders("app", ("nodes",)) == []


def test_tools_import_neither_langgraph_nor_the_graph_nor_its_nodes_nor_its_faces():
    assert offenders("tools", ("langgraph", "graph", "nodes", "app")) == []


def test_only_the_builder_of_the_graph_core_knows_the_nodes():
    knows = [line for line in offenders("graph", ("nodes",)) if not line.startswith("graph/builder.py")]
    assert knows == []


def test_the_layout_test_sees_every_package():
    """A walk that found nothing would pass every rule above."""
    for package in ("app", "graph", "nodes", "tools"):
        assert len(imports_of(package)) >= 3, package


# One declaration, every face.

OFFERED = [s for s in settings() if "optimize" in s.commands]


def test_every_setting_has_a_description():
    assert [s.name for s in settings() if len(s.description) < 10] == []


@pytest.mark.parametrize("declared", OFFERED, ids=lambda s: f"setting:{s.name}")
def test_every_optimize_setting_is_a_cli_option(declared):
    from app.cli import _parser

    optimize = _parser()._subparsers._group_actions[0].choices["optimize"]
    options = {option for action in optimize._actions for option in action.option_strings}
    assert f"--{declared.face}" in options


def test_resume_s_options_say_the_run_s_own_record_is_their_default():
    from app.cli import _parser

    resume = _parser()._subparsers._group_actions[0].choices["resume"]
    helps = {action.dest: action.help for action in resume._actions if action.option_strings}
    assert helps["model"].endswith("(default: as the run recorded it)") and "LASSI_MODEL" not in helps["model"]
    assert helps["base_url"].endswith("(default: as the run recorded it)") and "OPENAI_BASE_URL" not in helps["base_url"]


@pytest.mark.parametrize("declared", OFFERED, ids=lambda s: f"setting:{s.name}")
def test_every_optimize_setting_is_a_suite_key(declared):
    from app.suite import BENCH_DECIDES, SETTINGS

    if declared.name in BENCH_DECIDES:
        assert declared.face not in SETTINGS
    else:
        assert declared.face in SETTINGS


def test_studios_form_lists_every_context_field_with_its_description_and_bounds():
    from graph.builder import build_graph

    schema = build_graph().get_context_jsonschema()["properties"]
    assert set(schema) == {f for f in Context.__dataclass_fields__}
    for declared in settings():
        assert schema[declared.name]["description"] == declared.description
    assert schema["max_iterations"]["minimum"] == 1
    assert schema["target_ci"]["exclusiveMinimum"] == 0 and schema["target_ci"]["exclusiveMaximum"] == 1
    assert schema["sandbox"]["enum"] == ["auto", "bwrap", "none"]


@pytest.mark.parametrize("name, value, words", [
    ("max_iterations", 0, "must be at least 1, not 0"),
    ("temperature_ceiling", 2.5, "must be in [0, 2], not 2.5"),
    ("temperature_step", 0, "must be in (0, 2], not 0"),
    ("min_repeats", 1, "must be at least 2 (one run gives no interval), not 1"),
    ("sandbox", "jail", "must be one of auto, bwrap, none, not 'jail'"),
])
def test_a_range_message_names_the_setting_as_each_face_spells_it(name, value, words):
    from app.cli import spell as cli_spell
    from app.suite import spell as suite_spell
    from graph.context import make_context
    from tools.errors import LassiError

    with pytest.raises(LassiError) as caught:
        make_context(**{name: value})
    face = {"min_repeats": "repeats"}.get(name, name.replace("_", "-"))
    assert caught.value.spelled(cli_spell) == f"--{face} {words}"
    assert caught.value.spelled(suite_spell) == f"{face} {words}"
    assert str(caught.value) == f"{name} {words}"


def test_the_temperature_schedule_must_rise_to_its_ceiling():
    from graph.context import make_context
    from tools.errors import LassiError

    with pytest.raises(LassiError, match="must be at least the starting temperature"):
        make_context(temperature_start=0.9, temperature_ceiling=0.5)
