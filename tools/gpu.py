"""Find the GPU the user asked for, by NVML index or UUID, and describe it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

from tools.errors import LassiError


@dataclass(frozen=True)
class Gpu:
    index: int  # NVML's index; CUDA's order can differ, so children are pointed at the UUID
    uuid: str
    name: str
    compute_capability: tuple[int, int]

    @property
    def arch(self) -> str:
        major, minor = self.compute_capability
        return f"sm_{major}{minor}"

    def to_dict(self) -> dict:
        return {**asdict(self), "compute_capability": list(self.compute_capability), "arch": self.arch}


@cache
def nvml():
    """The initialised pynvml module, or a LassiError saying why there is no NVIDIA GPU to use."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        raise LassiError(f"no NVIDIA GPU available (NVML: {exc}); CUDA programs need one to run and be measured") from None
    return pynvml


def find_gpu(selector: str | int | None = None) -> Gpu:
    """The GPU named by index ("0") or UUID ("GPU-…"); the first one when none is named."""
    lib = nvml()
    count = lib.nvmlDeviceGetCount()
    if count == 0:
        raise LassiError("no NVIDIA GPU found by NVML; CUDA programs need one to run and be measured")
    text = str(selector if selector is not None else 0).strip()
    if not (text.isdigit() or text.startswith(("GPU-", "MIG-"))):
        raise LassiError(f"{{setting}} takes an NVML index (0 to {count - 1}) or a UUID such as GPU-… (see"
                         f" nvidia-smi -L), not {text!r}", setting="gpu")
    try:
        if text.isdigit():
            if int(text) >= count:
                raise LassiError(f"GPU index {text} does not exist: this machine has GPUs 0 to {count - 1}")
            handle = lib.nvmlDeviceGetHandleByIndex(int(text))
        else:
            handle = lib.nvmlDeviceGetHandleByUUID(text)
    except lib.NVMLError:
        raise LassiError(f"no GPU with UUID {text} (see nvidia-smi -L)") from None
    return Gpu(index=lib.nvmlDeviceGetIndex(handle), uuid=_text(lib.nvmlDeviceGetUUID(handle)),
               name=_text(lib.nvmlDeviceGetName(handle)),
               compute_capability=tuple(lib.nvmlDeviceGetCudaComputeCapability(handle)))


def device_node(gpu: Gpu) -> str:
    """The GPU's /dev/nvidiaN (N is NVML's minor number): the one GPU node a sandbox lets a program open."""
    return f"/dev/nvidia{nvml().nvmlDeviceGetMinorNumber(handle_for(gpu))}"


def only_gpu_env(gpu: Gpu) -> dict[str, str]:
    """The environment that shows a child process this GPU alone, whatever order CUDA would give it."""
    return {"CUDA_VISIBLE_DEVICES": gpu.uuid}


def handle_for(gpu: Gpu):
    return nvml().nvmlDeviceGetHandleByUUID(gpu.uuid)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
