"""The recorded sessions' comparisons are replayed beside a new run's own table: their prose may not
claim a size of saving that the table can contradict, and figures they quote are the recording's."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import ROOT

SESSIONS = sorted((ROOT / "examples" / "sessions").glob("*/session.json"))


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.parent.name)
def test_a_recorded_comparison_quotes_figures_only_as_the_recordings(path):
    for comparison in json.loads(path.read_text())["responses"]["reporter"]:
        text = comparison if isinstance(comparison, str) else comparison["text"]
        assert not re.search(r"order of magnitude|\d+(\.\d+)?\s*(x|times) (faster|less|fewer)|tenfold", text, re.I)
        if re.search(r"\d\s*(J|W)\b", text):
            assert "When this session was recorded" in text
