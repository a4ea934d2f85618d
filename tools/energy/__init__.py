"""Energy and time meters, and the statistics of repeated measurements."""

from tools.energy.measurement import Measurement, Reading, RepeatPolicy, measure
from tools.energy.meters import Meter, choose_meter

__all__ = ["Measurement", "Reading", "Meter", "RepeatPolicy", "choose_meter", "measure"]
