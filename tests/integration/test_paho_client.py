"""The monitor's MQTT client on a real broker: payloads reach the callback from paho's
thread, QoS 1 publishes are awaited until the broker's PUBACK, and a lost connection
fails what is pending and ends ``disconnected()``, so the link reconnects."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiomqtt
import pytest

from monitor.live.paho_client import LinkError, PahoClient, Will


def test_receive_and_publish_from_paho_thread(broker) -> None:  # type: ignore[no-untyped-def]
    got: list[tuple[str, bytes, int]] = []
    arrived = threading.Event()

    def on_payload(topic: str, payload: bytes) -> None:
        got.append((topic, payload, threading.get_ident()))
        if len(got) == 50:
            arrived.set()

    async def scenario() -> list[str]:
        seen: list[str] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="watcher") as watch:
            await watch.subscribe("out/#", qos=1)
            await watch.subscribe("status", qos=1)
            async with PahoClient(
                "127.0.0.1",
                broker.port,
                client_id="under-test",
                on_payload=on_payload,
                will=Will("status", "gone"),
            ) as client:
                await client.subscribe("in/#", qos=0)
                async with aiomqtt.Client("127.0.0.1", broker.port, identifier="sender") as tx:
                    for i in range(50):
                        await tx.publish(f"in/{i % 3}", bytes([i]), qos=1)
                assert await asyncio.to_thread(arrived.wait, 30)
                await client.publish("out/acked", "one", qos=1)  # returns after the PUBACK
                assert client.publish_nowait("out/fast", "two")
                async with asyncio.timeout(30):
                    async for m in watch.messages:
                        seen.append(m.topic.value)
                        if len(seen) == 2:
                            break
        return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == ["out/acked", "out/fast"]
    assert [p for _, p, _ in got] == [bytes([i]) for i in range(50)]  # in order
    assert {t for *_, t in got} != {threading.main_thread().ident}  # paho's own thread


def test_a_lost_connection_fails_pending_requests_and_ends_disconnected(
    broker,  # type: ignore[no-untyped-def]
) -> None:
    async def scenario() -> str:
        async with PahoClient(
            "127.0.0.1", broker.port, client_id="loses-it", on_payload=lambda t, p: None
        ) as client:
            await client.subscribe("x", qos=1)
            watcher = asyncio.create_task(client.disconnected())
            await asyncio.to_thread(broker.stop)
            with pytest.raises(LinkError):
                async with asyncio.timeout(60):
                    await watcher
            with pytest.raises(LinkError):
                await client.publish("x", "after", qos=1)
            return client.lost_reason

    assert "connection lost" in asyncio.run(scenario())


def test_connecting_to_nothing_is_a_link_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> None:
        async with PahoClient("127.0.0.1", port, client_id="x", on_payload=lambda t, p: None):
            pass

    with pytest.raises(LinkError, match="cannot connect"):
        asyncio.run(scenario())


def test_a_failing_payload_handler_costs_one_payload_not_the_connection(broker) -> None:  # type: ignore[no-untyped-def]
    got: list[bytes] = []
    done = threading.Event()

    def on_payload(topic: str, payload: bytes) -> None:
        if payload == b"bad":
            raise ValueError("a consumer bug")
        got.append(payload)
        if len(got) == 3:
            done.set()

    async def scenario() -> None:
        async with PahoClient(
            "127.0.0.1", broker.port, client_id="sturdy", on_payload=on_payload
        ) as client:
            await client.subscribe("in", qos=0)
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="tx") as tx:
                for body in (b"1", b"bad", b"2", b"3"):
                    await tx.publish("in", body, qos=1)
            assert await asyncio.to_thread(done.wait, 30)
            await client.publish("in", "still connected", qos=1)

    asyncio.run(scenario())
    assert got[:3] == [b"1", b"2", b"3"]
