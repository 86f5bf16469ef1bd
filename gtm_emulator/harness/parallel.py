"""Replay on every core, or on a Dask cluster: shards replayed independently, summaries merged in order.

:func:`replay` is the Python API behind ``gtm-emulator replay``::

    from gtm_emulator.harness.parallel import replay

    summary = replay(["traffic/*.ndjson.gz"], container="container.json")            # every core
    summary = replay(["day.ndjson"], workers=1)                                        # one process
    comparison = replay(["day.ndjson"], container="a.json", against="b.json")        # --against
    summary = replay(["s3://bucket/day/*.ndjson.gz"], client=dask_client)              # a Dask cluster

The input is cut into shards (:mod:`~gtm_emulator.harness.replay_inputs`); each worker process
loads the container(s) once and replays whole shards; the partial summaries are merged in input
order, whichever shard finishes first, so the result (per-tag counts, ``--against`` differences and
their examples, bad lines and their order) is the same as with one worker. Each request is replayed
on its own clock and its own seeded randomness, so cutting the input does not change what it does.
A container whose templates keep state from one request to the next (``templateDataStorage``) sees
only the requests of its shard: such state is per shard.

At most :data:`IN_FLIGHT_PER_WORKER` shards per worker are read ahead, so memory stays bounded
whatever the input's size.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import ReplayFileError
from .replay import (
    MAX_EXAMPLES,
    Comparison,
    ReplaySummary,
    compare,
    har_entries,
    har_items,
    ndjson_items,
    replay_container,
)
from .replay import replay as replay_items
from .replay_inputs import CHUNK_LINES, SHARD_BYTES, Shard, expand, open_input, plan, sniff

IN_FLIGHT_PER_WORKER = 3
ContainerSource = str | os.PathLike[str] | Mapping[str, Any] | None


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Job:
    """What every shard is replayed with (picklable: sent to each worker once)."""

    container: Any = None  # a path, a container dict, or None for the bundled container
    against: Any = None
    preview: bool = False
    now: float | None = None
    label_a: str = "A"
    label_b: str = "B"
    max_examples: int = MAX_EXAMPLES

    def key(self) -> str:
        import json

        return json.dumps([_source_key(self.container), _source_key(self.against), self.preview], default=str)


def _absolute(source: Any) -> Any:
    """A container path made absolute (workers may run elsewhere); dicts and None as they are."""
    if source is None or isinstance(source, Mapping):
        return source
    return os.path.abspath(os.fspath(source))


def _source_key(source: Any) -> Any:
    if source is None or isinstance(source, Mapping):
        return source
    return os.path.abspath(os.fspath(source))


_CONTAINERS: dict[str, tuple[Any, Any]] = {}  # per process: containers loaded for a job


def _containers(job: Job) -> tuple[Any, Any]:
    key = job.key()
    loaded = _CONTAINERS.get(key)
    if loaded is None:
        main = replay_container(job.container, preview=job.preview)
        other = replay_container(job.against, preview=job.preview) if job.against is not None else None
        loaded = _CONTAINERS[key] = (main, other)
    return loaded


def shard_items(shard: Shard) -> Iterator[Any]:
    """The requests and bad lines of one shard."""
    from .replay_inputs import shard_lines

    if shard.format == "ndjson":
        return ndjson_items(shard_lines(shard), shard.display, shard.first_line)
    if shard.format == "har":
        data = shard.data
        if data is None:
            with open_input(shard.path or "") as fh:
                data = fh.read()
        return har_items(har_entries(data, shard.display), shard.display)
    # a URL: opened by the worker that replays it
    return _url_items(shard.path or "", shard.display)


def _url_items(name: str, display: str) -> Iterator[Any]:
    with open_input(name) as fh:
        fmt, head, rest = sniff(fh, name)
        if fmt == "har":
            yield from har_items(har_entries(b"".join(head) + b"".join(rest), display), display)
            return
        import itertools

        yield from ndjson_items(itertools.chain(head, rest), display)


def run_shard(job: Job, shard: Shard, containers: tuple[Any, Any] | None = None) -> ReplaySummary | Comparison:
    """Replay one shard (in a worker process, a Dask worker, or in-process)."""
    main, other = containers or _containers(job)
    items = shard_items(shard)
    if other is None:
        return replay_items(items, main, now=job.now)
    return compare(items, main, other, label_a=job.label_a, label_b=job.label_b, now=job.now,
                   max_examples=job.max_examples)


def _empty(job: Job, containers: tuple[Any, Any]) -> ReplaySummary | Comparison:
    main, other = containers
    if other is None:
        return replay_items([], main)
    return compare([], main, other, label_a=job.label_a, label_b=job.label_b)


Progress = Callable[[int, int | None], None]  # (lines done, total lines or None)


def _merge(total: ReplaySummary | Comparison, part: ReplaySummary | Comparison, job: Job) -> None:
    if isinstance(total, Comparison):
        assert isinstance(part, Comparison)
        total.merge(part, job.max_examples)
    else:
        assert isinstance(part, ReplaySummary)
        total.merge(part)


def _lines(shard: Shard) -> int:
    return shard.lines


def _ordered(submit: Callable[[Shard], Future[Any]], shards: Iterator[Shard], window: int,
             result: Callable[[Future[Any]], Any]) -> Iterator[tuple[Shard, Any]]:
    """Results of ``shards`` in order, with at most ``window`` submitted and not yet collected."""
    pending: deque[tuple[Shard, Future[Any]]] = deque()
    for shard in shards:
        pending.append((shard, submit(shard)))
        while len(pending) >= window:
            done_shard, future = pending.popleft()
            yield done_shard, result(future)
    while pending:
        done_shard, future = pending.popleft()
        yield done_shard, result(future)


def _init_worker(job: Job) -> None:
    _containers(job)  # load once, before the first shard arrives


def replay(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    container: ContainerSource = None,
    *,
    against: ContainerSource = None,
    workers: int | None = None,
    client: Any = None,
    now: float | None = None,
    preview: bool = False,
    label_a: str | None = None,
    label_b: str | None = None,
    max_examples: int = MAX_EXAMPLES,
    progress: Progress | None = None,
    shard_bytes: int = SHARD_BYTES,
    chunk_lines: int = CHUNK_LINES,
) -> ReplaySummary | Comparison:
    """Replay ``inputs`` (paths, globs, ``-``, URLs) through ``container``; with ``against``, compare.

    ``workers``: processes on this machine (default: one per core; 1 replays in this process).
    ``client``: a ``dask.distributed.Client``; shards then run on its workers (``workers`` is ignored).
    ``progress(done, total)`` is called after each shard with the lines replayed so far and the total
    when it is known (``None`` for streams). Raises :class:`ReplayFileError` for an unreadable input,
    :class:`~gtm_emulator.errors.ConfigError` for an invalid container."""
    names = expand([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))
    job = Job(_absolute(container), _absolute(against), preview, now,
              label_a or (str(container) if container is not None else "the bundled default container"),
              label_b or (str(against) if against is not None else ""), max_examples)
    local = _containers(job)  # validates the containers here, before any worker starts
    total_lines: int | None
    work = plan(names, shard_bytes=shard_bytes, chunk_lines=chunk_lines)
    total_lines = work.total_lines
    result = _empty(job, local)
    done = 0

    def collect(pairs: Iterable[tuple[Shard, Any]]) -> None:
        nonlocal done
        for shard, part in pairs:
            _merge(result, part, job)
            done += _lines(shard)
            if progress is not None:
                progress(done, total_lines)

    if client is not None:
        collect(_ordered(lambda shard: client.submit(run_shard, job, shard, pure=False), work.shards,
                         window=IN_FLIGHT_PER_WORKER * max(1, _dask_workers(client)),
                         result=lambda future: future.result()))
        return result
    count = default_workers() if workers is None else workers
    if count < 1:
        raise ValueError(f"workers must be at least 1, not {count}")
    shards = work.shards
    first = list(_take(shards, 2))
    if count == 1 or len(first) < 2:  # one shard (or one worker): no process to start
        collect((shard, run_shard(job, shard, local)) for shard in _chain(first, shards))
        return result
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # safe whatever threads this process runs
    with ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_init_worker,
                             initargs=(job,)) as pool:
        collect(_ordered(lambda shard: pool.submit(run_shard, job, shard), _chain(first, shards),
                         window=IN_FLIGHT_PER_WORKER * count, result=lambda future: future.result()))
    return result


def _take(items: Iterator[Shard], n: int) -> Iterator[Shard]:
    for _ in range(n):
        try:
            yield next(items)
        except StopIteration:
            return


def _chain(first: list[Shard], rest: Iterator[Shard]) -> Iterator[Shard]:
    yield from first
    yield from rest


def _dask_workers(client: Any) -> int:
    try:
        return len(client.scheduler_info().get("workers", {})) or 1
    except Exception:  # an old or unreachable scheduler: fall back to a small window
        return 1


def connect(address: str) -> Any:
    """A Dask distributed client for a scheduler address (``tcp://host:8786``)."""
    try:
        from distributed import Client
    except ImportError:
        raise ReplayFileError("--cluster needs Dask's distributed scheduler: pip install 'dask[distributed]'") from None
    try:
        return Client(address, timeout="10s")
    except OSError as exc:
        raise ReplayFileError(f"--cluster {address}: cannot reach the Dask scheduler: {exc}") from None


class RateMeter:
    """Rate and time left from (done, total) samples, for a progress line."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = clock()

    def line(self, done: int, total: int | None) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = done / elapsed
        text = f"replaying {done:,}" + (f"/{total:,} lines ({100 * done / total:.0f}%)" if total else " lines")
        text += f"  {rate:,.0f}/s"
        if total and rate > 0 and done < total:
            left = int((total - done) / rate)
            text += f"  ETA {left // 3600:d}:{left // 60 % 60:02d}:{left % 60:02d}"
        text += f"  {int(elapsed) // 60:d}:{int(elapsed) % 60:02d} elapsed"
        return text


def terminal_progress(stream: Any = None) -> Progress:
    """A progress callback that redraws one line on a terminal (stderr by default)."""
    out = stream or sys.stderr
    meter = RateMeter()

    def show(done: int, total: int | None) -> None:
        out.write("\r\x1b[2K" + meter.line(done, total))
        out.flush()

    return show
