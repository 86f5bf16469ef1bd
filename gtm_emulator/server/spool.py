"""The Preview store's spool: the files ``serve``'s workers append their batches to.

With ``serve``, a worker does not write SQLite rows. Its writer thread appends each batch (the
plain values :func:`~gtm_emulator.server.store.to_wire` makes, once per flush interval) to a file
of its own in ``<store>-spool/``, one ``write`` per batch. The rows are built and committed later by
whoever *indexes* the spool (:meth:`SQLiteStore._index_spool`): the store's own process, while
the machine has idle CPU and at the lowest priority (:mod:`.store_process`), any read of the store
first (so a read still sees every hit answered before it), and the store's close. So a hit costs
the serving processes only its encoding and an append; building rows and SQLite's work wait until a
core is idle or someone looks.

Hits that retention would delete are never indexed: when more hits are waiting than the store
keeps (``retention``), the oldest are passed over, and the ids move on as if they had been stored
and pruned. A writer checks that each time it starts a new file, so the spool stays bounded
(about ``retention`` hits plus one file per worker) even when nothing indexes it.

The format, per file (``<pid>-<token>-<sequence>.spool``, mode 0600, in a 0700 directory): frames of
a header (:data:`HEADER`: magic ``GSP1``, payload length, CRC-32 of the payload, number of items,
time of the first item) and the payload. A writer holds an exclusive ``flock`` on the file it
appends to and creates it under another name before it has the lock, so a file whose lock can be
taken is one no writer will extend again (rotated, or its process is gone). A file is deleted once
it is finished and indexed to its end; an incomplete last frame of a finished file (its process was
killed in the middle of a ``write``) is dropped with a warning naming the file.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import struct
import zlib
from dataclasses import dataclass

MAGIC = b"GSP1"
HEADER = struct.Struct("<4sIIId")  # magic, payload length, crc32, items, time of the first item
FILE_BYTES = 4 * 2**20  # a writer starts a new file after this many bytes
SUFFIX = ".spool"

log = logging.getLogger("gtm_emulator")


def spool_dir(store_path: str) -> str:
    """Where the spool of the store at ``store_path`` lives (beside it, like SQLite's ``-wal``)."""
    return store_path + "-spool"


class SpoolWriter:
    """One process's appender: frames to a file of its own, a new file every :data:`FILE_BYTES`."""

    def __init__(self, directory: str):
        self.directory = directory
        self.pid = os.getpid()
        self.token = secrets.token_hex(4)
        self.sequence = 0
        self.fd: int | None = None
        self.size = 0

    def append(self, payload: bytes, items: int, first_time: float) -> bool:
        """Append one frame; True when it started a new file (the caller then trims the spool).
        OSError when the file cannot be written (the caller stores the batch another way)."""
        started = False
        if self.fd is None or self.size >= FILE_BYTES:
            self._next_file()
            started = True
        assert self.fd is not None
        data = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload), items, first_time) + payload
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
        except OSError:
            self.close()  # a partial frame stays behind as the incomplete tail of a finished file
            raise
        self.size += len(data)
        return started

    def _next_file(self) -> None:
        self.close()
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self.sequence += 1
        name = f"{self.pid}-{self.token}-{self.sequence:06d}"
        temporary = os.path.join(self.directory, name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # before the file has its indexable name (see the module)
            os.rename(temporary, os.path.join(self.directory, name + SUFFIX))
        except OSError:
            os.close(fd)
            raise
        self.fd, self.size = fd, 0

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock: the file is finished
            self.fd = None


@dataclass
class Frame:
    """A complete frame found in a spool file (its payload is read only when it is indexed)."""

    file: str
    start: int  # offset of the payload
    end: int  # offset after the frame
    items: int
    time: float
    crc: int


@dataclass
class SpoolFile:
    name: str
    size: int
    finished: bool  # no writer will extend it
    frames: list[Frame]
    tail: str | None  # why the bytes after the last frame are not one (a finished file's tail is dropped)


def _finished(path: str) -> bool:
    """Whether no writer holds the file (its lock can be taken)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    finally:
        os.close(fd)  # releases the lock if it was taken
    return True


def scan(directory: str, offsets: dict[str, int]) -> list[SpoolFile]:
    """The spool's files with their frames not indexed yet (from ``offsets``: file name -> offset
    up to which it was indexed). Headers only; a frame's payload is read by :func:`payload`."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return []
    files = []
    for name in names:
        path = os.path.join(directory, name)
        finished = _finished(path)  # before the size: a finished file's size is final
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            size = os.fstat(fd).st_size
            frames, position, tail = [], offsets.get(name, 0), None
            while position < size:
                if size - position < HEADER.size:
                    tail = f"{size - position} bytes, less than a frame's header"
                    break
                magic, length, crc, items, first = HEADER.unpack(os.pread(fd, HEADER.size, position))
                if magic != MAGIC:
                    tail = f"no frame at offset {position}"
                    break
                end = position + HEADER.size + length
                if end > size:
                    tail = f"a frame at offset {position} cut after {size - position} of {end - position} bytes"
                    break
                frames.append(Frame(name, position + HEADER.size, end, items, first, crc))
                position = end
        finally:
            os.close(fd)
        files.append(SpoolFile(name, size, finished, frames, tail))
    return files


def payload(directory: str, frame: Frame) -> bytes:
    """A frame's payload; ValueError when it does not match its checksum."""
    with open(os.path.join(directory, frame.file), "rb") as f:
        f.seek(frame.start)
        data = f.read(frame.end - frame.start)
    if len(data) != frame.end - frame.start or zlib.crc32(data) != frame.crc:
        raise ValueError(f"spool file {frame.file}: the frame at offset {frame.start - HEADER.size} "
                         "does not match its checksum")
    return data


def remove(directory: str, names: list[str]) -> None:
    """Delete finished files that were indexed to their end (the folder stays)."""
    for name in names:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
