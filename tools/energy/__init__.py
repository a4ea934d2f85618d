"""Energy and time meters, repeated measurement and its statistics, the one table of metrics.

Every meter (NVML for CUDA, RAPL or time only on the host) meters any block of code through
`with meter.window() as w:`; `measure` repeats a run, anything with `ok` and `seconds`, until its
RepeatPolicy is met. metrics.py names each figure, its label and unit for every report and message.
"""

from tools.energy.measurement import FinishedRun, Measurement, Reading, RepeatPolicy, Window, measure, metered
from tools.energy.meters import Meter, choose_meter

__all__ = ["FinishedRun", "Measurement", "Meter", "Reading", "RepeatPolicy", "Window", "choose_meter", "measure",
           "metered"]
