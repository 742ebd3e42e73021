"""The fleet's lean QoS 0 publisher against real brokers: every message arrives, in
order, byte for byte; a refused connection is a clear error."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from monitor.tools.broker import free_port
from simulators.mqtt_qos0 import MqttPublishError, Qos0Publisher, _length


def test_remaining_length_encoding_matches_the_spec_examples() -> None:
    # MQTT 3.1.1, table 2.4: the boundaries of the 1- to 4-byte encodings.
    assert _length(0) == b"\x00"
    assert _length(127) == b"\x7f"
    assert _length(128) == b"\x80\x01"
    assert _length(16_383) == b"\xff\x7f"
    assert _length(16_384) == b"\x80\x80\x01"
    assert _length(268_435_455) == b"\xff\xff\xff\x7f"


def test_every_message_arrives_in_order(broker) -> None:  # type: ignore[no-untyped-def]
    messages = [(f"sensors/s{i % 7}/emg", bytes([i % 256]) * (i % 300 + 1)) for i in range(2000)]
    messages.append(("sensors/big/emg", b"x" * 200_000))  # a 3-byte remaining length

    async def scenario() -> list[tuple[str, bytes]]:
        got: list[tuple[str, bytes]] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="qos0-sub") as sub:
            await sub.subscribe("sensors/#", qos=0)
            async with Qos0Publisher("127.0.0.1", broker.port, "qos0-pub") as pub:
                assert await pub.publish_many(messages[:1000]) == 1000
                assert await pub.publish_many(messages[1000:]) == len(messages) - 1000
                async with asyncio.timeout(30):
                    async for m in sub.messages:
                        got.append((m.topic.value, bytes(m.payload)))  # type: ignore[arg-type]
                        if len(got) == len(messages):
                            break
        return got

    assert asyncio.run(scenario()) == messages


def test_refused_connection_is_a_clear_error() -> None:
    async def scenario() -> None:
        async with Qos0Publisher("127.0.0.1", free_port(), "nobody"):
            pass

    with pytest.raises(MqttPublishError, match=r"mqtt://127\.0\.0\.1:\d+"):
        asyncio.run(scenario())
