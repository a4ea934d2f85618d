"""The containment of a run's builds and runs, and the one GPU they see."""

from __future__ import annotations

from dataclasses import replace

from graph.context import Context
from tools.errors import LassiError
from tools.gpu import device_node, find_gpu, only_gpu_env
from tools.sandbox import NVIDIA_SHARED_NODES, Sandbox, choose_sandbox


def sandbox_for(context: Context, language: str, read_only: tuple[str, ...] = ()) -> Sandbox:
    """CUDA programs may open the chosen GPU's device nodes only; `read_only` paths are seen and never written."""
    devices: tuple[str, ...] = ()
    if language == "cuda":
        try:
            devices = (device_node(find_gpu(context.gpu)),)
        except LassiError:  # no GPU here: CUDA sources are still built
            pass
        devices += NVIDIA_SHARED_NODES
    return replace(choose_sandbox(context.sandbox, context.limits(), devices), read_only=tuple(read_only))


def gpu_env(language: str, context: Context) -> dict[str, str]:
    """Unmeasured runs see the same single GPU the measured runs do."""
    return only_gpu_env(find_gpu(context.gpu)) if language == "cuda" else {}
