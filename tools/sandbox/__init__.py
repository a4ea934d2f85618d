"""Containment of the code a model wrote: isolation with bubblewrap (isolation), resource caps, a
watchdog and cgroups (containment), and the process runner with its RunResult (runner).
"""

from tools.sandbox.containment import Containment, Limits, MiB
from tools.sandbox.isolation import MODES, NVIDIA_SHARED_NODES, Sandbox, choose_sandbox
from tools.sandbox.runner import RunResult, run_program

__all__ = ["MODES", "NVIDIA_SHARED_NODES", "Containment", "Limits", "MiB", "RunResult", "Sandbox", "choose_sandbox",
           "run_program"]
