"""Energy and time meters, and the statistics of repeated measurements."""

from tools.energy.measurement import FinishedRun, Measurement, Reading, RepeatPolicy, Window, measure, metered
from tools.energy.meters import Meter, choose_meter

__all__ = ["FinishedRun", "Measurement", "Meter", "Reading", "RepeatPolicy", "Window", "choose_meter", "measure",
           "metered"]
