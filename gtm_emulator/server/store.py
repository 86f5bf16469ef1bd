"""The preview store: everything the container did, kept in SQLite so it survives a restart.

One row per incoming request holds the whole report (``Report.to_dict()``: secrets are already
masked there) as JSON, next to summary columns used for filtering: HTTP status, claiming client,
event count and tag counts (fired, succeeded, failed, rejected by the vendor). Two small tables
index what a filter needs without parsing JSON: ``events`` (one row per event, with its name) and
``tags`` (one row per tag result). ``outgoing`` keeps one row per outgoing HTTP request with the
vendor's answer, so the outgoing list is a plain query.

Several processes may write the same file (gunicorn workers): the database runs in WAL mode,
every connection waits up to ``busy_timeout_ms`` for a lock, and each write is one short
``BEGIN IMMEDIATE`` transaction. Connections are opened lazily, one per thread and per process,
so a store created before gunicorn forks its workers is safe to use in each of them. The special
path ``":memory:"`` keeps everything in one process-private connection guarded by a lock (tests).

Choices (easy to change):

- ``DEFAULT_RETENTION``: the newest 10,000 requests are kept; older ones are deleted as new ones
  arrive, whichever process wrote them (by id range, so the cost does not grow with the store).
- ``DEFAULT_BODY_LIMIT``: request and response bodies longer than 64 KiB characters are cut and
  the record says so (``body_truncated`` on the request, the response or the outgoing entry).
- The list of requests is newest first. ``since`` takes epoch seconds or an ISO 8601 time.
- ``reset()`` deletes every record; ids keep growing (a UI polling with ``after=<id>`` never sees
  an old id reused).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, get_args

from ..core.report import Report
from ..core.statuses import TagStatus
from ..errors import RequestError

DEFAULT_PATH = "gtm-emulator.sqlite3"
DEFAULT_RETENTION = 10_000
DEFAULT_BODY_LIMIT = 65_536
DEFAULT_BUSY_TIMEOUT_MS = 10_000
MAX_PAGE = 1000
DEFAULT_PAGE = 100
SCHEMA_VERSION = 1

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
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time);
CREATE TABLE IF NOT EXISTS events (
    request_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (request_id, idx)
);
CREATE INDEX IF NOT EXISTS events_name ON events(name, request_id);
CREATE TABLE IF NOT EXISTS tags (
    request_id INTEGER NOT NULL,
    event_idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    fired INTEGER NOT NULL,
    vendor_rejected INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_request ON tags(request_id);
CREATE INDEX IF NOT EXISTS tags_name ON tags(name, request_id);
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
"""

TAG_STATUSES: tuple[str, ...] = get_args(TagStatus)


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


def _event_name(event: dict[str, Any]) -> str:
    name = event.get("event_data", {}).get("event_name")
    if name is None:
        return ""
    return name if isinstance(name, str) else json.dumps(name)


class _Prepared(NamedTuple):
    row: tuple[Any, ...]
    event_rows: list[tuple[int, str | None]]
    tags: list[tuple[int, dict[str, Any]]]
    outgoing: list[tuple[int, int, dict[str, Any]]]
    now: float


class _Pending:
    """A report waiting in the group-commit queue."""

    __slots__ = ("done", "error", "prepared", "rid")

    def __init__(self, prepared: _Prepared):
        self.prepared = prepared
        self.done = threading.Event()
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
    ):
        if retention < 1:
            raise ValueError(f"retention must be at least 1, not {retention}")
        self.path = str(path)
        self.retention = retention
        self.body_limit = body_limit
        self.busy_timeout_ms = busy_timeout_ms
        self.clock = clock
        self.memory = self.path == ":memory:"
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
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
        """Close every connection this process opened (the file stays; an in-memory store is gone)."""
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

    def hook(self, report: Report, elapsed_ms: float) -> None:
        """A report hook for ``create_app(on_report=[store.hook])``: saves the report."""
        self.add(report.to_dict(), elapsed_ms=elapsed_ms)

    def add(self, report: dict[str, Any], *, elapsed_ms: float | None = None, at: float | None = None) -> int:
        """Save one report (``Report.to_dict()``); returns the new request id once it is committed.

        Concurrent writers share transactions (group commit): the first becomes the leader and
        commits everything queued meanwhile in one transaction, so the cost of a commit is shared
        under load while every call still returns only after its own row is in the database."""
        pending = _Pending(self._prepare(report, elapsed_ms, at))
        with self._group_lock:
            if self._group_pid != os.getpid():  # a forked worker starts with an empty queue
                self._group_pid, self._group_queue, self._group_leader = os.getpid(), [], False
            self._group_queue.append(pending)
            leader = not self._group_leader
            self._group_leader = True
        if leader:
            self._commit_queued()
        else:
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
            try:
                with self._write() as conn:
                    for item in batch:
                        item.rid = self._insert(conn, item.prepared)
                    self._prune(conn, max(item.rid for item in batch if item.rid is not None))
            except Exception:
                for item in batch:  # one bad row must not fail the others: one transaction each
                    try:
                        with self._write() as conn:
                            item.rid = self._insert(conn, item.prepared)
                            self._prune(conn, item.rid)
                    except Exception as exc:
                        item.error = exc
            for item in batch:
                item.done.set()

    def _prepare(self, report: dict[str, Any], elapsed_ms: float | None, at: float | None) -> _Prepared:
        """Everything of a row that needs no database: truncation, summary columns, JSON texts."""
        now = self.clock() if at is None else at
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

        query = request.get("query") or ""
        url = str(request.get("path") or "/") + (f"?{query}" if query else "")
        tags = [(i, t) for i, e in enumerate(events) for t in e.get("tags") or []]
        fired = [t for _, t in tags if t.get("fired")]
        outgoing = [(i, j, o) for i, e in enumerate(events) for j, o in enumerate(e.get("outgoing") or [])]
        summary = {
            "events": [
                {
                    "index": i,
                    "event_name": _event_name(e),
                    "tags_fired": [t["name"] for t in e.get("tags") or [] if t.get("fired")],
                    "tags_failed": [t["name"] for t in e.get("tags") or [] if t.get("status") == "failure"],
                    "tags_rejected": [t["name"] for t in e.get("tags") or [] if t.get("vendor_rejected")],
                    "tags_not_fired": [t["name"] for t in e.get("tags") or [] if not t.get("fired")],
                }
                for i, e in enumerate(events)
            ],
            "reason": report.get("reason"),
        }
        row = (
            now, elapsed_ms, str(request.get("method") or ""), url, int(response.get("status") or 0),
            report.get("client"), str(request.get("remote_addr") or ""), len(events), len(fired),
            sum(1 for t in fired if t.get("status") == "success"),
            sum(1 for _, t in tags if t.get("status") == "failure"),
            sum(1 for _, t in tags if t.get("vendor_rejected")),
            len(outgoing), int(cut_request or cut_response),
            json.dumps(summary, ensure_ascii=False), json.dumps(report, ensure_ascii=False),
        )
        return _Prepared(row, [(i, _event_name(e)) for i, e in enumerate(events)], tags, outgoing, now)

    def _insert(self, conn: sqlite3.Connection, prepared: _Prepared) -> int:
        """Insert one prepared report inside the caller's transaction; the new request id."""
        row, event_rows, tags, outgoing, now = prepared
        cur = conn.execute(
            "INSERT INTO requests(time, elapsed_ms, method, url, status, client, remote_addr, n_events,"
            " n_fired, n_succeeded, n_failed, n_rejected, n_outgoing, body_truncated, summary, report)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        rid = int(cur.lastrowid or 0)
        conn.executemany("INSERT INTO events(request_id, idx, name) VALUES (?, ?, ?)",
                         [(rid, i, name) for i, name in event_rows])
        conn.executemany(
            "INSERT INTO tags(request_id, event_idx, name, status, fired, vendor_rejected)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(rid, i, str(t.get("name")), str(t.get("status")), int(bool(t.get("fired"))),
              int(bool(t.get("vendor_rejected")))) for i, t in tags])
        conn.executemany(
            "INSERT INTO outgoing(request_id, event_idx, idx, time, tag, method, url, status, vendor_ok, entry)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(rid, i, j, now, str(o.get("tag")), str(o.get("method")), str(o.get("url")),
              (o.get("response") or {}).get("status"),
              None if o.get("vendor_ok") is None else int(bool(o.get("vendor_ok"))),
              json.dumps(o, ensure_ascii=False)) for i, j, o in outgoing])
        return rid

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
        if cutoff <= 0:
            return
        for table in ("events", "tags", "outgoing"):
            conn.execute(f"DELETE FROM {table} WHERE request_id <= ?", (cutoff,))
        conn.execute("DELETE FROM requests WHERE id <= ?", (cutoff,))

    def reset(self) -> int:
        """Delete every record; returns how many requests were deleted."""
        with self._write() as conn:
            count = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            for table in ("events", "tags", "outgoing", "requests"):
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
            "reason": data.get("reason"),
            "events": data["events"],
        }

    _LIST_COLUMNS = ("id, time, elapsed_ms, method, url, status, client, remote_addr, n_events, n_fired, n_succeeded,"
                     " n_failed, n_rejected, n_outgoing, body_truncated, summary")

    def list_requests(self, flt: RequestFilter | None = None, **kw: Any) -> list[dict[str, Any]]:
        """Requests, newest first, as summaries (no full report). Filters: see :class:`RequestFilter`."""
        flt = flt or RequestFilter(**kw)
        where: list[str] = []
        args: list[Any] = []
        if flt.event is not None:
            where.append("EXISTS (SELECT 1 FROM events e WHERE e.request_id = requests.id AND e.name = ?)")
            args.append(flt.event)
        if flt.tag is not None or flt.tag_status is not None:
            cond = ["t.request_id = requests.id"]
            if flt.tag is not None:
                cond.append("t.name = ?")
                args.append(flt.tag)
            if flt.tag_status is None:
                cond.append("t.fired = 1")
            elif flt.tag_status == "rejected":
                cond.append("t.vendor_rejected = 1")
            elif flt.tag_status == "fired":
                cond.append("t.fired = 1")
            elif flt.tag_status in TAG_STATUSES:
                cond.append("t.status = ?")
                args.append(flt.tag_status)
            else:
                raise RequestError(400, f"tag_status={flt.tag_status!r}: expected one of "
                                        f"{', '.join((*TAG_STATUSES, 'fired', 'rejected'))}")
            where.append(f"EXISTS (SELECT 1 FROM tags t WHERE {' AND '.join(cond)})")
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
        inspection API")."""
        with self._conn() as conn:
            row = conn.execute(f"SELECT {self._LIST_COLUMNS}, report FROM requests WHERE id = ?",
                               (request_id,)).fetchone()
        if row is None:
            return None
        out = self._listing(row[:-1])
        del out["events"]
        report = json.loads(row[-1])
        summaries = json.loads(row[-2])["events"]
        for event, summary in zip(report.get("events") or [], summaries, strict=True):
            event["event_name"] = summary["event_name"]
        out.update(report)
        return out

    def list_outgoing(
        self, *, tag: str | None = None, vendor_ok: bool | None = None, request_id: int | None = None,
        limit: int = DEFAULT_PAGE, offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Outgoing HTTP requests with the vendor's answers, newest first."""
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
            out.append(item)
        return out

    def summary(self) -> dict[str, Any]:
        """Counts over what the store holds."""
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
        }

    def count(self) -> int:
        with self._conn() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
