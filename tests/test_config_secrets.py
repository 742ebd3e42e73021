"""#11: credentials from the broker URL, secrets never echoed, numeric secrets from the
environment kept as text, unique client ids."""

import pytest

from monitor.core.broker_url import broker_url, redact_url
from monitor.core.config import load_settings
from monitor.core.errors import ConfigError
from monitor.live.mqtt_link import unique_client_id


def test_user_and_password_come_from_the_url_percent_decoded() -> None:
    b = broker_url("mqtts://mon:p%40ss%3Aword@broker.lab")
    assert (b.host, b.port, b.tls, b.username, b.password) == (
        "broker.lab",
        8883,
        True,
        "mon",
        "p@ss:word",
    )
    assert "p@ss" not in repr(b)


def test_urls_are_printed_with_the_password_starred() -> None:
    assert redact_url("mqtt://mon:secret@host:1883") == "mqtt://mon:***@host:1883"
    assert redact_url("mqtt://host:1883") == "mqtt://host:1883"
    assert redact_url("mqtt://mon@host") == "mqtt://mon@host"


def test_a_bad_url_error_does_not_echo_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"mqtt.broker": "mqtt://u:hunter22@host:99999"}, environ={})
    assert "hunter22" not in str(info.value) and "***" in str(info.value)


def test_numeric_secrets_from_the_environment_are_strings() -> None:
    env = {
        "FATIGUE_MONITOR__MQTT__PASSWORD": "123456",
        "FATIGUE_MONITOR__SERVICE__TOKEN": "0042",
        "FATIGUE_MONITOR__MQTT__KEEPALIVE_S": "60",
    }
    s = load_settings(environ=env)
    assert s.mqtt.password == "123456" and s.service.token == "0042"
    assert s.mqtt.keepalive_s == 60  # other settings still parse as TOML values


def test_a_secret_of_the_wrong_type_is_refused_without_its_value() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"mqtt.password": 987654}, environ={})
    assert "987654" not in str(info.value) and "***" in str(info.value)


def test_client_ids_are_unique_unless_configured() -> None:
    a, b = unique_client_id(""), unique_client_id("")
    assert a != b and a.startswith("fatigue-monitor-")
    assert unique_client_id("site-a") == "site-a"
