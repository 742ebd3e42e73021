"""SQLite store: events (with an outbox flag), downsampled features, detector state.

Why an outbox: an alert must survive a broker outage and a monitor crash. Every event is
committed here *before* anything publishes it; the MQTT publisher then sends the rows not
yet marked published and marks them only after the broker acknowledged them (QoS 1). A
crash between the two re-sends an event (at-least-once, with the same ``id`` so
subscribers can deduplicate); it never loses one. WAL mode lets the API read while the
pipeline writes; ``synchronous=FULL`` makes a committed event survive a power cut.

Why one thread owns the connection: the tick's thread, the state saver, the API and the
event loop's publisher all use the store, and a state save of a large fleet holds the
connection for a second. Every call therefore runs on the store's own thread, in order;
a caller that must not wait (the event loop) takes a future from ``submit`` and awaits
it, so it never blocks on SQLite, and a transaction never interleaves with another.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from monitor.core.errors import MonitorError
from monitor.core.model import Event, FeatureFrame

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    sensor TEXT NOT NULL,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    t REAL NOT NULL,
    wall_time TEXT NOT NULL,
    body TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_outbox ON events (published, stored_at);
CREATE INDEX IF NOT EXISTS events_sensor ON events (sensor, stored_at);
CREATE TABLE IF NOT EXISTS features (
    sensor TEXT NOT NULL,
    modality TEXT NOT NULL,
    channel TEXT NOT NULL,
    t REAL NOT NULL,
    wall REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS features_sensor ON features (sensor, wall);
CREATE TABLE IF NOT EXISTS detector_state (
    sensor TEXT NOT NULL,
    modality TEXT NOT NULL,
    state TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (sensor, modality)
);
"""


P = ParamSpec("P")
R = TypeVar("R")


def _owned(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """Run ``method`` on the store's thread (directly when already there) and wait."""

    def run(self: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if threading.get_ident() == self._owner:
            return method(self, *args, **kwargs)
        return self.submit(method, self, *args, **kwargs).result()

    functools.update_wrapper(run, method)
    return run


class Store:
    """The SQLite store; one thread (``_owner``) owns its connection (see above)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._owner = -1
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        try:
            self._executor.submit(self._open).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            raise

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Run ``fn`` on the store's thread after every call submitted before it; for
        callers that must not block (``await asyncio.wrap_future(store.submit(...))``)."""
        try:
            return self._executor.submit(fn, *args, **kwargs)
        except RuntimeError as exc:  # shut down: as a closed sqlite3 connection says it
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.") from exc

    def _open(self) -> None:
        self._owner = threading.get_ident()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise MonitorError(f"{self.path}: cannot open the store: {exc}") from exc
        try:
            self._check()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise MonitorError(f"{self.path}: cannot open the store: {exc}") from exc
        except MonitorError:
            self._db.close()
            raise

    def _check(self) -> None:
        """Refuse a damaged file at start-up, with how to recover, in one line.

        Why refuse rather than repair or move it aside: the file holds alerts not yet
        delivered and the baselines; which of them survive a repair is for the operator
        to see (``.recover`` keeps what it can read). Running on it instead answered
        ``/api/alerts`` with 500 and delivered an alert twice (its "published" mark was
        on a bad page). ``quick_check`` reads every page once: about a second per GB."""
        try:
            rows = self._db.execute("PRAGMA quick_check(5)").fetchall()
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        else:
            if [r[0] for r in rows] == ["ok"]:
                return
            problem = "; ".join(str(r[0]) for r in rows)
        problem = " ".join(problem.split())  # one line
        p = self.path
        raise MonitorError(
            f"{p}: the store is damaged ({problem[:200]}); nothing was changed. Recover "
            f"what can be read with: sqlite3 {p} .recover | sqlite3 {p}.recovered && "
            f"mv {p} {p}.damaged && mv {p}.recovered {p}; or move it aside to start "
            "with an empty store (baselines are learned again)"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if threading.get_ident() == self._owner:
            raise RuntimeError("Store.close() called from the store's own thread")

        def close_here() -> None:
            self._owner = -1  # thread ids are reused once this thread is gone
            self._db.close()

        try:
            self.submit(close_here).result()
        except sqlite3.ProgrammingError:
            return  # closed already
        finally:
            self._executor.shutdown(wait=True)

    # -- events / outbox -----------------------------------------------------------
    @_owned
    def add_events(self, events: Sequence[Event], published: Collection[str] = ()) -> None:
        """Commit events (idempotent on ``id``) before anyone publishes them; those in
        ``published`` (sent while the store could not take them) go in marked so."""
        if not events:
            return
        now = time.time()
        rows = [
            (
                e.id,
                e.sensor,
                e.channel,
                e.event,
                e.t,
                e.wall_time,
                e.to_json(),
                int(e.id in published),
                now,
            )
            for e in events
        ]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO events (id, sensor, channel, event, t, wall_time, body, "
                "published, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    @_owned
    def unpublished(self, limit: int = 500) -> list[Event]:
        cur = self._db.execute(
            "SELECT body FROM events WHERE published = 0 ORDER BY stored_at, rowid LIMIT ?",
            (limit,),
        )
        return [Event.from_json(body) for (body,) in cur.fetchall()]

    @_owned
    def mark_published(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "UPDATE events SET published = 1 WHERE id = ?", [(i,) for i in ids]
                )

    @_owned
    def events(
        self,
        sensor: str | None = None,
        since: float | None = None,
        limit: int = 100,
        until: float | None = None,
    ) -> list[Event]:
        """Newest last: the newest events stored in ``since < stored_at < until``
        (wall-clock seconds, each bound optional), at most ``limit`` of them except that
        events stored together (one tick's) are never split (see ``_page``)."""
        where, args = _between("stored_at", since, until)
        if sensor is not None:
            where, args = f"{where} AND sensor = ?", [*args, sensor]
        select = "SELECT stored_at, body FROM events"
        rows = _page(self._db, select, "stored_at", where, args, limit)
        return [Event.from_json(body) for _, body in reversed(rows)]

    @_owned
    def count_events(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # -- features ------------------------------------------------------------------
    @_owned
    def add_features(self, frames: Sequence[FeatureFrame]) -> None:
        now = time.time()
        rows = []
        for f in frames:
            for name, body in f.channel_dicts().items():
                if body["active"] is None:
                    # The indices of the stored history leave rest out (api/_views.py).
                    del body["active"]
                rows.append((f.sensor, f.modality, name, f.t, now, json.dumps(body)))
        if rows:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO features (sensor, modality, channel, t, wall, body) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )

    @_owned
    def features(
        self,
        sensor: str,
        since: float | None = None,
        limit: int = 500,
        until: float | None = None,
    ) -> list[dict[str, Any]]:
        """Oldest first: the newest rows with ``since < wall < until`` (each bound
        optional), at most ``limit`` except that rows stored together (a stream's channels)
        are never split (see ``_page``)."""
        where, args = _between("wall", since, until)
        where, args = f"{where} AND sensor = ?", [*args, sensor]
        select = "SELECT wall, modality, channel, t, body FROM features"
        rows = _page(self._db, select, "wall", where, args, limit)
        return [
            {"modality": m, "channel": c, "t": t, "wall": w, **json.loads(b)}
            for w, m, c, t, b in reversed(rows)
        ]

    # -- detector state ------------------------------------------------------------
    @_owned
    def save_states(self, states: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        now = time.time()
        rows = [(s, m, json.dumps(st), now) for s, m, st in states]
        if rows:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO detector_state (sensor, modality, state, updated) VALUES "
                    "(?, ?, ?, ?) ON CONFLICT (sensor, modality) DO UPDATE SET "
                    "state = excluded.state, updated = excluded.updated",
                    rows,
                )

    @_owned
    def load_state(self, sensor: str, modality: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT state FROM detector_state WHERE sensor = ? AND modality = ?",
            (sensor, modality),
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))


def _between(col: str, since: float | None, until: float | None) -> tuple[str, list[Any]]:
    """The SQL condition ``since < col < until`` (each bound optional) and its arguments."""
    where = "1=1"
    args: list[Any] = []
    if since is not None:
        where, args = f"{where} AND {col} > ?", [*args, since]
    if until is not None:
        where, args = f"{where} AND {col} < ?", [*args, until]
    return where, args


def _page(
    db: sqlite3.Connection, select: str, time_col: str, where: str, args: list[Any], limit: int
) -> list[Any]:
    """The newest rows (newest first; ``select`` puts ``time_col`` first) of a history page.

    Rows stored in one go share their time, and a page that ended inside such a group
    could not be continued: ``until`` = its oldest time would skip the rest of the group.
    So a full page drops a group it would cut; if that group alone fills the page, the
    page is that whole group (more than ``limit`` rows). Either way the next page,
    ``until`` = the oldest time of this one, starts exactly where this one stops.
    """
    order = f" ORDER BY {time_col} DESC, rowid DESC"
    rows = db.execute(f"{select} WHERE {where}{order} LIMIT ?", [*args, limit + 1]).fetchall()
    if len(rows) <= limit or rows[limit - 1][0] != rows[limit][0]:
        return rows[:limit]
    boundary = rows[limit][0]
    whole = [r for r in rows[:limit] if r[0] != boundary]
    if whole:
        return whole
    sql = f"{select} WHERE {where} AND {time_col} = ?{order}"
    return db.execute(sql, [*args, boundary]).fetchall()
