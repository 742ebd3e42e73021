"""BLE sensors: per-device drivers (bytes -> SampleBlock), their registry, the bleak source."""
