"""One thread owns the store's connection; the event loop never waits on SQLite (the
publisher's outbox reads and PUBACK marks are awaited, not called)."""

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from test_mqtt_publisher import FakeClient  # type: ignore[import-not-found]
from test_store_faults import event  # type: ignore[import-not-found]

from monitor.live.publisher import MqttPublisher
from monitor.outputs.store import Store


def test_every_call_runs_on_the_store_thread_from_any_thread(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        owner = store.submit(threading.get_ident).result()
        assert owner != threading.get_ident()
        errors: list[BaseException] = []

        def writer(k: int) -> None:
            try:
                store.add_events([event(100 * k + i) for i in range(20)])
                store.mark_published([f"ev-{100 * k}"])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.count_events() == 160
        assert len(store.unpublished(limit=1000)) == 152
        # The connection itself refuses other threads: nothing can bypass the owner.
        with pytest.raises(sqlite3.ProgrammingError):
            store._db.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError):
        store.count_events()  # closed


def test_the_loop_keeps_running_while_the_store_is_busy(tmp_path: Path) -> None:
    """A state save of a large fleet holds the store for a second; meanwhile the
    publisher's flush waits for its outbox read without holding up the event loop."""
    with Store(tmp_path / "m.db") as store:
        store.add_events([event(1), event(2)])
        publisher = MqttPublisher(store)
        client = FakeClient()
        busy, release = threading.Event(), threading.Event()

        def long_save() -> None:
            busy.set()
            release.wait(30)

        async def scenario() -> list[str]:
            order: list[str] = []
            store.submit(long_save)
            await asyncio.to_thread(busy.wait, 30)
            flush = asyncio.create_task(publisher.flush(client))
            for _ in range(20):  # the loop turns while the flush waits for the store
                await asyncio.sleep(0)
            order.append("loop ran")
            assert not flush.done() and client.sent == []
            release.set()
            await flush
            order.append("flushed")
            return order

        assert asyncio.run(scenario()) == ["loop ran", "flushed"]
        assert [t for t, *_ in client.sent] == ["fatigue/arm/alerts"] * 2
        assert store.unpublished() == []
