"""The preview store: everything the container did, kept in SQLite so it survives a restart.

One row per incoming request holds the report as JSON (secrets are already masked there), next to
summary columns used for filtering: HTTP status, claiming client, event count and tag counts
(fired, succeeded, failed, rejected by the vendor), each event's name with its tags' states
(``summary``), and ``facets``: the event names and tag states as delimited words, which the event
and tag filters search (``instr``) instead of joining index tables, so a stored hit costs one row.
``outgoing`` keeps one row per outgoing HTTP request with the vendor's answer, so the outgoing
list is a plain query. The report column holds either a whole report (``Report.to_dict()``), or,
for the Preview of ``serve``, only what a re-run needs: such a request is explained when it is read
(:mod:`.rerun`). A store file of the first schema (with ``events`` and ``tags`` tables) is
migrated when it is opened.

Several processes may write the same file (gunicorn workers): the database runs in WAL mode,
every connection waits up to ``busy_timeout_ms`` for a lock, and each write is one short
``BEGIN IMMEDIATE`` transaction. Connections are opened lazily, one per thread and per process,
so a store created before gunicorn forks its workers is safe to use in each of them. The special
path ``":memory:"`` keeps everything in one process-private connection guarded by a lock (tests).

Writing in the background (``background=True``, what ``serve`` uses): :meth:`SQLiteStore.hook` only
queues what a request leaves (references to its report's parts, :class:`_Outcome`); a writer thread
in each process stores the queue in rounds, at most one per ``DEFAULT_FLUSH_INTERVAL`` (sooner for a
full batch of ``DEFAULT_MAX_BATCH``), off the request path. In ``serve`` a round is appended to
the worker's file in the store's spool (:mod:`.spool`, :meth:`SQLiteStore.spool_writes`), and the
rows are built and committed later, by the store's own process while the machine has idle CPU
(:mod:`.store_process`) or by the next read, whichever comes first (:meth:`SQLiteStore._index_spool`):
a hit costs the serving processes its encoding and an append, and SQLite runs on no worker. Without
a spool (or when a batch cannot be appended) the writer thread commits itself. Nothing answered is
dropped: when the queue holds ``DEFAULT_MAX_QUEUE`` reports the request waits for room; :meth:`flush`
waits until everything queued is committed (or appended), and :meth:`close` (called at a clean
shutdown: gunicorn's worker exit and ``atexit``) flushes first. Reads (the inspection API, the Preview
UI) first wait, up to ``DEFAULT_READ_WAIT`` seconds, until every live process sharing the store
(gunicorn workers forked from the process that created it) has committed or appended what it had
queued when the read began, then index the spool, so a test never needs to poll; the processes
publish their rounds in shared memory for that, without a lock on the request path (:class:`_Writer`).
A process killed with SIGKILL loses what it had queued and not yet written: the hits it answered in
the last flush interval (see docs/performance.md for the measured window).

Choices (easy to change):

- ``DEFAULT_RETENTION``: the newest 10,000 requests are kept; older ones are deleted as new ones
  arrive, whichever process wrote them (by id range, so the cost does not grow with the store).
- ``retention_bytes`` (off by default): when the rows in use take more than this many bytes, the
  oldest requests are deleted until they fit (SQLite reuses the freed pages, so the file stops
  growing near that size).
- ``JOURNAL_SIZE_LIMIT``: the write-ahead log is truncated to at most this size after a checkpoint
  (SQLite checkpoints every 1000 pages by default), so it cannot grow without bound.
- ``DEFAULT_BODY_LIMIT``: request and response bodies longer than 64 KiB characters are cut and
  the record says so (``body_truncated`` on the request, the response or the outgoing entry).
- The list of requests is newest first. ``since`` takes epoch seconds or an ISO 8601 time.
- ``reset()`` deletes every record; ids keep growing (a UI polling with ``after=<id>`` never sees
  an old id reused).
"""

from __future__ import annotations

import atexit
import json
import logging
import marshal
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias, get_args

from ..core.report import RESPONSE_TEXT, Outgoing, Report, json_safe
from ..core.request import Request, display_text
from ..core.statuses import TagStatus
from ..errors import RequestError
from . import spool
from .rerun import RERUN_KEY, record_of_fields, unexplained

DEFAULT_PATH = "gtm-emulator.sqlite3"
DEFAULT_RETENTION = 10_000
DEFAULT_BODY_LIMIT = 65_536
MAX_REPORT_CHARS = 4 * 1024 * 1024  # a stored report larger than this keeps its summary and loses detail
DEFAULT_BUSY_TIMEOUT_MS = 10_000
DEFAULT_FLUSH_INTERVAL = 0.05  # seconds between commits of the background writer, at most
DEFAULT_MAX_BATCH = 500  # reports committed in one transaction, at most
DEFAULT_MAX_QUEUE = 5_000  # reports queued in a process before requests wait for the writer
DEFAULT_READ_WAIT = 2.0  # seconds a read waits for the other processes' queued reports, at most
JOURNAL_SIZE_LIMIT = 16 * 2**20  # bytes the WAL is truncated to after a checkpoint
MAX_PROCESSES = 128  # processes that can share one background store (gunicorn workers)
TRIM_WAIT_MS = 50  # a writer's wait for the lock to trim the spool (it tries again at its next file)
SPOOL_CHUNK = 500  # spooled hits indexed in one transaction, at most (a read waits for fewer)
_SLOT = 4  # a process's entries in the shared table: pid, busy, sent, committed
MAX_PAGE = 1000
DEFAULT_PAGE = 100
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    elapsed_ms REAL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER NOT NULL,
    client TEXT,
    remote_addr TEXT,
    n_events INTEGER NOT NULL,
    n_fired INTEGER NOT NULL,
    n_succeeded INTEGER NOT NULL,
    n_failed INTEGER NOT NULL,
    n_rejected INTEGER NOT NULL,
    n_outgoing INTEGER NOT NULL,
    body_truncated INTEGER NOT NULL,
    summary TEXT NOT NULL,
    report TEXT NOT NULL,
    facets TEXT NOT NULL DEFAULT '',
    input BLOB
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time);
CREATE TABLE IF NOT EXISTS outgoing (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER NOT NULL,
    event_idx INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    time REAL NOT NULL,
    tag TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER,
    vendor_ok INTEGER,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outgoing_request ON outgoing(request_id);
CREATE TABLE IF NOT EXISTS spool (file TEXT PRIMARY KEY, offset INTEGER NOT NULL);
"""

TAG_STATUSES: tuple[str, ...] = get_args(TagStatus)
_REQUEST_COLUMNS = ("id", "time", "elapsed_ms", "method", "url", "status", "client", "remote_addr", "n_events",
                    "n_fired", "n_succeeded", "n_failed", "n_rejected", "n_outgoing", "body_truncated", "summary",
                    "report", "facets", "input")
_OUTGOING_COLUMNS = ("request_id", "event_idx", "idx", "time", "tag", "method", "url", "status", "vendor_ok", "entry")
# A summary: [reason, [[event name, [[tag, status, fired, rejected], ...]], ...]] (the first schema's
# was an object; both are read).
EventView = tuple[str, list[tuple[Any, Any, bool, bool]]]


def _escape(word: str) -> str:
    """A name inside ``facets``: its delimiters (and the escape character) replaced, reversibly."""
    return word.replace("\x1c", "\x1c0").replace("\x1e", "\x1c1").replace("\x1f", "\x1c2")


def _facet(*parts: str) -> str:
    """The delimited word a filter searches ``facets`` for."""
    return "\x1f" + "\x1e".join(_escape(p) for p in parts) + "\x1f"


def _facets(views: list[EventView]) -> str:
    """The words of a request: ``e`` event name; per tag result ``s`` tag and status, ``S`` status
    (any tag), ``t`` tag when it fired, ``r`` tag when the vendor rejected its data."""
    words = {"e\x1e" + _escape(name) for name, _ in views}
    for _, tags in views:
        for tag, status, fired, rejected in tags:
            name = _escape(str(tag))
            words.add(f"s\x1e{name}\x1e{status}")
            words.add(f"S\x1e{status}")
            if fired:
                words.add("t\x1e" + name)
            if rejected:
                words.add("r\x1e" + name)
    return "\x1f" + "\x1f".join(sorted(words)) + "\x1f"


_SHAPES: dict[Any, tuple[str, str, tuple[int, int, int, int, int]]] = {}
MAX_SHAPES = 4096  # outcomes remembered by shape (hits mostly repeat a few: which events, which tags fired)


def _outcome_columns(reason: str | None, views: list[EventView]) -> tuple[str, str, tuple[int, int, int, int, int]]:
    """The ``summary`` and ``facets`` columns and the counts (events, fired, succeeded, failed,
    rejected) of a request's outcome, remembered by shape: most hits repeat a few outcomes."""
    try:
        key: Any = (reason, tuple((name, tuple(tags)) for name, tags in views))
        known = _SHAPES.get(key)
    except TypeError:  # a part that is not hashable: computed each time
        key, known = None, None
    if known is not None:
        return known
    fired = n_ok = n_failed = n_rejected = 0
    for _, tags in views:
        for _, status, was_fired, rejected in tags:
            fired += was_fired
            n_ok += was_fired and status == "success"
            n_failed += status == "failure"
            n_rejected += rejected
    columns = (display_text(json.dumps([reason, views], ensure_ascii=False)), display_text(_facets(views)),
               (len(views), fired, n_ok, n_failed, n_rejected))
    if key is not None:
        if len(_SHAPES) >= MAX_SHAPES:
            _SHAPES.clear()
        _SHAPES[key] = columns
    return columns


def _summary_events(summary: Any) -> list[dict[str, Any]]:
    """The listing's ``events`` from a stored summary (either schema)."""
    if isinstance(summary, dict):
        return list(summary["events"])
    return [{"index": i, "event_name": name,
             "tags_fired": [t[0] for t in tags if t[2]],
             "tags_failed": [t[0] for t in tags if t[1] == "failure"],
             "tags_rejected": [t[0] for t in tags if t[3]],
             "tags_not_fired": [t[0] for t in tags if not t[2]]}
            for i, (name, tags) in enumerate(summary[1])]


def _summary_reason(summary: Any) -> Any:
    return summary.get("reason") if isinstance(summary, dict) else summary[0]


def _outgoing_row(event_idx: int, idx: int, now: float, tag: Any, method: Any, url: Any, status: Any,
                  vendor_ok: bool | None, entry: str) -> tuple[Any, ...]:
    """A row of the ``outgoing`` table (``entry``: the outgoing request's JSON text)."""
    return (event_idx, idx, now, display_text(str(tag)), display_text(str(method)), display_text(str(url)), status,
            None if vendor_ok is None else int(bool(vendor_ok)), display_text(entry))


def _insert_rows(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        conn.executemany(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)


@dataclass(frozen=True)
class RequestFilter:
    """What ``list_requests`` keeps. Every field is optional; all given fields must hold."""

    event: str | None = None  # an event of the request has this event name
    tag: str | None = None  # this tag fired for the request (or had ``tag_status``)
    tag_status: str | None = None  # success | failure | not_fired | paused | blocked | not_emulated | rejected
    status: str | None = None  # "204", or a class "2xx" / "4xx"
    since: float | None = None  # epoch seconds, inclusive
    after: int | None = None  # ids greater than this (for polling)
    client: str | None = None  # name of the claiming client; "" for requests no client claimed
    rejected: bool | None = None  # some tag's data was rejected by the vendor (or none was)
    limit: int = DEFAULT_PAGE
    offset: int = 0


def parse_since(value: str) -> float:
    """Epoch seconds, or an ISO 8601 time (``2024-05-01T12:00:00Z``; naive times are UTC)."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RequestError(400, f"since={value!r}: expected epoch seconds or an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def _capped_json(report: dict[str, Any]) -> str:
    """The report as JSON, at most ``MAX_REPORT_CHARS``: past it, event data, variables and console
    lines are replaced by a note (the counts, statuses and outgoing requests stay)."""
    text = json.dumps(report, ensure_ascii=False)
    if len(text) <= MAX_REPORT_CHARS:
        return text
    note = f"removed: the stored report was {len(text)} characters, over the limit of {MAX_REPORT_CHARS}"
    slim = dict(report, report_truncated=note)
    slim["events"] = [dict(e, event_data={"_removed": note}, variables={}, console=[note])
                      for e in report.get("events") or []]
    text = json.dumps(slim, ensure_ascii=False)
    if len(text) <= MAX_REPORT_CHARS:
        return text
    slim["events"] = [{k: e.get(k) for k in ("name", "client", "warnings") if k in e} | {"tags": [
        {k: t.get(k) for k in ("name", "status", "fired", "error", "vendor_rejected")} for t in e.get("tags") or []]}
        for e in report.get("events") or []]
    return json.dumps(slim, ensure_ascii=False)


def _event_name(event: dict[str, Any]) -> str:
    return _event_name_of(event.get("event_data", {}).get("event_name"))


def _event_name_of(name: Any) -> str:
    if name is None:
        return ""
    return name if isinstance(name, str) else json.dumps(json_safe(name))


class _Prepared(NamedTuple):
    """The rows of one report, ready to insert (ids added then): plain values only."""

    row: tuple[Any, ...]  # the requests row (without its id)
    outgoing_rows: list[tuple[Any, ...]]  # (event_idx, idx, time, tag, method, url, status, vendor_ok, entry)


class _Outcome(NamedTuple):
    """What a request stored as an outcome leaves on the request's thread: references to the parts
    of its report, nothing copied or encoded (the writer does that: :func:`_wire`)."""

    views: list[EventView]
    reason: str | None
    rerun: str
    head: tuple[Any, ...]  # time, elapsed, method, url, status, client, remote address, cut
    request: Request
    outgoing: list[tuple[int, int, Outgoing]]  # (event index, index, the call)


# What the writer queue holds: an outcome, or a report (with its elapsed ms and when it was
# received) whose rows the writer builds.
_Queued: TypeAlias = _Outcome | tuple[Report, float, float]
_WIRE_OUTCOME, _WIRE_ROWS = 0, 1  # the kinds of item a batch holds
_WIRE_OUTCOME_LEN = 7


def _wire(item: _Outcome | _Prepared, entries_as_text: bool = False) -> tuple[Any, ...]:
    """An item of a batch as plain values (on the writer's thread): an outcome keeps the request's
    fields and each call's fields as they are (the JSON texts are written by whoever builds the
    rows, :func:`_rows_of_wire`), or, with ``entries_as_text``, each call as its JSON text."""
    if isinstance(item, _Prepared):
        return (_WIRE_ROWS, *item)
    request = item.request
    calls = [(i, j, o.tag, o.method, o.url, (o.response or {}).get("status"), o.vendor_ok,
              o.to_json() if entries_as_text else o.stored_fields()) for i, j, o in item.outgoing]
    return (_WIRE_OUTCOME, item.views, item.reason, item.rerun, item.head,
            (request.method, request.path, request.query, request.remote_addr, request.scheme,
             request.headers, request.body), calls)


def _wire_time(item: tuple[Any, ...]) -> float:
    """When the hit of a :func:`_wire` item was received."""
    return float(item[4][0] if item[0] == _WIRE_OUTCOME else item[1][0])


def _entry_text(entry: Any) -> str:
    """A call's JSON text from its fields (as ``Outgoing.to_json`` writes it)."""
    if type(entry) is str:
        return entry
    try:
        return json.dumps(entry, ensure_ascii=False, allow_nan=False, check_circular=False)
    except (TypeError, ValueError, RecursionError):
        return json.dumps(json_safe(entry), ensure_ascii=False)


def _rows_of_wire(item: Any) -> _Prepared:
    """The rows of an item made by :func:`_wire` (or read back from a batch); ValueError, TypeError
    or IndexError when it is not one."""
    kind = item[0]
    if kind == _WIRE_OUTCOME and len(item) == _WIRE_OUTCOME_LEN:
        _, views, reason, rerun, head, request, calls = item
        now = head[0]
        outgoing_rows = [_outgoing_row(i, j, now, tag, method, url, status, vendor_ok, _entry_text(entry))
                         for i, j, tag, method, url, status, vendor_ok, entry in calls]
        return SQLiteStore._rows(views, reason, rerun, outgoing_rows, head, record_of_fields(*request))
    if kind == _WIRE_ROWS and len(item) == 3 and len(item[1]) == len(_REQUEST_COLUMNS) - 1 \
            and all(len(o) == len(_OUTGOING_COLUMNS) - 1 for o in item[2]):
        return _Prepared(tuple(item[1]), [tuple(o) for o in item[2]])
    raise ValueError("an unknown kind of item or a wrong length")


def to_wire(items: list[tuple[Any, ...]]) -> bytes:
    """A batch of :func:`_wire` items as the payload of a spool frame (:mod:`.spool`): marshal of
    plain values. ValueError when one holds a value marshal does not take."""
    return marshal.dumps(items)


class _Pending:
    """A report in a batch to commit; ``done`` is set when a caller waits for it (``add``), the
    background writer's reports have nobody waiting and no event."""

    __slots__ = ("done", "error", "prepared", "rid")

    def __init__(self, prepared: _Prepared, waited: bool = False):
        self.prepared = prepared
        self.done = threading.Event() if waited else None
        self.rid: int | None = None
        self.error: Exception | None = None


class SQLiteStore:
    """The preview store on one SQLite file (or ``":memory:"``)."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_PATH,
        *,
        retention: int = DEFAULT_RETENTION,
        body_limit: int = DEFAULT_BODY_LIMIT,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        clock: Callable[[], float] = time.time,
        background: bool = False,
        retention_bytes: int | None = None,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ):
        if retention < 1:
            raise ValueError(f"retention must be at least 1, not {retention}")
        if retention_bytes is not None and retention_bytes < 65_536:
            raise ValueError(f"retention_bytes must be at least 65536, not {retention_bytes}")
        self.retention_bytes = retention_bytes
        self.background = background
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._writer: _Writer | None = None
        # Turns a stored outcome (``_prepare_outcome``) into an explained report when it is read;
        # set by the Preview (install_preview). None: reports are stored whole.
        self.explainer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._writer_lock = threading.Lock()
        # The writers of every process sharing this store, in memory shared with the processes forked
        # from this one, so that a read can wait for all of them: per process (pid, busy, sent,
        # committed), see _Writer.
        self._slots = multiprocessing.RawArray("q", _SLOT * MAX_PROCESSES) if background else None
        self._slots_lock = multiprocessing.Lock() if background else None
        # Whether this store's batches go to the spool (serve's workers, see spool_writes).
        self._spooling = False
        self._spool_failed = False
        self.path = str(path)
        self.retention = retention
        self.body_limit = body_limit
        self.busy_timeout_ms = busy_timeout_ms
        self.clock = clock
        self.memory = self.path == ":memory:"
        self._spool_dir = None if self.memory else spool.spool_dir(self.path)
        self._local = threading.local()
        self._lock = threading.RLock()
        self._group_lock = threading.Lock()
        self._group_queue: list[_Pending] = []
        self._group_leader = False
        self._group_pid = os.getpid()
        self._all: list[sqlite3.Connection] = []
        self._shared: sqlite3.Connection | None = None
        self._generation = 0
        if not self.memory:
            parent = Path(self.path).parent
            if not parent.exists():
                parent.mkdir(parents=True, exist_ok=True)
        # Create the schema now (and close that connection: a forked worker opens its own).
        conn = self._open()
        try:
            self._create_schema(conn)
        finally:
            if not self.memory:
                conn.close()
                with self._lock:
                    self._all.remove(conn)

    # ------------------------------------------------------------------ connections

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        if not self.memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        with self._lock:
            self._all.append(conn)
            if self.memory:
                self._shared = conn
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ValueError(f"the store was written by a newer gtm-emulator (schema {version}; this one "
                                 f"reads up to {SCHEMA_VERSION})")
            if version < 2:
                self._migrate_from_first_schema(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _migrate_from_first_schema(conn: sqlite3.Connection) -> None:
        """Inside the caller's transaction: the ``events`` and ``tags`` tables become ``facets``."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(requests)")}
        if "facets" not in columns:
            conn.execute("ALTER TABLE requests ADD COLUMN facets TEXT NOT NULL DEFAULT ''")
        if "input" not in columns:
            conn.execute("ALTER TABLE requests ADD COLUMN input BLOB")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        views: dict[int, list[EventView]] = {}
        if "events" in tables:
            for rid, _idx, name in conn.execute("SELECT request_id, idx, name FROM events ORDER BY request_id, idx"):
                views.setdefault(rid, []).append((name, []))
        if "tags" in tables:
            for rid, idx, name, status, fired, rejected in conn.execute(
                    "SELECT request_id, event_idx, name, status, fired, vendor_rejected FROM tags ORDER BY rowid"):
                events = views.get(rid) or []
                if 0 <= idx < len(events):
                    events[idx][1].append((name, status, bool(fired), bool(rejected)))
        conn.executemany("UPDATE requests SET facets = ? WHERE id = ?", [(_facets(v), rid) for rid, v in views.items()])
        conn.execute("DROP TABLE IF EXISTS events")
        conn.execute("DROP TABLE IF EXISTS tags")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if self.memory:
            with self._lock:
                if self._shared is None:
                    raise RuntimeError("the in-memory preview store is closed")
                yield self._shared
            return
        key = (os.getpid(), self._generation)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "key", None) != key:
            conn = self._open()
            self._local.conn = conn
            self._local.key = key
        yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Commit what is queued, then close every connection this process opened (the file stays;
        an in-memory store is gone)."""
        self.flush()
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None and writer.pid == os.getpid():
            writer.stop()
        if not self._spooling:  # the spool's owner (serve's store process) or a reader: index what is left
            self._index_pending()
        if not self.memory:
            try:
                with self._conn() as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # another process is reading or writing: its own close checkpoints
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._shared = None
            self._generation += 1

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def hook(self, report: Report, elapsed_ms: float, container_key: str | None = None) -> None:
        """A report hook for ``create_app(on_report=[store.hook])``: saves the report (in the
        background when the store was made with ``background=True``).

        With a ``container_key`` (the fingerprint of the container that ran it) and an
        ``explainer``, what is stored is the outcome and what a re-run needs (see
        :meth:`_prepare_outcome`); :meth:`get_request` explains it when it is read. Without, the
        report is stored as it is."""
        at = self.clock()
        key = container_key if self._outcome_fits(report, container_key) else None
        if key is not None:  # the queue holds the request and its calls, not the whole report
            outcome = self._outcome_of(report, key, elapsed_ms, at)
            if self.background:
                self._writer_here().submit(outcome)
            else:
                self._add_prepared(_rows_of_wire(_wire(outcome)))
        elif self.background:
            self._writer_here().submit((report, elapsed_ms, at))
        else:
            self.add(report.to_dict(), elapsed_ms=elapsed_ms, at=at)

    def _outcome_fits(self, report: Report, container_key: str | None) -> bool:
        """Whether the report is stored as an outcome explained when read: the Preview asked for it,
        and nothing of it is long enough to be cut (a cut request could not run again)."""
        if container_key is None or self.explainer is None or report.now is None:
            return False
        limit = self.body_limit
        if len(report.request.body) > limit or len(report.response.body) > limit:
            return False
        return not any(len(o.raw_text) > limit for e in report.events for o in e.outgoing)

    @staticmethod
    def _outcome_of(report: Report, container_key: str, elapsed_ms: float, now: float) -> _Outcome:
        """What a report stored as an outcome (server/rerun.py) keeps, taken straight from the
        report's objects: what happened (each tag's status, every outgoing call with its answer)
        for the index columns, and for the report column only what a re-run needs."""
        views = [(_event_name_of(event.event_name),
                  [(t.name, t.status, t.fired, t.vendor_rejected) for t in event.tags]) for event in report.events]
        calls = [(i, j, o) for i, event in enumerate(report.events) for j, o in enumerate(event.outgoing)]
        request = report.request
        rerun = f'{{"{RERUN_KEY}": {{"now": {report.now!r}, "container": "{container_key}"}}}}'
        return _Outcome(views, report.reason, rerun, (
            now, elapsed_ms, request.method, request.url, report.response.status, report.client,
            request.remote_addr, False), request, calls)

    def _writer_here(self) -> _Writer:
        writer = self._writer
        if writer is None or writer.pid != os.getpid():  # a forked worker starts its own writer
            with self._writer_lock:
                writer = self._writer
                if writer is None or writer.pid != os.getpid():
                    writer = self._writer = _Writer(self)
        return writer

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every report this process queued is committed; False if ``timeout`` ran out."""
        writer = self._writer
        if writer is None or writer.pid != os.getpid():
            return True
        return writer.flush(timeout)

    def spool_writes(self) -> None:
        """Append every batch to the spool (:mod:`.spool`) instead of committing it: rows are built
        when the spool is indexed (by serve's store process, or the next read). ``serve`` calls this
        before gunicorn forks its workers. A batch that cannot be appended is committed by the
        worker itself (nothing is dropped), and serve's log says so once."""
        if self.memory or not self.background:
            raise ValueError("only a background store on a file writes to a spool")
        self._spooling = True

    def _await_others(self) -> None:
        """Before a read: commit (or append) this process's queue, wait (briefly) for the other
        processes', then index the spool.

        For each other live process, what it queued before now is written once its ``committed``
        reaches ``sent`` (``sent + 1`` while it is ``busy``: something is queued that no round has
        taken yet), see :class:`_Writer`."""
        if self.background:
            self._await_writers()
        self._index_pending()

    def _await_writers(self) -> None:
        self.flush(DEFAULT_READ_WAIT)
        slots = self._slots
        assert slots is not None
        me = os.getpid()
        waits = {}
        for i in range(0, len(slots), _SLOT):
            pid = slots[i]
            if pid and pid != me:
                busy = slots[i + 1]  # read before sent (see _Writer._round)
                need = slots[i + 2] + (1 if busy else 0)
                if slots[i + 3] < need and _alive(pid):
                    waits[i] = (pid, need)
        deadline = time.monotonic() + DEFAULT_READ_WAIT
        while waits and time.monotonic() < deadline:
            time.sleep(0.002)
            waits = {i: (pid, need) for i, (pid, need) in waits.items()
                     if slots[i] == pid and slots[i + 3] < need and _alive(pid)}

    def _claim_slot(self) -> int | None:
        """This process's entry in the shared table (a free one, or one of a process that is gone)."""
        slots, lock = self._slots, self._slots_lock
        assert slots is not None and lock is not None
        me = os.getpid()
        with lock:
            free = None
            for i in range(0, len(slots), _SLOT):
                if slots[i] == me:
                    return i
                if free is None and (slots[i] == 0 or not _alive(slots[i])):
                    free = i
            if free is None:
                return None  # more processes than slots: reads just do not wait for this one
            slots[free + 1] = slots[free + 2] = slots[free + 3] = 0
            slots[free] = me
            return free

    def _store_batch(self, items: list[_Queued], writer: spool.SpoolWriter | None = None) -> None:
        """The background writer's batch: appended to the spool with a ``writer`` (committed here if
        that fails), else rows built and committed here (one transaction, pruned)."""
        ready: list[_Outcome | _Prepared] = []
        for item in items:
            try:
                if isinstance(item, _Outcome):
                    ready.append(item)
                else:
                    report, elapsed_ms, at = item
                    ready.append(self._prepare(report.to_dict(), elapsed_ms, at))
            except Exception:  # a report that cannot be serialised: logged, the others are kept
                logging.getLogger("gtm_emulator").exception("preview store: cannot store a report")
        wire = [_wire(item) for item in ready]
        if writer is not None and wire and self._append(wire, ready, writer):
            return
        self._commit_batch([_Pending(_rows_of_wire(w)) for w in wire])

    def _append(self, wire: list[tuple[Any, ...]], ready: list[_Outcome | _Prepared],
                writer: spool.SpoolWriter) -> bool:
        """Append ``wire`` (made from ``ready``) to the spool; False (logged once) when it could not."""
        try:
            data = to_wire(wire)
        except ValueError:  # a value marshal does not take (a str subclass, undefined): those calls as text
            wire[:] = [w if _marshals(w) else _wire(item, entries_as_text=True)
                       for w, item in zip(wire, ready, strict=True)]
            try:
                data = to_wire(wire)
            except ValueError:
                return False  # committed here
        try:
            started = writer.append(data, len(wire), _wire_time(wire[0]))
        except OSError as exc:
            if not self._spool_failed:
                self._spool_failed = True
                logging.getLogger("gtm_emulator").warning(
                    "preview store: cannot append to the spool (%s); this worker commits its Preview rows itself",
                    exc)
            return False
        self._spool_failed = False
        if started:  # each new file: pass over what retention would delete, so the spool stays bounded
            try:
                with self._impatient():  # the lock busy (a read indexing): the next new file trims
                    self._index_spool(build=False)
            except (sqlite3.Error, OSError) as exc:
                logging.getLogger("gtm_emulator").debug("preview store: spool not trimmed this time: %s", exc)
        return True

    @contextmanager
    def _impatient(self, wait_ms: int = TRIM_WAIT_MS) -> Iterator[None]:
        """This thread's connection waits at most ``wait_ms`` for a lock meanwhile."""
        with self._conn() as conn:
            conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            try:
                yield
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")

    def _index_pending(self) -> None:
        """Index everything spooled so far (a read sees it then); a database error is logged and the
        read goes on with what is indexed."""
        if self._spool_dir is None or not os.path.isdir(self._spool_dir):
            return
        try:
            while self._index_spool(chunk=SPOOL_CHUNK)[1]:
                pass
        except (sqlite3.Error, OSError) as exc:  # the lock held too long, an unreadable spool folder
            logging.getLogger("gtm_emulator").warning("preview store: cannot index the spool: %s", exc)

    def _index_spool(self, chunk: int | None = None, build: bool = True) -> tuple[int, bool]:
        """Build and commit the rows of spooled hits, oldest first, at most about ``chunk`` of them
        in this transaction; (hits stored, whether more are waiting). Hits that retention would
        delete at once are passed over, not built (the ids move on as if they had been). Without
        ``build`` only that is done (a writer trimming the spool). Finished files indexed to their
        end are deleted after the commit."""
        directory = self._spool_dir
        if directory is None or not os.path.isdir(directory) or not self._spool_has_work(directory):
            return 0, False
        finished: list[str] = []
        stored, more = 0, False
        with self._write() as conn:
            offsets = {str(f): int(o) for f, o in conn.execute("SELECT file, offset FROM spool")}
            files = spool.scan(directory, offsets)
            present = {f.name for f in files}
            gone = [(name,) for name in offsets if name not in present]
            if gone:
                conn.executemany("DELETE FROM spool WHERE file = ?", gone)
            frames = sorted((fr for f in files for fr in f.frames), key=lambda fr: (fr.time, fr.file, fr.start))
            waiting = sum(fr.items for fr in frames)
            passed = skip = 0
            while skip < len(frames) and waiting - passed - frames[skip].items >= self.retention:
                passed += frames[skip].items
                skip += 1
            moved = {fr.file: fr.end for fr in frames[:skip]}
            todo: list[spool.Frame] = []
            if build:
                taken = 0
                for fr in frames[skip:]:
                    if chunk is not None and todo and taken + fr.items > chunk:
                        more = True
                        break
                    todo.append(fr)
                    taken += fr.items
            if passed:
                self._bump_sequence(conn, passed)
            stored = self._insert_frames(conn, directory, todo)
            moved.update({fr.file: fr.end for fr in todo})
            conn.executemany("INSERT INTO spool(file, offset) VALUES (?, ?)"
                             " ON CONFLICT(file) DO UPDATE SET offset = excluded.offset", list(moved.items()))
            for f in files:
                end = f.frames[-1].end if f.frames else offsets.get(f.name, 0)
                if f.finished and moved.get(f.name, offsets.get(f.name, 0)) >= end:
                    finished.append(f.name)
                    if f.tail:
                        logging.getLogger("gtm_emulator").warning(
                            "preview store: spool file %s ends with %s (its process stopped while writing): "
                            "dropped", f.name, f.tail)
        spool.remove(directory, finished)
        return stored, more

    def _spool_has_work(self, directory: str) -> bool:
        """Whether the spool holds anything to index or delete (looked at without the write lock, so
        that a read with nothing waiting does not queue behind the writers)."""
        with self._conn() as conn:
            offsets = {str(f): int(o) for f, o in conn.execute("SELECT file, offset FROM spool")}
        files = spool.scan(directory, offsets)
        return bool(set(offsets) - {f.name for f in files}) or any(f.frames or f.finished for f in files)

    def _insert_frames(self, conn: sqlite3.Connection, directory: str, frames: list[spool.Frame]) -> int:
        """Insert the rows of ``frames`` (inside the caller's transaction), pruned; how many. A frame
        or an item that cannot be read, or a row the database refuses, is logged by name and left out."""
        prepared: list[_Prepared] = []
        for fr in frames:
            try:
                items = marshal.loads(spool.payload(directory, fr))
                if not isinstance(items, list):
                    raise ValueError("a batch that is not a list")
            except (OSError, EOFError, ValueError, TypeError) as exc:
                logging.getLogger("gtm_emulator").warning(
                    "preview store: spool file %s, frame at offset %d: %s; its %d hits are not stored",
                    fr.file, fr.start - spool.HEADER.size, exc, fr.items)
                continue
            for n, item in enumerate(items):
                try:
                    prepared.append(_rows_of_wire(item))
                except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
                    logging.getLogger("gtm_emulator").warning(
                        "preview store: spool file %s, frame at offset %d, item %d: %s; not stored",
                        fr.file, fr.start - spool.HEADER.size, n, exc)
        if not prepared:
            return 0
        try:
            conn.execute("SAVEPOINT batch")
            rids = self._insert_many(conn, prepared)
            conn.execute("RELEASE batch")
        except sqlite3.Error:  # one bad row must not fail the others: each on its own
            conn.execute("ROLLBACK TO batch")
            conn.execute("RELEASE batch")
            rids = []
            for one in prepared:
                try:
                    conn.execute("SAVEPOINT one")
                    rids.append(self._insert(conn, one))
                    conn.execute("RELEASE one")
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK TO one")
                    conn.execute("RELEASE one")
                    logging.getLogger("gtm_emulator").warning("preview store: a spooled row not stored: %s", exc)
        if rids:
            self._prune(conn, rids[-1])
        return len(rids)

    @staticmethod
    def _bump_sequence(conn: sqlite3.Connection, count: int) -> None:
        """Move the request ids on by ``count`` (hits passed over, as if stored and pruned)."""
        if conn.execute("UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'requests'", (count,)).rowcount == 0:
            conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('requests', ?)", (count,))

    def add(self, report: dict[str, Any], *, elapsed_ms: float | None = None, at: float | None = None) -> int:
        """Save one report (``Report.to_dict()``); returns the new request id once it is committed.

        Concurrent writers share transactions (group commit): the first becomes the leader and
        commits everything queued meanwhile in one transaction, so the cost of a commit is shared
        under load while every call still returns only after its own row is in the database."""
        return self._add_prepared(self._prepare(report, elapsed_ms, at))

    def _add_prepared(self, prepared: _Prepared) -> int:
        pending = _Pending(prepared, waited=True)
        with self._group_lock:
            if self._group_pid != os.getpid():  # a forked worker starts with an empty queue
                self._group_pid, self._group_queue, self._group_leader = os.getpid(), [], False
            self._group_queue.append(pending)
            leader = not self._group_leader
            self._group_leader = True
        if leader:
            self._commit_queued()
        else:
            assert pending.done is not None
            pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.rid is not None
        return pending.rid

    def _commit_queued(self) -> None:
        """As leader: commit batches until the queue is empty, then step down."""
        while True:
            with self._group_lock:
                batch, self._group_queue = self._group_queue, []
                if not batch:
                    self._group_leader = False
                    return
            self._commit_batch(batch)
            for item in batch:
                if item.done is not None:
                    item.done.set()

    def _commit_batch(self, batch: list[_Pending]) -> None:
        """Insert ``batch`` in one transaction (one each if that fails) and apply the retention limits."""
        if not batch:
            return
        try:
            with self._write() as conn:
                rids = self._insert_many(conn, [item.prepared for item in batch])
                for item, rid in zip(batch, rids, strict=True):
                    item.rid = rid
                self._prune(conn, rids[-1])
        except Exception:
            for item in batch:  # one bad row must not fail the others: one transaction each
                item.rid = None
                try:
                    with self._write() as conn:
                        item.rid = self._insert(conn, item.prepared)
                        self._prune(conn, item.rid)
                except Exception as exc:
                    item.error = exc

    def _insert_many(self, conn: sqlite3.Connection, batch: list[_Prepared]) -> list[int]:
        """Insert a batch inside the caller's (write-locked) transaction: one statement per table.

        Ids are given explicitly, after the largest id ever used (AUTOINCREMENT's sqlite_sequence),
        which is what AUTOINCREMENT would have given them."""
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'requests'").fetchone()
        first = (int(row[0]) if row else 0) + 1
        rids = list(range(first, first + len(batch)))
        pairs = list(zip(rids, batch, strict=True))
        _insert_rows(conn, "requests", _REQUEST_COLUMNS, [(rid, *p.row) for rid, p in pairs])
        _insert_rows(conn, "outgoing", _OUTGOING_COLUMNS, [(rid, *o) for rid, p in pairs for o in p.outgoing_rows])
        return rids

    def _prepare(self, report: dict[str, Any], elapsed_ms: float | None, at: float | None) -> _Prepared:
        """Everything of a row that needs no database: truncation, summary columns, JSON texts."""
        now = self.clock() if at is None else at
        if not self._needs_cutting(report):
            return self._prepare_uncut(report, elapsed_ms, now)
        report = dict(report)
        request = dict(report.get("request") or {})
        response = dict(report.get("response") or {})
        limit = self.body_limit
        body, cut_request = _truncate(str(request.get("body") or ""), limit)
        request["body"] = body
        if cut_request:
            request["body_truncated"] = True
        rbody, cut_response = _truncate(str(response.get("body") or ""), limit)
        response["body"] = rbody
        if cut_response:
            response["body_truncated"] = True
        report["request"] = request
        report["response"] = response
        events = [dict(e) for e in report.get("events") or []]
        for event in events:
            event["outgoing"] = [self._cut_outgoing(o) for o in event.get("outgoing") or []]
        report["events"] = events
        return self._rows_of_dict(report, request, response, events, elapsed_ms, now, cut_request or cut_response)

    def _needs_cutting(self, report: dict[str, Any]) -> bool:
        limit = self.body_limit
        for part in (report.get("request") or {}, report.get("response") or {}):
            body = part.get("body")
            if (body is not None and not isinstance(body, str)) or len(body or "") > limit:
                return True
        for event in report.get("events") or []:
            for out in event.get("outgoing") or []:
                body, response = out.get("body"), out.get("response")
                if isinstance(body, str) and len(body) > limit:
                    return True
                if isinstance(response, dict) and isinstance(response.get("body"), str) \
                        and len(response["body"]) > limit:
                    return True
        return False

    def _prepare_uncut(self, report: dict[str, Any], elapsed_ms: float | None, now: float) -> _Prepared:
        """The common case, nothing to cut: the report is written as it is (no copies)."""
        request = report.get("request") or {}
        response = report.get("response") or {}
        if request.get("body") is None or response.get("body") is None:  # stored as "" like a cut copy
            report = dict(report)
            report["request"] = {**request, "body": request.get("body") or ""}
            report["response"] = {**response, "body": response.get("body") or ""}
            request, response = report["request"], report["response"]
        return self._rows_of_dict(report, request, response, report.get("events") or [], elapsed_ms, now, False)

    def _rows_of_dict(self, report: dict[str, Any], request: dict[str, Any], response: dict[str, Any],
                      events: list[dict[str, Any]], elapsed_ms: float | None, now: float, cut: bool) -> _Prepared:
        query = request.get("query") or ""
        url = str(request.get("path") or "/") + (f"?{query}" if query else "")
        views = [(_event_name(e), [(t.get("name"), t.get("status"), bool(t.get("fired")),
                                    bool(t.get("vendor_rejected"))) for t in e.get("tags") or []]) for e in events]
        outgoing_rows = [_outgoing_row(i, j, now, o.get("tag"), o.get("method"), o.get("url"),
                                       (o.get("response") or {}).get("status"), o.get("vendor_ok"),
                                       json.dumps(o, ensure_ascii=False))
                         for i, e in enumerate(events) for j, o in enumerate(e.get("outgoing") or [])]
        return self._rows(views, report.get("reason"), _capped_json(report), outgoing_rows, (
            now, elapsed_ms, str(request.get("method") or ""), url, int(response.get("status") or 0),
            report.get("client"), str(request.get("remote_addr") or ""), cut), None)

    @staticmethod
    def _rows(views: list[EventView], reason: str | None, report_json: str,
              outgoing_rows: list[tuple[Any, ...]], head: tuple[Any, ...], request: bytes | None) -> _Prepared:
        """The rows of one report: ``views`` is (event name, [(tag, status, fired, rejected)]) per
        event; ``head`` the first columns (time, elapsed, method, url, status, client, remote, cut);
        ``request`` the request for a re-run (``rerun.request_record``), if it is stored as an outcome."""
        summary, facets, counts = _outcome_columns(reason, views)
        now, elapsed_ms, method, url, status, client, remote, cut = head
        shown = display_text
        row: tuple[Any, ...] = (
            now, elapsed_ms, shown(method), shown(url), status, None if client is None else shown(client),
            shown(remote), *counts, len(outgoing_rows), int(cut), summary, shown(report_json), facets, request,
        )
        return _Prepared(row, outgoing_rows)

    def _insert(self, conn: sqlite3.Connection, prepared: _Prepared) -> int:
        """Insert one prepared report inside the caller's transaction; the new request id."""
        return self._insert_many(conn, [prepared])[0]

    def _cut_outgoing(self, entry: dict[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        cut = False
        if isinstance(out.get("body"), str):
            out["body"], cut = _truncate(out["body"], self.body_limit)
        response = out.get("response")
        if isinstance(response, dict) and isinstance(response.get("body"), str):
            response = dict(response)
            response["body"], rcut = _truncate(response["body"], self.body_limit)
            out["response"] = response
            cut = cut or rcut
        if cut:
            out["body_truncated"] = True
        return out

    def _prune(self, conn: sqlite3.Connection, newest: int) -> None:
        """Delete requests older than the newest ``retention`` ids (a range delete on the primary key).

        Ids come from AUTOINCREMENT, so they grow across processes and are never reused; they have
        no gaps unless an insert was rolled back, in which case slightly fewer than N are kept.
        """
        cutoff = newest - self.retention
        if self.retention_bytes is not None:
            page_size, pages, free = (conn.execute(f"PRAGMA {name}").fetchone()[0]
                                      for name in ("page_size", "page_count", "freelist_count"))
            used = (pages - free) * page_size
            if used > self.retention_bytes:
                oldest, rows = conn.execute("SELECT MIN(id), COUNT(*) FROM requests").fetchone()
                if rows:  # delete the oldest share of rows that brings the use under the limit, plus 10 %
                    share = min(1.0, (used - self.retention_bytes) / used + 0.1)
                    cutoff = max(cutoff, oldest - 1 + max(1, int(rows * share)))
        if cutoff <= 0:
            return
        conn.execute("DELETE FROM outgoing WHERE request_id <= ?", (cutoff,))
        conn.execute("DELETE FROM requests WHERE id <= ?", (cutoff,))

    def reset(self) -> int:
        """Delete every record; returns how many requests were deleted."""
        self._await_others()  # indexes the spool: what was answered before the reset is deleted too
        with self._write() as conn:
            count = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            for table in ("outgoing", "requests"):
                conn.execute(f"DELETE FROM {table}")
        return int(count)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _listing(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
        (rid, at, elapsed, method, url, status, client, remote, n_events, n_fired, n_ok, n_failed, n_rejected,
         n_outgoing, truncated, summary) = row
        data = json.loads(summary)
        return {
            "id": rid, "time": at, "elapsed_ms": None if elapsed is None else round(elapsed, 3),
            "method": method, "url": url, "status": status, "client": client, "remote_addr": remote,
            "counts": {"events": n_events, "tags_fired": n_fired, "tags_succeeded": n_ok, "tags_failed": n_failed,
                       "tags_rejected_by_vendor": n_rejected, "outgoing": n_outgoing},
            "body_truncated": bool(truncated),
            "reason": _summary_reason(data),
            "events": _summary_events(data),
        }

    _LIST_COLUMNS = ("id, time, elapsed_ms, method, url, status, client, remote_addr, n_events, n_fired, n_succeeded,"
                     " n_failed, n_rejected, n_outgoing, body_truncated, summary")

    def list_requests(self, flt: RequestFilter | None = None, **kw: Any) -> list[dict[str, Any]]:
        """Requests, newest first, as summaries (no full report). Filters: see :class:`RequestFilter`."""
        self._await_others()
        flt = flt or RequestFilter(**kw)
        where: list[str] = []
        args: list[Any] = []
        if flt.event is not None:
            where.append("instr(facets, ?) > 0")
            args.append(_facet("e", flt.event))
        if flt.tag is not None or flt.tag_status is not None:
            if flt.tag_status is not None and flt.tag_status not in (*TAG_STATUSES, "fired", "rejected"):
                raise RequestError(400, f"tag_status={flt.tag_status!r}: expected one of "
                                        f"{', '.join((*TAG_STATUSES, 'fired', 'rejected'))}")
            if flt.tag is None:
                if flt.tag_status == "fired":
                    where.append("n_fired > 0")
                elif flt.tag_status == "rejected":
                    where.append("n_rejected > 0")
                else:
                    where.append("instr(facets, ?) > 0")
                    args.append(_facet("S", str(flt.tag_status)))
            else:
                where.append("instr(facets, ?) > 0")
                if flt.tag_status in (None, "fired"):
                    args.append(_facet("t", flt.tag))
                elif flt.tag_status == "rejected":
                    args.append(_facet("r", flt.tag))
                else:
                    args.append(_facet("s", flt.tag, str(flt.tag_status)))
        if flt.status is not None:
            text = flt.status.strip().lower()
            if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
                where.append("status >= ? AND status < ?")
                args.extend([int(text[0]) * 100, int(text[0]) * 100 + 100])
            elif text.isdigit():
                where.append("status = ?")
                args.append(int(text))
            else:
                raise RequestError(400, f"status={flt.status!r}: expected a status code like 204 or a class like 4xx")
        if flt.since is not None:
            where.append("time >= ?")
            args.append(flt.since)
        if flt.after is not None:
            where.append("id > ?")
            args.append(flt.after)
        if flt.client is not None:
            if flt.client == "":
                where.append("client IS NULL")
            else:
                where.append("client = ?")
                args.append(flt.client)
        if flt.rejected is not None:
            where.append("n_rejected > 0" if flt.rejected else "n_rejected = 0")
        limit = max(0, min(int(flt.limit), MAX_PAGE))
        sql = f"SELECT {self._LIST_COLUMNS} FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args.extend([limit, max(0, int(flt.offset))])
        with self._conn() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [self._listing(r) for r in rows]

    def get_request(self, request_id: int) -> dict[str, Any] | None:
        """One request in full: id, time, counts, then the report's own fields (docs/preview.md, "The
        inspection API"). A request stored as an outcome is explained now (server/rerun.py)."""
        self._await_others()
        with self._conn() as conn:
            row = conn.execute(f"SELECT {self._LIST_COLUMNS}, input, report FROM requests WHERE id = ?",
                               (request_id,)).fetchone()
            if row is None:
                return None
            report = json.loads(row[-1])
            summary = json.loads(row[-3])
            summaries = _summary_events(summary)
            if RERUN_KEY in report:
                report[RERUN_KEY]["request"] = row[-2]
                report = self._outcome(conn, request_id, row, report, summary)
        out = self._listing(row[:-2])
        del out["events"]
        for event, summary in zip(report.get("events") or [], summaries, strict=True):
            event["event_name"] = summary["event_name"]
        out.update(report)
        return out

    def _outcome(self, conn: sqlite3.Connection, request_id: int, row: tuple[Any, ...], stored: dict[str, Any],
                 summary: Any) -> dict[str, Any]:
        """The report of a request stored as an outcome: what happened from the summary and the
        outgoing rows, explained by the Preview's explainer (a re-run) when there is one."""
        events: list[dict[str, Any]] = [
            {"event_data": {"event_name": name}, "outgoing": [],
             "tags": [{"name": t, "status": status, "fired": bool(fired), "vendor_rejected": bool(rejected)}
                      for t, status, fired, rejected in tags]}
            for name, tags in summary[1]]
        for idx, entry in conn.execute("SELECT event_idx, entry FROM outgoing WHERE request_id = ? ORDER BY id",
                                       (request_id,)):
            events[idx]["outgoing"].append(json.loads(entry))
        stored.update(client=row[6], response={"status": row[5]}, events=events)
        if self.explainer is None:
            return unexplained(stored, "this store was opened without the container that wrote it")
        return self.explainer(stored)

    def list_outgoing(
        self, *, tag: str | None = None, vendor_ok: bool | None = None, request_id: int | None = None,
        limit: int = DEFAULT_PAGE, offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Outgoing HTTP requests with the vendor's answers, newest first."""
        self._await_others()
        where: list[str] = []
        args: list[Any] = []
        if tag is not None:
            where.append("tag = ?")
            args.append(tag)
        if vendor_ok is not None:
            where.append("vendor_ok = ?")
            args.append(int(vendor_ok))
        if request_id is not None:
            where.append("request_id = ?")
            args.append(request_id)
        sql = "SELECT id, request_id, event_idx, idx, time, entry FROM outgoing"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args.extend([max(0, min(int(limit), MAX_PAGE)), max(0, int(offset))])
        with self._conn() as conn:
            rows = conn.execute(sql, args).fetchall()
        out = []
        for oid, rid, event_idx, idx, at, entry in rows:
            item = {"id": oid, "request_id": rid, "event_index": event_idx, "index": idx, "time": at}
            item.update(json.loads(entry))
            item.pop(RESPONSE_TEXT, None)  # kept for a re-run only
            out.append(item)
        return out

    def summary(self) -> dict[str, Any]:
        """Counts over what the store holds."""
        self._await_others()
        with self._conn() as conn:
            row = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(n_events), 0), COALESCE(SUM(n_fired), 0), COALESCE(SUM(n_succeeded), 0),"
                " COALESCE(SUM(n_failed), 0), COALESCE(SUM(n_rejected), 0), COALESCE(SUM(n_outgoing), 0),"
                " MIN(time), MAX(time), MAX(id) FROM requests").fetchone()
            rejected_out = conn.execute(
                "SELECT COUNT(*) FROM outgoing WHERE vendor_ok = 0").fetchone()[0]
        return {
            "requests": row[0], "events": row[1], "tags_fired": row[2], "tags_succeeded": row[3],
            "tags_failed": row[4], "tags_rejected_by_vendor": row[5], "outgoing": row[6],
            "outgoing_not_ok": rejected_out,
            "first_time": row[7], "last_time": row[8], "last_id": row[9],
            "retention": self.retention,
            "retention_bytes": self.retention_bytes,
        }

    def count(self) -> int:
        self._await_others()
        with self._conn() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def _marshals(item: Any) -> bool:
    try:
        marshal.dumps(item)
    except ValueError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Flushed:
    """A marker in the writer's queue: set once everything queued before it is committed."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Writer:
    """The background writer of one process: a queue of reports and a thread storing them in batches
    (committed here, or appended to the spool).

    A request only appends to the queue (``deque.append`` needs no lock) and marks the process
    ``busy`` in the shared table (one store into shared memory, no lock). The thread works in
    rounds, at most one per flush interval (sooner for a full batch or a flush): a round numbered
    ``s`` first publishes ``sent = s``, then clears ``busy``, then stores everything queued at that
    moment, then publishes ``committed = s``. So anything queued before another process reads
    ``busy == 0`` is in round ``sent`` or earlier, and anything queued while it reads ``busy == 1``
    is in round ``sent + 1`` or earlier (:meth:`SQLiteStore._await_others`). A flush in this process
    appends a marker and waits for it, so it waits for exactly what was queued before it."""

    def __init__(self, store: SQLiteStore):
        self.store = store
        self.pid = os.getpid()
        self.queue: deque[_Queued | _Flushed] = deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.flush_wanted = False
        self.round = 0
        assert store._slots is not None  # a background store
        self.slots = store._slots
        self.slot = store._claim_slot()
        self.spool = spool.SpoolWriter(store._spool_dir) if store._spooling and store._spool_dir else None
        self.thread = threading.Thread(target=self._run, name="preview-store-writer", daemon=True)
        self.thread.start()
        atexit.register(self.flush, 10.0)

    def submit(self, item: _Queued) -> None:
        queue = self.queue
        if len(queue) >= self.store.max_queue and self.thread.is_alive():
            with self.cond:  # the writer is behind: wait for room rather than drop a hit
                while len(queue) >= self.store.max_queue and self.thread.is_alive():
                    self.cond.wait(0.1)
        queue.append(item)
        if self.slot is not None:
            self.slots[self.slot + 1] = 1  # busy: after the append (a read in another process waits for it)
        if len(queue) == self.store.max_batch:  # a full batch: no need to wait for the interval
            with self.cond:
                self.cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        if not self.thread.is_alive():
            self._drain_here()
            return True
        marker = _Flushed()
        self.queue.append(marker)
        self.flush_wanted = True  # after the append: the writer that sees the flag finds the marker
        with self.cond:
            self.cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not marker.done.wait(0.05):
            if not self.thread.is_alive():
                self._drain_here()
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def stop(self) -> None:
        self.flush(10.0)
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.thread.join(timeout=10)
        if self.spool is not None and not self.thread.is_alive():
            self.spool.close()

    def _take(self) -> tuple[list[_Queued], list[_Flushed]]:
        """Up to a batch of reports, and the markers met on the way (a marker ends the batch)."""
        batch: list[_Queued] = []
        markers: list[_Flushed] = []
        queue = self.queue
        while queue and len(batch) < self.store.max_batch:
            item = queue.popleft()
            if isinstance(item, _Flushed):
                markers.append(item)
                break
            batch.append(item)
        return batch, markers

    def _commit(self, batch: list[_Queued], markers: list[_Flushed]) -> None:
        try:
            if batch:
                self.store._store_batch(batch, self.spool)
        except Exception:  # the database is gone (closed, disk full): logged, the writer goes on
            logging.getLogger("gtm_emulator").exception("preview store: cannot write a batch")
        finally:
            for marker in markers:
                marker.done.set()

    def _round(self) -> None:
        """Store everything queued now (the order of the steps matters, see the class)."""
        slots, slot = self.slots, self.slot
        number = self.round + 1
        if slot is not None:
            slots[slot + 2] = number  # sent
            slots[slot + 1] = 0  # busy
        left = len(self.queue)  # what is queued now (a marker appended before the flag was set included)
        while left > 0 and self.queue:
            batch, markers = self._take()
            left -= len(batch) + len(markers)
            self._commit(batch, markers)
        self.round = number
        if slot is not None:
            slots[slot + 3] = number  # committed

    def _drain_here(self) -> None:
        """Store what is queued on the calling thread (the writer thread is gone)."""
        while self.queue:
            self._round()

    def _busy(self) -> bool:
        return self.slot is not None and bool(self.slots[self.slot + 1])

    def _run(self) -> None:
        """A round once per flush interval (sooner for a full batch or a flush): one batch per
        interval keeps the writer's turns on the GIL few, since each call into SQLite or the socket
        hands the GIL over and takes it back, and each turn costs the request threads a switch."""
        while True:
            with self.cond:
                self.cond.notify_all()  # room in the queue (a request may be waiting for it)
                if self.stopping and not self.queue:
                    return
                if len(self.queue) < self.store.max_batch and not self.flush_wanted:
                    self.cond.wait(self.store.flush_interval)
                self.flush_wanted = False
            if self.queue or self._busy():
                self._round()
