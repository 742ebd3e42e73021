"""The SQLite store: outbox semantics and safety under the service's threads."""

import threading
from pathlib import Path

import numpy as np

from monitor.core.model import Event, FeatureFrame
from monitor.outputs.store import Store


def event(i: int) -> Event:
    return Event(
        event="fatigue_onset",
        sensor=f"s{i % 3}",
        channel="emg_1",
        modality="emg",
        t=float(i),
        message="m",
    )


def test_outbox_marks_only_what_was_published(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        events = [event(i) for i in range(5)]
        store.add_events(events)
        store.add_events(events[:2])  # idempotent on id
        assert store.count_events() == 5
        store.mark_published([e.id for e in events[:3]])
        assert [e.id for e in store.unpublished()] == [e.id for e in events[3:]]
    with Store(tmp_path / "m.db") as store:  # survives a reopen
        assert [e.id for e in store.unpublished()] == [e.id for e in events[3:]]
        assert [e.id for e in store.events(sensor="s0")] == [events[0].id, events[3].id]


def test_concurrent_writers_do_not_collide(tmp_path: Path) -> None:
    """The tick thread, the state saver and the event loop share one connection; before the
    lock, two transactions met and the service died ("within a transaction")."""
    frame = FeatureFrame("s", "emg", 1.0, ("emg_1",), {"mdf_hz": np.array([80.0])}, ("ok",))
    errors: list[BaseException] = []
    with Store(tmp_path / "m.db") as store:

        def work(kind: int) -> None:
            try:
                for i in range(200):
                    if kind == 0:
                        store.add_events([event(i * 10 + kind)])
                    elif kind == 1:
                        store.add_features([frame])
                    else:
                        store.save_states([("s", "emg", {"i": i})])
                        store.unpublished()
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.count_events() == 200
        assert store.load_state("s", "emg") == {"i": 199}
