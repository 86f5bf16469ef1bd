"""What ``replay`` reads, and how it is cut into shards that workers replay independently.

Inputs (each argument of ``replay``):

- a local file: NDJSON or HAR, plain or gzip-compressed (recognised by its first two bytes, whatever
  its name);
- a glob (``traffic/*.ndjson.gz``): every match, in sorted order; a glob that matches nothing is an
  error;
- ``-``: standard input (a pipe, or ``<(zcat x.gz)``), NDJSON or HAR, plain or gzip;
- a URL with a scheme (``s3://bucket/day.ndjson.gz``, ``gs://…``, ``https://…``): opened with
  fsspec (and the package of that scheme, such as ``s3fs`` or ``gcsfs``) when they are installed;
  compression is inferred from the name. Globs in URLs are expanded by fsspec.

Shards, in input order (the order results are merged in, whatever finishes first):

- a plain local NDJSON file larger than :data:`SHARD_BYTES` is cut into line ranges of about that
  size (one quick pass counts the lines, so each range knows its first line number and the progress
  bar its total); a worker opens the file and reads its own range;
- compressed files, standard input and pipes cannot be cut without reading them: the coordinating
  process reads them once, never counting ahead, and hands out chunks of :data:`CHUNK_LINES` lines;
- a HAR document is one shard (it is one JSON document);
- a URL is one shard that the worker opens itself (it must reach the URL).

Nothing here pre-reads a stream that cannot be read twice: the format is recognised from the
first non-blank line, which is then replayed like any other.
"""

from __future__ import annotations

import glob
import gzip
import io
import itertools
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ReplayFileError

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
SHARD_BYTES = 4 * 2**20  # plain NDJSON files are cut into line ranges of about this many bytes
CHUNK_LINES = 5_000  # streams are handed to workers in chunks of this many lines
_SCAN_BLOCK = 2**20


@dataclass(frozen=True)
class Shard:
    """A piece of the input that one worker replays on its own."""

    display: str  # the name used in ``file:line`` sources
    format: str  # "ndjson" or "har"
    path: str | None = None  # a local file or URL the worker opens; None: ``data`` holds the lines
    start: int = 0  # byte range of a local plain NDJSON file
    end: int | None = None
    first_line: int = 1  # number of the shard's first line in its input
    data: bytes | None = None  # the lines themselves (streams), or the whole HAR document
    lines: int = 0  # lines in the shard, when known (progress)


def _is_url(text: str) -> bool:
    head, sep, _ = text.partition("://")
    return bool(sep) and head.isascii() and head.replace("+", "").replace("-", "").isalnum() and len(head) > 1


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise ReplayFileError("reading URLs needs the fsspec package (pip install fsspec, and s3fs or gcsfs "
                               "for s3:// or gs://)") from None
    return fsspec


def expand(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Each input as one or more names: globs expanded (sorted); ``-`` and URLs kept."""
    out: list[str] = []
    stdin_seen = False
    for raw in inputs:
        item = os.fspath(raw)
        if item == STDIN:
            if stdin_seen:
                raise ReplayFileError("standard input (-) can be given only once")
            stdin_seen = True
            out.append(item)
        elif _is_url(item):
            if glob.has_magic(item):
                fs, _, paths = _fsspec().get_fs_token_paths(item)
                if not paths:
                    raise ReplayFileError(f"{item}: no file matches")
                protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
                out.extend(sorted(p if "://" in p else f"{protocol}://{p}" for p in paths))
            else:
                out.append(item)
        elif glob.has_magic(item) and not os.path.exists(item):
            matches = sorted(m for m in glob.glob(item, recursive=True) if not os.path.isdir(m))
            if not matches:
                raise ReplayFileError(f"{item}: no file matches")
            out.extend(matches)
        else:
            path = Path(item)
            if not path.exists():
                raise ReplayFileError(f"{item}: file not found")
            if path.is_dir():
                raise ReplayFileError(f"{item}: is a directory (give a glob such as {item.rstrip('/')}/*.ndjson)")
            out.append(item)
    if not out:
        raise ReplayFileError("no input given")
    return out


class _GzipOwning(gzip.GzipFile):
    """A gzip reader that closes the file under it (unless it is standard input)."""

    owned: IO[bytes] | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.owned is not None:
                self.owned.close()


def _gunzip_if_needed(fh: IO[bytes], owned: bool = True) -> IO[bytes]:
    buffered = fh if isinstance(fh, io.BufferedReader) else io.BufferedReader(fh)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        reader = _GzipOwning(fileobj=buffered, mode="rb")
        reader.owned = buffered if owned else None
        return reader  # type: ignore[return-value]
    return buffered


def open_input(name: str) -> IO[bytes]:
    """A binary stream of the input's (decompressed) bytes."""
    try:
        if name == STDIN:
            return _gunzip_if_needed(sys.stdin.buffer, owned=False)
        if _is_url(name):
            return _fsspec().open(name, "rb", compression="infer").open()
        return _gunzip_if_needed(open(name, "rb"))
    except OSError as exc:
        raise ReplayFileError(f"{_display(name)}: cannot read: {exc.strerror or exc}") from None


def _display(name: str) -> str:
    return "<stdin>" if name == STDIN else name


def looks_like_har(first_line: bytes, path: str = "") -> bool:
    """HAR when the name ends in .har, the first non-blank line is ``{`` alone, or it is a JSON object with ``log``."""
    if path.lower().endswith((".har", ".har.gz")):
        return True
    line = first_line.strip()
    if line == b"{":
        return True
    if line.startswith(b'{"log"'):
        return True
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return isinstance(obj, dict) and "log" in obj


def sniff(fh: IO[bytes], name: str = "") -> tuple[str, list[bytes], Iterator[bytes]]:
    """Read up to the first non-blank line: (format, the lines read, the rest of the stream)."""
    head: list[bytes] = []
    for raw in fh:
        head.append(raw)
        if raw.strip():
            return ("har" if looks_like_har(raw, name) else "ndjson"), head, iter(fh)
    return "ndjson", head, iter(())


def _is_plain_local(name: str) -> bool:
    """A regular local file that is not compressed (a pipe or a device is never opened here)."""
    if name == STDIN or _is_url(name):
        return False
    try:
        if not stat.S_ISREG(os.stat(name).st_mode):
            return False
        with open(name, "rb") as fh:
            return fh.read(2) != GZIP_MAGIC
    except OSError as exc:
        raise ReplayFileError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _scan_ranges(path: str, shard_bytes: int) -> list[tuple[int, int, int, int]]:
    """Line-aligned byte ranges of about ``shard_bytes``: (start, end, first line number, lines)."""
    ranges = []
    start, line_no, lines, pos, last = 0, 1, 0, 0, b"\n"
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_SCAN_BLOCK)
            if not block:
                break
            offset = 0
            while True:
                target = start + shard_bytes - 1 - pos  # cut at the first newline at or after this index
                if target >= len(block):
                    lines += block.count(b"\n", offset)
                    break
                cut = block.find(b"\n", max(target, offset))
                if cut < 0:
                    lines += block.count(b"\n", offset)
                    break
                lines += block.count(b"\n", offset, cut + 1)
                end = pos + cut + 1
                ranges.append((start, end, line_no, lines))
                start, line_no, lines = end, line_no + lines, 0
                offset = cut + 1
            pos += len(block)
            last = block[-1:]
    if pos > start:
        ranges.append((start, pos, line_no, lines + (last != b"\n")))
    return ranges


@dataclass
class Plan:
    """The shards of all inputs (lazily, for streams) and the total line count when it is known."""

    shards: Iterator[Shard]
    total_lines: int | None


def plan(names: list[str], *, shard_bytes: int = SHARD_BYTES, chunk_lines: int = CHUNK_LINES,
         split: bool = True) -> Plan:
    """Shards for ``names`` (from :func:`expand`). ``split=False`` keeps each plain file whole."""
    total: int | None = 0
    eager: list[list[Shard] | str] = []
    for name in names:
        if _is_plain_local(name):
            with open(name, "rb") as fh:
                fmt, _, _ = sniff(fh, name)
            if fmt == "har":
                eager.append([Shard(name, "har", path=name)])
                total = None
                continue
            ranges = _scan_ranges(name, shard_bytes if split else 2**62)
            eager.append([Shard(name, "ndjson", path=name, start=s, end=e, first_line=first, lines=n)
                          for s, e, first, n in ranges])
            if total is not None:
                total += sum(n for *_, n in ranges)
        elif _is_url(name):
            eager.append([Shard(name, "url", path=name)])
            total = None
        else:
            eager.append(name)  # a stream: read when its turn comes
            total = None

    def shards() -> Iterator[Shard]:
        for entry in eager:
            if isinstance(entry, list):
                yield from entry
            else:
                yield from _stream_shards(entry, chunk_lines)

    return Plan(shards(), total)


def _stream_shards(name: str, chunk_lines: int) -> Iterator[Shard]:
    display = _display(name)
    fh = open_input(name)
    try:
        try:
            fmt, head, rest = sniff(fh, name)
            if fmt == "har":
                yield Shard(display, "har", data=b"".join(head) + b"".join(rest))
                return
            lines = itertools.chain(head, rest)
            first = 1
            while True:
                chunk = list(itertools.islice(lines, chunk_lines))
                if not chunk:
                    return
                yield Shard(display, "ndjson", first_line=first, data=b"".join(chunk), lines=len(chunk))
                first += len(chunk)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ReplayFileError(f"{display}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        if name != STDIN:
            fh.close()


def shard_lines(shard: Shard) -> Iterator[bytes]:
    """The raw lines of an NDJSON shard (a worker calls this)."""
    if shard.data is not None:
        yield from io.BytesIO(shard.data)
        return
    assert shard.path is not None
    with open(shard.path, "rb") as fh:
        fh.seek(shard.start)
        remaining = None if shard.end is None else shard.end - shard.start
        for raw in fh:
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= len(raw)
            yield raw
