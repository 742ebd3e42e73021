"""Prometheus metrics of one service, in a registry of its own (never the global one, so
two services or two test apps in one process do not collide).

The pipeline already counts everything in ``Pipeline.counters``; a custom collector reads
those counters at scrape time instead of keeping a second set up to date on the hot path.
Two figures need memory between scrapes and are updated by ``refresh()`` just before each
scrape: the tick-duration histogram (fed with the tick times recorded since the last
scrape; the pipeline keeps the last 1000, i.e. 100 s at the default tick, so a scrape
interval under that loses none) and ``windows_per_second`` (windows since the previous
scrape over the time between them; before the first, since the app was built).

BLE devices (``[[ble.devices]]``) are counted by their sources, not the pipeline; the
service's ``status().ble`` holds one ``BleStatus`` per device (connected, attempts,
connections, disconnects, stalls, failures, dropped, decode_errors by reason,
last_error), and the collector exports that as ``fatigue_monitor_ble_*`` with a
``sensor`` label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.inputs.ble.source import BleStatus
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.live.status import ServiceStatus

PREFIX = "fatigue_monitor"
MAX_ERROR_LABEL = 200  # characters of a BLE device's last error kept in its label
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
            ("dropped_payloads", "payloads shed: ingest queue over budget", c.dropped_payloads),
            ("gaps", "sequence gaps (missing blocks) per stream", c.gaps),
            ("duplicates", "duplicate or late blocks dropped", c.duplicates),
            ("stream_restarts", "streams restarted (new rate or channels)", c.restarts),
            ("seq_resets", "sensor counters that started again (reboot, 32-bit wrap)",
             c.seq_resets),
            ("evicted_streams", "silent streams dropped from memory, state saved", c.evicted),
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
        rejected = CounterMetricFamily(
            f"{PREFIX}_rejected",
            "streams refused or dropped (bad_rate, too_many_streams, feature_failed, ...)",
            labels=["reason"],
        )
        for reason, n in sorted(c.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield GaugeMetricFamily(f"{PREFIX}_streams", "streams in memory", value=len(p.streams))
        yield GaugeMetricFamily(
            f"{PREFIX}_windows_per_second",
            "feature windows per second since the previous scrape",
            value=self.owner.windows_per_second,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_backlog_payloads", "payloads waiting for the next tick", value=p.backlog
        )
        over = p.overload()
        yield CounterMetricFamily(
            f"{PREFIX}_shed_bytes", "bytes shed by the ingest queue's budget (overload)",
            value=over.shed_bytes,
        )  # fmt: skip
        for name, key, doc in (
            ("overloaded", "overloaded", "1: data shed in the last 10 s, or lag over 1 s"),
            ("tick_load", "tick_load", "share of the last 10 s in ticks (>= 1: behind)"),
            ("lag_seconds", "lag_s", "age of the oldest payload of the last tick when it ended"),
            ("queued_bytes", "queued_bytes", "bytes waiting for the next tick (service.queue_mb)"),
        ):  # fmt: skip
            yield GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=float(getattr(over, key)))
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
        yield from _ble_metrics(self.owner.status().ble)


def _ble_metrics(devices: Mapping[str, BleStatus]) -> Iterator[Metric]:
    """One sample per device of each BLE family; none without BLE devices."""
    if not devices:
        return
    connected = GaugeMetricFamily(
        f"{PREFIX}_ble_connected",
        "1 while the BLE device is connected and streaming",
        labels=["sensor"],
    )
    counters = {
        key: CounterMetricFamily(f"{PREFIX}_ble_{name}", doc, labels=["sensor"])
        for key, name, doc in (
            ("attempts", "attempts", "BLE connection attempts (scan and connect)"),
            ("connections", "connections", "BLE connections made (the first and reconnects)"),
            ("disconnects", "disconnects", "BLE links lost or dropped as stalled"),
            ("stalls", "stalls", "BLE links restarted because the device fell silent"),
            ("failures", "failures", "BLE connection attempts that failed"),
            (
                "dropped",
                "dropped_notifications",
                "BLE notifications dropped because the decode queue was full",
            ),
        )
    }
    errors = CounterMetricFamily(
        f"{PREFIX}_ble_decode_errors",
        "BLE notifications rejected by the driver's decoder",
        labels=["sensor", "reason"],
    )
    last_error = GaugeMetricFamily(
        f"{PREFIX}_ble_last_error_info",
        "the BLE device's last connection error (value 1)",
        labels=["sensor", "error"],
    )
    for name, st in sorted(devices.items()):
        connected.add_metric([name], 1.0 if st.connected else 0.0)
        for key, family in counters.items():
            family.add_metric([name], float(getattr(st, key)))
        for reason, n in sorted(st.decode_errors.items()):
            errors.add_metric([name, reason], float(n))
        if st.last_error:
            last_error.add_metric([name, st.last_error[:MAX_ERROR_LABEL]], 1.0)
    yield connected
    yield from counters.values()
    yield errors
    yield last_error


class ServiceMetrics:
    def __init__(
        self,
        pipeline: Pipeline,
        hub: LiveHub,
        status: Callable[[], ServiceStatus] = ServiceStatus,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self.hub = hub
        self.status = status
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
