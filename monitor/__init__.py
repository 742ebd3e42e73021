"""fatigue-monitor: live muscle-fatigue and tremor monitoring from EMG and accelerometer streams."""

from monitor.errors import MonitorError
from monitor.model import Event, FeatureFrame, SampleBlock

__all__ = ["Event", "FeatureFrame", "MonitorError", "SampleBlock"]
__version__ = "0.1.0"
