"""The live service: store, pipeline, MQTT link and timers, owned by one object.

``Service`` is an async context manager: entering opens the store and builds the
pipeline; ``run()`` runs the named tasks (MQTT link, ticker with state saves, stats) in one
TaskGroup; leaving cancels them, saves the detector states and closes the store. Nothing
is global: tests and the demo build as many services as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from types import TracebackType
from typing import Any, Protocol, Self

from monitor.core.backoff import Backoff
from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.core.model import MODALITIES, FeatureFrame, Modality, SampleBlock
from monitor.core.ratelog import RateLimitedLog
from monitor.core.rotation import Rotation
from monitor.detect.stream import StreamDetector
from monitor.inputs.ble.source import DEFAULT_BACKEND, BleBackend, BleSource
from monitor.inputs.brainflow import BrainFlowSource
from monitor.inputs.lsl import LslJsonOutlet, LslSource
from monitor.inputs.wire import Limits
from monitor.live.api import ApiServer, create_app
from monitor.live.api._snapshot import STATUS_REFRESH_S, StreamStatuses
from monitor.live.hub import LiveHub
from monitor.live.latest import LatestFrames
from monitor.live.mqtt_link import MqttLink
from monitor.live.pipeline import Pipeline, TickResult
from monitor.live.publisher import CONSUMER as MQTT
from monitor.live.publisher import MqttPublisher, features_payload
from monitor.live.status import ServiceStatus
from monitor.outputs.store import Store

log = logging.getLogger(__name__)

STATE_REFRESH_S = 10.0
STORE = "store"  # the store's name in the LatestFrames registry


class BlockSource(Protocol):
    """A live source the service pumps: entered with ``async with``, iterated for blocks."""

    @property
    def sensor(self) -> str: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[SampleBlock]: ...


class Service:
    def __init__(self, settings: Settings, ble_backend: BleBackend = DEFAULT_BACKEND) -> None:
        if not settings.mqtt.broker and not (
            settings.ble.devices or settings.lsl.streams or settings.brainflow.boards
        ):
            raise MonitorError(
                "nothing to listen to: no MQTT broker (--broker mqtt://HOST:PORT or "
                "mqtt.broker), no [[ble.devices]], no Lab Streaming Layer stream (--lsl) and "
                "no BrainFlow board (--brainflow)"
            )
        self.settings = settings
        self.store: Store | None = None
        self.pipeline: Pipeline | None = None
        self.publisher: MqttPublisher | None = None
        self.link: MqttLink | None = None
        # BLE devices of [[ble.devices]]; the backend is injectable (tests: bumble).
        self.ble_backend = ble_backend
        self.ble_sources: list[BleSource] = []
        self.lsl_sources: list[LslSource] = []
        self.brainflow_sources: list[BrainFlowSource] = []
        self.lsl_outlet: LslJsonOutlet | None = None  # events
        self.lsl_features: LslJsonOutlet | None = None
        # The newest frame of each stream, for the publisher, the store and the API.
        self.latest = LatestFrames((MQTT, STORE))
        self.hub = LiveHub(latest=self.latest)
        self.api: ApiServer | None = None
        self.statuses = StreamStatuses()  # for the API's sensor list, kept by the ticker
        # Held while a tick runs in its worker thread; API routes that read or change the
        # detectors take it too, so they never see one half-updated.
        self.tick_lock = asyncio.Lock()
        self.wakeup = asyncio.Event()
        self.started = time.time()
        self._store_rotation: Rotation[tuple[str, Modality]] = Rotation()
        self._to_store: list[FeatureFrame] = []  # due for the store at the next step
        self._stepping: asyncio.Future[TickResult] | None = None
        self._store_warn = RateLimitedLog(log)
        self._state_rotation: Rotation[tuple[str, Modality]] = Rotation()
        self._state_announced: set[tuple[str, Modality]] = set()

    async def __aenter__(self) -> Self:
        s = self.settings
        self.store = Store(s.service.db)
        self.pipeline = Pipeline(
            s,
            self.store,
            queue_size=s.service.queue_size,
            silence_s=s.service.silence_s,
            limits=Limits(max_payload_bytes=s.mqtt.max_payload_bytes),
        )
        self.publisher = MqttPublisher(self.store, self.pipeline.outbox, self.latest)
        # Without a broker (BLE or LSL sources only) alerts go to the store, the API and
        # the LSL outlet; they wait in the store's outbox for a later run with a broker.
        if s.mqtt.broker:
            self.link = MqttLink(s.mqtt, self.pipeline, self.publisher, self.wakeup)
        self.ble_sources = [
            BleSource(
                dev,
                s.ble,
                backend=self.ble_backend,
                key=f"ble.devices[{i}]",
                on_lost=self.pipeline.mark_lost,
            )
            for i, dev in enumerate(s.ble.devices)
        ]
        self.lsl_sources = [
            LslSource(spec, s.lsl, on_lost=self.pipeline.mark_lost) for spec in s.lsl.streams
        ]
        self.brainflow_sources = [
            BrainFlowSource(
                spec, s.brainflow, on_lost=self.pipeline.mark_lost, key=f"brainflow.boards[{i}]"
            )
            for i, spec in enumerate(s.brainflow.boards)
        ]
        if s.lsl.streams or s.lsl.event_outlet:
            self.lsl_outlet = LslJsonOutlet("fatigue-monitor-events", "Markers")
            if s.lsl.features_outlet:
                self.lsl_features = LslJsonOutlet("fatigue-monitor-features", "Features")
        if s.service.api:
            self._bind_api()
        pending = len(self.store.unpublished(limit=10_000))
        if pending:
            log.info("%d stored alert(s) not yet published: they go out on connect", pending)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.api is not None:
            self.api.close()
        if self._stepping is not None and not self._stepping.done():
            # A tick still running in its thread (cancelled while shielded): let it end
            # before the final save reads the detectors and the store closes.
            with contextlib.suppress(Exception):
                await self._stepping
        if self.store is not None:
            pending = self._to_store + self.latest.take(STORE)
            self._to_store = []
            try:
                if pending:
                    self.store.add_features(pending)
            except Exception as exc:  # the states below matter more: go on to them
                log.error("%d feature samples not stored at shutdown: %s", len(pending), exc)
        if self.pipeline is not None and self.store is not None:
            outbox = self.pipeline.outbox
            outbox.retry(self.store, self._store_warn)  # the disk may have space again
            if len(outbox):
                log.error(
                    "%d events could not be stored (disk full?); they were published "
                    "if the broker was up, and are lost from the store",
                    len(outbox),
                )
        try:
            if self.pipeline is not None:
                self.pipeline.save_states()
        except Exception as exc:  # said, and the store is still closed cleanly
            log.error("detector states not saved at shutdown: %s", exc)
        finally:
            if self.store is not None:
                self.store.close()

    def _parts(self) -> tuple[Pipeline, MqttPublisher, Store, MqttLink | None]:
        if self.pipeline is None or self.publisher is None or self.store is None:
            raise MonitorError("Service used outside 'async with'")
        return self.pipeline, self.publisher, self.store, self.link

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Run until cancelled; ``on_ready`` is called once, when the MQTT link first
        subscribed and announced ``online`` (without a broker: once every task started;
        the CLI prints its ``ready`` line then)."""
        _, _, _, link = self._parts()
        async with asyncio.TaskGroup() as tg:
            if link is not None:
                tg.create_task(link.run(), name="mqtt-link")
            if on_ready is not None:
                tg.create_task(self._when_ready(on_ready), name="ready")
            tg.create_task(self._ticker(), name="ticker")
            tg.create_task(self._stats(), name="stats")
            for source in self.ble_sources:
                tg.create_task(
                    self._pump(
                        source, f"BLE device {source.sensor}", self.settings.ble.backoff_max_s
                    ),
                    name=f"ble-{source.sensor}",
                )
            for lsl in self.lsl_sources:
                tg.create_task(
                    self._pump(
                        lsl, f"LSL stream {lsl.spec.predicate}", self.settings.lsl.backoff_max_s
                    ),
                    name=f"lsl-{lsl.spec.predicate}",
                )
            for board in self.brainflow_sources:
                tg.create_task(
                    self._pump(
                        board,
                        f"BrainFlow board {board.sensor}",
                        self.settings.brainflow.backoff_max_s,
                    ),
                    name=f"brainflow-{board.sensor}",
                )
            if self.api is not None:
                tg.create_task(self.api.serve(), name="api")

    async def _when_ready(self, on_ready: Callable[[], None]) -> None:
        _, _, _, link = self._parts()
        if link is not None:
            await link.ready.wait()
        else:
            await asyncio.sleep(0)  # the TaskGroup's other tasks have started
        on_ready()

    async def _pump(self, source: BlockSource, what: str, backoff_cap: float) -> None:
        """Decoded blocks of one BLE device or LSL stream into the pipeline's queue (never
        blocks).

        One source's failure must not end the service (this task shares the TaskGroup
        with MQTT, the ticker and the API), so any error restarts the source after a
        capped backoff, logged with its name (``what``)."""
        pipeline, _, _, _ = self._parts()
        backoff = Backoff(cap=backoff_cap)
        while True:
            try:
                async with source:
                    async for block in source:
                        pipeline.submit_block(block)
                        backoff.reset()
                return
            except Exception as exc:
                delay = backoff.next()
                log.error(
                    "%s failed (%s: %s); restarting it in %.1f s",
                    what,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                pipeline.mark_lost(source.sensor)
                await asyncio.sleep(delay)

    def _bind_api(self) -> None:
        """A taken port costs the dashboard, not the monitoring: alerts still go out over
        MQTT, and the error says which setting to change."""
        pipeline, _, store, _ = self._parts()
        s = self.settings.service
        app = create_app(
            store=store,
            pipeline=pipeline,
            hub=self.hub,
            status=self.status,
            lock=self.tick_lock,
            token=s.token,
            cors_origins=s.cors_origins,
            statuses=self.statuses,
        )
        api = ApiServer(app, s.host, s.port)
        try:
            api.bind()
        except MonitorError as exc:
            log.error("%s; running without the dashboard", exc)
            return
        self.api = api
        log.info("dashboard and API on %s", api.url)

    @property
    def api_url(self) -> str | None:
        return None if self.api is None else self.api.url

    def _dispatch(self, result: TickResult) -> list[FeatureFrame]:
        """Hand a tick's results to the publisher and the hub; returns the frames due for
        the store, which the ticker writes off the event loop."""
        pipeline, publisher, _, _ = self._parts()
        # Retained state goes out when an event changed it, for a stream seen for the
        # first time, and for every stream once per STATE_REFRESH_S in round-robin slices
        # (all 500 of a large fleet at once held the features up by 150 ms): it is QoS 1,
        # and fresh subscribers get the retained copy anyway.
        detectors = pipeline.detectors
        if result.evicted:
            self._state_announced.difference_update(result.evicted)
            self.latest.forget(result.evicted)
        share = self.settings.service.tick_s / STATE_REFRESH_S
        keys = {(e.sensor, e.modality) for e in result.events}
        keys.update(k for k in detectors if k not in self._state_announced)
        self._state_announced.update(keys)
        keys.update(self._state_rotation.take(detectors.keys(), share))
        states = sensor_states(detectors, {sensor for sensor, _ in keys})
        self.latest.offer(result.frames)
        publisher.offer_states(states)
        self.hub.offer(result.frames, result.events)
        try:  # the LSL streams are copies: never the monitoring
            if self.lsl_outlet is not None and result.events:
                self.lsl_outlet.push([e.to_json() for e in result.events])
            if self.lsl_features is not None and result.frames:
                self.lsl_features.push([features_payload(f) for f in result.frames])
        except Exception as exc:
            self._store_warn.warn("lsl-outlet", "-", f"LSL outlet: {exc}")
        # The latest frame of every stream is stored once per features_store_every_s,
        # a round-robin slice per tick (500 streams in one insert held a tick up by 40 ms).
        share = self.settings.service.tick_s / self.settings.service.features_store_every_s
        due = self._store_rotation.take(self.latest.pending(STORE), share)
        to_store = self.latest.take(STORE, due)
        if result.frames or result.events:
            self.wakeup.set()
        return to_store

    async def _ticker(self) -> None:
        """One batched step per tick, in a worker thread so the receive loop keeps going.
        The store writes of the previous tick (a slice of the detector states, a slice of
        the features) run in the same thread call, just before the step: saving from
        another thread while a tick updates the detectors would read them half-changed,
        and a second thread hop after the step would wait for the GIL while the event
        loop publishes, delaying the next tick. The step is shielded from cancellation
        so that shutdown (``__aexit__``) can wait for it before the final save."""
        self._parts()  # fail early outside "async with"
        period = self.settings.service.tick_s
        save_share = min(1.0, period / max(self.settings.service.state_save_s, 1e-3))
        while True:
            started = time.perf_counter()
            try:
                async with self.tick_lock:
                    self._stepping = asyncio.ensure_future(
                        asyncio.to_thread(self._step, save_share)
                    )
                    result = await asyncio.shield(self._stepping)
                    self._to_store.extend(self._dispatch(result))
            except Exception:  # the service never dies of one bad tick; say why, go on
                log.exception("tick failed; the data of this tick is lost")
            await asyncio.sleep(max(0.0, period - (time.perf_counter() - started)))

    def _step(self, save_share: float) -> TickResult:
        pipeline, _, _, _ = self._parts()
        self._write_store(save_share)
        result = pipeline.tick()
        # The API's sensor list reads the detectors here, between two updates, and only
        # where events changed them (api/_snapshot.py).
        self.statuses.refresh(
            pipeline,
            self.settings.service.tick_s / STATUS_REFRESH_S,
            {(e.sensor, e.modality) for e in result.events},
            result.streams_with_frames,
            result.evicted,
        )
        return result

    def _write_store(self, save_share: float) -> None:
        """The store's share of the previous tick. A failing store (disk full, locked)
        costs the history and the state saves, never the monitoring: say so, go on."""
        pipeline, _, store, _ = self._parts()
        frames, self._to_store = self._to_store, []
        try:
            if frames:
                store.add_features(frames)
            pipeline.save_some(save_share)
        except Exception as exc:
            self._store_warn.warn(
                "store",
                "-",
                f"store write failed ({type(exc).__name__}: {exc}); {len(frames)} feature "
                "samples not stored, monitoring goes on",
            )

    async def _stats(self) -> None:
        pipeline, publisher, _, _ = self._parts()
        while True:
            await asyncio.sleep(1.0)
            pipeline.warnings.roll()  # the summary of suppressed lines, even after a flood
            self._store_warn.roll()
            publisher.offer_stats(self.status().to_dict())
            self.wakeup.set()

    def status(self) -> ServiceStatus:
        pipeline, publisher, _, link = self._parts()
        return ServiceStatus(
            uptime_s=time.time() - self.started,
            connected=None if link is None else link.connected.is_set(),
            connections=0 if link is None else link.connections,
            backlog=pipeline.backlog,
            streams=len(pipeline.streams),
            outbox_waiting=len(pipeline.outbox),
            outbox_dropped=pipeline.outbox.dropped,
            published_alerts=publisher.published_alerts,
            published_features=publisher.published_features,
            tick_p99_s=_p99(pipeline.counters.tick_seconds),
            overload=pipeline.overload(),
            counters=pipeline.counters.snapshot(),
            ble={b.sensor: b.status() for b in self.ble_sources},
            lsl={x.spec.predicate: x.status() for x in self.lsl_sources},
            brainflow={b.sensor: b.status() for b in self.brainflow_sources},
        )


def sensor_states(
    detectors: Mapping[tuple[str, Modality], StreamDetector], sensors: Collection[str]
) -> dict[str, dict[str, Any]]:
    """The retained state of each sensor in ``sensors``: every channel of every stream of
    the sensor in one message, since the topic is per sensor. A sensor with EMG and ACC
    streams would otherwise have its state replaced by one modality's, then the other's.

    ``modality`` is the sensor's one modality, or ``mixed``; each channel carries its own.
    Channel names that two streams share are qualified as ``modality:name``."""
    if not sensors:
        return {}
    by_sensor: dict[str, list[tuple[Modality, StreamDetector]]] = {}
    for sensor in sensors:  # lookups, not a scan of every detector: a tick's few sensors
        for modality in MODALITIES:
            det = detectors.get((sensor, modality))
            if det is not None:
                by_sensor.setdefault(sensor, []).append((modality, det))
    out: dict[str, dict[str, Any]] = {}
    for sensor, streams in by_sensor.items():
        statuses = [(m, det.status()) for m, det in streams]
        names = [name for _, status in statuses for name in status]
        shared = {n for n in names if names.count(n) > 1}
        channels = {
            (f"{m}:{name}" if name in shared else name): {**state.to_dict(), "modality": m}
            for m, status in statuses
            for name, state in status.items()
        }
        modalities = {m for m, _ in streams}
        out[sensor] = {
            "modality": modalities.pop() if len(modalities) == 1 else "mixed",
            "channels": channels,
        }
    return out


def _p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
