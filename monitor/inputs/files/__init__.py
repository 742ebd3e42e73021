"""Recording files (CSV and its export dialects, EDF/BDF, WFDB, WAV, XDF, C3D, OpenSignals)
read in chunks as SampleBlocks; docs/inputs.md lists what each reader takes."""

from monitor.inputs.files.csv_dialect import CsvOptions
from monitor.inputs.files.recording import Recording, StreamInfo, open_recording

__all__ = ["CsvOptions", "Recording", "StreamInfo", "open_recording"]
