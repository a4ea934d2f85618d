"""The test program and scripted answers: a tiny C++ program whose variants plant one wait or one fault.

The test program sleeps WAIT_MS milliseconds, so "better" and "not better" are decided by
deterministic waits rather than by noisy computation on a shared CI machine.
"""

from __future__ import annotations

from tests.helpers import FIXTURES

SLEEPER_MAIN = (FIXTURES / "sleeper" / "main.cpp").read_text()
VALID = "Output and work match the original.\nVERDICT: VALID"
INVALID = "The refactoring prints a different result.\nVERDICT: INVALID"
SUMMARIES = {"summarizer/knowledge": ["knowledge summary"], "summarizer/system": ["machine summary"],
             "summarizer/code": ["code summary"]}


def sleeper(wait_ms: int = 200, fault: str | None = None) -> str:
    """A variant of the test program: another wait, or one planted fault.

    fault: build (does not compile), crash (aborts), output (prints a wrong sum), hang (never ends).
    """
    code = SLEEPER_MAIN.replace("#define WAIT_MS 200", f"#define WAIT_MS {wait_ms}")
    if fault == "build":
        code = code.replace("long s = sum_to(n);", "long s = sum_to(n)")
    elif fault == "crash":
        code = code.replace("long s = sum_to(n);", "long s = sum_to(n); std::abort();")
    elif fault == "output":
        code = code.replace("long s = sum_to(n);", "long s = sum_to(n) + 1;")
    elif fault == "hang":
        code = code.replace("long s = sum_to(n);", "for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));\n    long s = 0;")
    return code


def answer(code: str, text: str = "Here is the new version.") -> str:
    return f"{text}\n\n```cpp\n{code}```\n"


def nvidia_gpu_present() -> bool:
    from tools.errors import LassiError
    from tools.gpu import find_gpu

    try:
        find_gpu()
        return True
    except LassiError:
        return False
