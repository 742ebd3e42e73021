"""Recording files (CSV, EDF/BDF, WFDB, WAV) read in chunks as SampleBlocks."""

from monitor.io.recording import Recording, StreamInfo, open_recording

__all__ = ["Recording", "StreamInfo", "open_recording"]
