"""The live service: the only layer with an event loop (service, tick, MQTT link,
publisher, hub, API)."""
