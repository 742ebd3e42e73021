"""#11: a damaged store file is refused at start-up; a full disk loses no alert and
delivers none twice (the in-memory outbox, deduplicated by event id)."""

import asyncio
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_mqtt_publisher import FakeClient  # type: ignore[import-not-found]

from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.core.model import Event, SampleBlock
from monitor.core.ratelog import RateLimitedLog
from monitor.live.pipeline import Pipeline
from monitor.live.publisher import MqttPublisher
from monitor.outputs.outbox import Outbox
from monitor.outputs.store import Store


def event(i: int) -> Event:
    return Event(
        id=f"ev-{i}",
        event="signal_lost",
        sensor="arm",
        channel="emg_1",
        modality="emg",
        t=float(i),
        wall_time="2026-12-01T00:00:00Z",
        features={},
        baseline={},
        message="signal lost",
    )


def damaged(path: Path) -> Path:
    with Store(path) as store:
        store.add_events([event(i) for i in range(300)])
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as fh:
        for page in range(3, os.path.getsize(path) // 4096, 3):
            fh.seek(4096 * page)
            fh.write(b"\xff" * 64)
    return path


def test_a_damaged_store_is_refused_with_one_line_saying_how_to_recover(tmp_path: Path) -> None:
    path = damaged(tmp_path / "m.db")
    before = path.read_bytes()
    with pytest.raises(MonitorError) as info:
        Store(path)
    text = str(info.value)
    assert "\n" not in text and "damaged" in text and ".recover" in text
    assert path.read_bytes() == before  # nothing changed


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(MonitorError, match="damaged"):
        Store(path)


class FullDisk:
    """The store's writes fail like a full disk while ``full`` is set."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        for name in ("add_events", "mark_published"):
            real = getattr(store, name)
            monkeypatch.setattr(store, name, self._guard(real))

    def _guard(self, real):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            if self.full:
                raise sqlite3.OperationalError("database or disk is full")
            return real(*args, **kwargs)

        return call


def test_events_the_store_cannot_take_are_published_and_stored_once_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path / "m.db") as store:
        disk = FullDisk(store, monkeypatch)
        outbox = Outbox(100)
        warn = RateLimitedLog(__import__("logging").getLogger("test"))
        publisher = MqttPublisher(store, outbox)
        client = FakeClient()
        disk.full = True
        outbox.commit([event(1), event(2)], store, warn)
        assert store.count_events() == 0 and len(outbox) == 2
        asyncio.run(publisher.flush(client))  # published anyway
        asyncio.run(publisher.flush(client))  # and only once
        assert [t for t, *_ in client.sent] == ["fatigue/arm/alerts"] * 2
        outbox.retry(store, warn)  # still full: they wait
        assert len(outbox) == 2
        disk.full = False
        outbox.retry(store, warn)
        assert len(outbox) == 0 and store.count_events() == 2
        assert store.unpublished() == []  # stored as published: never sent again
        asyncio.run(publisher.flush(client))
        assert len(client.sent) == 2


def test_an_alert_the_store_cannot_mark_is_not_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path / "m.db") as store:
        store.add_events([event(1)])
        disk = FullDisk(store, monkeypatch)
        publisher = MqttPublisher(store, Outbox(10))
        client = FakeClient()
        disk.full = True
        asyncio.run(publisher.flush(client))
        asyncio.run(publisher.flush(client))
        assert len(client.sent) == 1
        disk.full = False
        asyncio.run(publisher.flush(client))  # marks it now
        assert store.unpublished() == [] and len(client.sent) == 1


def test_the_outbox_is_bounded_and_counts_what_it_drops(tmp_path: Path) -> None:
    outbox = Outbox(3)
    warn = RateLimitedLog(__import__("logging").getLogger("test"))

    class Broken:
        def add_events(self, *a: object, **k: object) -> None:
            raise OSError("disk full")

    outbox.commit([event(i) for i in range(5)], Broken(), warn)  # type: ignore[arg-type]
    assert len(outbox) == 3 and outbox.dropped == 2
    assert [e.id for e in outbox.pending(10)] == ["ev-2", "ev-3", "ev-4"]


def test_a_tick_on_a_full_disk_raises_its_events_and_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path / "m.db") as store:
        clock = [1000.0]
        p = Pipeline(Settings(), store, clock=lambda: clock[0], silence_s=1.0)
        rng = np.random.default_rng(1)
        for seq in range(60):
            data = rng.standard_normal((1, 100)).astype(np.float32)
            p.submit_block(
                SampleBlock("arm", "emg", 2000.0, seq * 0.05, seq, ("emg_1",), "mV", data)
            )
        p.tick()
        disk = FullDisk(store, monkeypatch)
        disk.full = True
        clock[0] += 5
        lost = p.tick().events  # used to raise: the tick failed, its events were gone
        assert {e.event for e in lost} == {"signal_lost"} and len(p.outbox) == len(lost)
        disk.full = False
        p.tick()
        assert store.count_events() == len(lost) and len(p.outbox) == 0
