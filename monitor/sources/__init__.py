"""Where samples come from: files (monitor/io, replay), MQTT, later BLE and LSL."""
