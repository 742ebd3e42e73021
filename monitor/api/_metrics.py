"""Prometheus metrics of one service, in a registry of its own (never the global one, so
two services or two test apps in one process do not collide).

The pipeline already counts everything in ``Pipeline.counters``; a custom collector reads
those counters at scrape time instead of keeping a second set up to date on the hot path.
Two figures need memory between scrapes and are updated by ``refresh()`` just before each
scrape: the tick-duration histogram (fed with the tick times recorded since the last
scrape; the pipeline keeps the last 1000, i.e. 100 s at the default tick, so a scrape
interval under that loses none) and ``windows_per_second`` (windows since the previous
scrape over the time between them; before the first, since the app was built).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.pipeline import Pipeline
from monitor.sinks.hub import LiveHub

PREFIX = "fatigue_monitor"
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _PipelineCollector(Collector):
    def __init__(self, owner: ServiceMetrics) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Metric]:
        p = self.owner.pipeline
        c = p.counters
        simple = (
            ("messages", "MQTT payloads (and decoded blocks) received", c.messages),
            ("bytes", "payload bytes received", c.bytes),
            ("dropped_payloads", "payloads dropped because the queue was full", c.dropped_payloads),
            ("gaps", "sequence gaps (missing blocks) per stream", c.gaps),
            ("duplicates", "duplicate or late blocks dropped", c.duplicates),
            ("stream_restarts", "streams restarted (new rate or channels)", c.restarts),
            ("windows", "feature windows computed", c.windows),
            ("events", "events raised by the detectors", c.events),
            ("live_dropped_clients", "WebSocket clients dropped as too slow",
             self.owner.hub.dropped_clients),
            ("live_messages", "messages queued to WebSocket clients",
             self.owner.hub.sent_messages),
        )  # fmt: skip
        for name, doc, value in simple:
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)
        errors = CounterMetricFamily(
            f"{PREFIX}_decode_errors", "payloads rejected by the decoder", labels=["reason"]
        )
        for reason, n in sorted(c.decode_errors.items()):
            errors.add_metric([reason], n)
        yield errors
        yield GaugeMetricFamily(
            f"{PREFIX}_windows_per_second",
            "feature windows per second since the previous scrape",
            value=self.owner.windows_per_second,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_backlog_payloads", "payloads waiting for the next tick", value=p.backlog
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_live_clients", "connected WebSocket clients", value=self.owner.hub.clients
        )
        seen = GaugeMetricFamily(
            f"{PREFIX}_sensor_last_seen_timestamp_seconds",
            "wall-clock time of the last payload of each stream",
            labels=["sensor", "modality"],
        )
        for (sensor, modality), info in sorted(p.streams.items()):
            seen.add_metric([sensor, modality], info.last_wall)
        yield seen


class ServiceMetrics:
    def __init__(
        self, pipeline: Pipeline, hub: LiveHub, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.pipeline = pipeline
        self.hub = hub
        self.clock = clock
        self.registry = CollectorRegistry()
        self.tick_seconds = Histogram(
            f"{PREFIX}_tick_duration_seconds",
            "duration of one pipeline tick (decode, feature step, detectors, store)",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PipelineCollector(self))
        ProcessCollector(namespace=PREFIX, registry=self.registry)
        self.windows_per_second = 0.0
        self._seen_ticks = 0  # the first scrape observes every tick time still held
        self._last = (clock(), pipeline.counters.windows)

    def refresh(self) -> None:
        """Feed the histogram and the rate; call between ticks (under the service's lock)."""
        c = self.pipeline.counters
        new = c.ticks - self._seen_ticks
        if new > 0:
            for seconds in c.tick_seconds[-new:]:
                self.tick_seconds.observe(seconds)
        self._seen_ticks = c.ticks
        now = self.clock()
        then, windows = self._last
        if now > then:
            self.windows_per_second = (c.windows - windows) / (now - then)
            self._last = (now, c.windows)

    def render(self) -> bytes:
        self.refresh()
        return generate_latest(self.registry)
