"""What tests import (fixtures live in conftest.py): the project's paths, the test program, judging benches.

ROOT is the project's root folder, FIXTURES the folder of files the tests copy (the test program,
the validation corpus).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
