"""The environment a contained build or run starts with: what a program needs, never the user's keys.

Variables are passed by name: the search path, the locale, the CUDA, NVIDIA and OpenMP variables, the
library paths a toolchain needs, and the names the user lists (`pass_env`). HOME and TMPDIR point into
the run's private scratch folder, so nothing a program writes "at home" lands in the user's home.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from tools.secrets import looks_secret

PASSED_NAMES = {"PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "C_INCLUDE_PATH",
                "CPLUS_INCLUDE_PATH", "PKG_CONFIG_PATH", "CC", "CXX", "NVCC", "CUDA_HOME", "CUDA_PATH", "USER",
                "LOGNAME"}
PASSED_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "NVCC_", "OMP_", "GOMP_", "KMP_")

def contained_env(home: str, extra: Mapping[str, str] | None = None, pass_env: Iterable[str] = (),
                  source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a contained program: the passed names of `source` (os.environ), HOME and
    TMPDIR set to `home`, then `extra` (the meter's and the GPU's variables)."""
    source = os.environ if source is None else source
    wanted = set(pass_env)
    env = {name: value for name, value in source.items()
           if name in wanted or (not looks_secret(name) and (name in PASSED_NAMES or name.startswith(PASSED_PREFIXES)))}
    env.setdefault("PATH", os.defpath)
    return {**env, "HOME": home, "TMPDIR": home, **(extra or {})}
