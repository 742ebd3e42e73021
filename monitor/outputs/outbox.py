"""Events the store could not take (disk full, I/O error), kept in memory until it can.

Why: the store is the alert outbox (an event is committed before it is published). When
the disk is full, the commit fails; before this class the tick failed with it and the
events were lost: counted, never stored, never published. Now they wait here, bounded
(``service.outbox_size``, the oldest dropped and counted past it), are published anyway
(``pending``), and are written to the store on every later tick until it takes them,
with the published flag of those already acknowledged. Event ids make every step
idempotent: the store ignores an id it has, the publisher skips one it sent.

The tick thread commits and retries while the event loop publishes: one lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from monitor.core.model import Event
from monitor.core.ratelog import RateLimitedLog
from monitor.outputs.store import Store


class Outbox:
    def __init__(self, size: int) -> None:
        self.size = size
        self._events: OrderedDict[str, Event] = OrderedDict()
        self._published: set[str] = set()
        self.dropped = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._events)

    def commit(self, events: Sequence[Event], store: Store | None, warn: RateLimitedLog) -> None:
        """Store ``events`` (before anything publishes them), or keep them here."""
        if store is None or not events:
            return
        with self._lock:
            if self._events:  # keep the order: older unstored events go first
                self._keep(events)
                return
        try:
            store.add_events(events)
        except Exception as exc:
            with self._lock:
                self._keep(events)
            warn.warn(
                "store_events",
                "-",
                f"{len(events)} events not stored ({type(exc).__name__}: {exc}); kept in "
                f"memory ({len(self._events)} waiting) and published anyway",
            )

    def retry(self, store: Store | None, warn: RateLimitedLog) -> None:
        """Write the waiting events to the store, those already published marked so."""
        if store is None or not self._events:
            return
        with self._lock:
            events = list(self._events.values())
            published = set(self._published)
        try:
            store.add_events(events, published=published)
        except Exception:
            return
        warn.warn("store_recovered", "-", f"the store took {len(events)} waiting events")
        with self._lock:
            for event in events:
                self._events.pop(event.id, None)
            # Published meanwhile (between the copy and now): mark them in the store too.
            late = self._published - published
            self._published.clear()
        if late:
            try:
                store.mark_published(late)
            except Exception:
                return

    def pending(self, limit: int) -> list[Event]:
        """Waiting events not yet published, oldest first."""
        out: list[Event] = []
        with self._lock:
            for event_id, event in self._events.items():
                if event_id not in self._published:
                    out.append(event)
                    if len(out) >= limit:
                        break
        return out

    def mark_published(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._published.update(i for i in ids if i in self._events)

    def _keep(self, events: Sequence[Event]) -> None:
        for event in events:
            self._events[event.id] = event
        while len(self._events) > self.size:
            event_id, _ = self._events.popitem(last=False)
            self._published.discard(event_id)
            self.dropped += 1
