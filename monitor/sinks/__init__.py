"""Where features and events go: files, the terminal, and later MQTT, SQLite and the API."""
