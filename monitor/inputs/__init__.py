"""Inputs: recording readers (files/), the MQTT wire format, BLE drivers and source, LSL."""
