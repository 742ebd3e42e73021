"""The queue between the sources and the tick: bounded in bytes, shed per stream.

Under overload (the tick slower than the data) an unbounded queue becomes unbounded
latency and memory, and a queue that drops the globally oldest payload lets one fast or
flooding sensor push every other sensor's data out. Here each stream (an MQTT topic, or a
decoded block's sensor and modality) has its own FIFO. When the total passes the budget
(bytes, or payloads), the largest queues lose their oldest payloads until every stream
fits under one common cap (water-filling) and the total is back at the low mark: a sensor
within its fair share loses nothing, and what is lost is the data least worth having
late. Shedding in bulk down to the low mark keeps the cost amortised: one pass over the
streams per quarter budget of overflow, not one per payload.

``put`` runs on the event loop while ``drain`` runs in the tick's worker thread, so both
hold one lock; ``drain`` swaps the whole queue out under it and hands the payloads over
after releasing it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from monitor.core.model import SampleBlock

#: What a queued entry costs beyond its payload (the tuple, the deque slot): counted in
#: the byte budget so that a flood of tiny payloads is bounded too.
ENTRY_OVERHEAD = 160
#: Shedding stops at this fraction of the budget.
LOW_MARK = 0.75

Payload = bytes | SampleBlock
Entry = tuple[Payload, float, int]  # payload, received (wall s), cost in bytes


@dataclass(frozen=True, slots=True)
class Shed:
    """What one shedding pass dropped, per stream (for the rate-limited log)."""

    stream: str
    payloads: int
    nbytes: int


class IngestQueue:
    def __init__(
        self,
        max_bytes: int,
        max_items: int,
        on_shed: Callable[[list[Shed]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_streams: int = 100_000,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        #: Distinct streams queued at most: a flood of new ids must not split the budget
        #: into so many queues that shedding empties every healthy one.
        self.max_streams = max_streams
        self.on_shed = on_shed
        self.clock = clock
        self.shed_payloads = 0
        self.shed_bytes = 0
        self.last_shed: float | None = None  # clock() of the last shedding pass
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Entry]] = {}
        self._bytes: dict[str, int] = {}
        self._total_bytes = 0
        self._total_items = 0

    def __len__(self) -> int:
        return self._total_items

    @property
    def nbytes(self) -> int:
        return self._total_bytes

    def put(self, stream: str, payload: Payload, received: float) -> None:
        cost = ENTRY_OVERHEAD + (
            payload.data.nbytes if isinstance(payload, SampleBlock) else len(payload)
        )
        shed: list[Shed] = []
        with self._lock:
            queue = self._queues.get(stream)
            if queue is None and len(self._queues) >= self.max_streams:
                self.shed_payloads += 1
                self.shed_bytes += cost
                self.last_shed = self.clock()
                shed = [Shed(stream, 1, cost)]
            else:
                if queue is None:
                    queue = self._queues[stream] = deque()
                    self._bytes[stream] = 0
                queue.append((payload, received, cost))
                self._bytes[stream] += cost
                self._total_bytes += cost
                self._total_items += 1
                if self._total_bytes > self.max_bytes or self._total_items > self.max_items:
                    shed = self._shed()
        if shed and self.on_shed is not None:
            self.on_shed(shed)

    def drain(self, max_bytes: int | None = None) -> Iterator[tuple[str, Payload, float]]:
        """What is queued, stream by stream, each stream in arrival order: everything, or
        about ``max_bytes``: every stream up to one common cap (water-filling, oldest
        first, at least one payload), so a quiet sensor's data goes in whole and only the
        largest queues wait. Bounding a tick's batch bounds its working set
        (windows, filters and spectra of a batch take several times its bytes): one tick
        over a full 32 MB budget grew the RSS by 1.6x and glibc kept it."""
        with self._lock:
            if max_bytes is None or self._total_bytes <= max_bytes:
                queues = self._queues
                self._queues, self._bytes = {}, {}
                self._total_bytes = self._total_items = 0
            else:
                queues = self._take(max_bytes)
        for stream, queue in queues.items():
            for payload, received, _ in queue:
                yield stream, payload, received

    def _take(self, max_bytes: int) -> dict[str, deque[Entry]]:
        cap = _water_level(list(self._bytes.values()), max_bytes)
        taken: dict[str, deque[Entry]] = {}
        for stream, queue in list(self._queues.items()):
            out: deque[Entry] = deque()
            nbytes = 0
            while queue and (not out or nbytes + queue[0][2] <= cap):
                entry = queue.popleft()
                out.append(entry)
                nbytes += entry[2]
            self._popped(stream, len(out), nbytes)
            taken[stream] = out
        return taken

    def _popped(self, stream: str, items: int, nbytes: int) -> None:
        """Account for ``items`` entries (``nbytes``) popped off ``stream``'s queue; an
        emptied queue goes."""
        self._bytes[stream] -= nbytes
        self._total_bytes -= nbytes
        self._total_items -= items
        if not self._queues[stream]:
            del self._queues[stream], self._bytes[stream]

    def holds(self, stream: str) -> bool:
        """Whether ``stream`` has payloads waiting (a dict lookup: no lock needed)."""
        return stream in self._queues

    def _shed(self) -> list[Shed]:
        byte_cap = _water_level(list(self._bytes.values()), int(self.max_bytes * LOW_MARK))
        sizes = [len(q) for q in self._queues.values()]
        item_cap = _water_level(sizes, int(self.max_items * LOW_MARK))
        byte_target = self.max_bytes * LOW_MARK
        item_target = self.max_items * LOW_MARK
        report: list[Shed] = []
        # Largest first, and only until the total is at the low mark: when the common cap
        # is below one payload (thousands of tiny queues), the small queues are kept.
        for stream in sorted(self._queues, key=self._bytes.__getitem__, reverse=True):
            if self._total_bytes <= byte_target and self._total_items <= item_target:
                break
            queue, size = self._queues[stream], self._bytes[stream]
            payloads = nbytes = 0
            while queue and (size - nbytes > byte_cap or len(queue) > item_cap):
                nbytes += queue.popleft()[2]
                payloads += 1
            self._popped(stream, payloads, nbytes)
            if payloads:
                report.append(Shed(stream, payloads, nbytes))
        self.shed_payloads += sum(s.payloads for s in report)
        self.shed_bytes += sum(s.nbytes for s in report)
        self.last_shed = self.clock()
        return report


def _water_level(sizes: list[int], target: int) -> float:
    """The largest cap c with sum(min(size, c)) <= target (inf when all fit)."""
    if sum(sizes) <= target:
        return float("inf")
    ordered = sorted(sizes, reverse=True)
    rest = sum(ordered)
    for k, size in enumerate(ordered, start=1):
        rest -= size  # the sizes below the k largest
        cap = (target - rest) / k
        following = ordered[k] if k < len(ordered) else 0
        if cap >= following:
            return max(cap, 0.0)
    return 0.0  # unreachable: with k = len(ordered), following = 0 <= cap when target >= 0
