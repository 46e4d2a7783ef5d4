"""The .xmb file: stream-mode frames of one or more XML streams with integrity checks
(spec/xmb.md).

    file  = MAGIC version(1) flags(1) block* ; the last block is END_FILE
    block = type(1) length(4, LE) payload crc32(4, LE, of type+length+payload)

Blocks: STREAM (b"S": stream id (4, LE) + JSON metadata), FRAMES (b"F": stream id +
a piece of the stream's frames), END (b"E": stream id + JSON: XML byte count, CRC-32
of the XML, unit count, error), END_FILE (b"Z": stream count (4, LE)).
Reading checks every block's CRC before using it, so a corrupted file is reported
(with the byte offset of the block), never decoded into other XML; and the END
block's XML length and CRC check the decoded XML end to end.
"""
from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from . import stream as S
from .errors import XmppbinError

MAGIC = b"\x89XMB\r\n\x1a\n"
VERSION = 1
EXTENSION = ".xmb"
MAX_BLOCK = 1 << 24          # largest payload a reader accepts
FRAMES_BLOCK = 1 << 20       # payload size at which a writer starts a new FRAMES block
STREAM, FRAMES, END, END_FILE = b"S", b"F", b"E", b"Z"
_HEAD = struct.Struct("<cI")
_U32 = struct.Struct("<I")


class ArchiveError(ValueError):
    """A damaged or foreign .xmb file (bad magic, checksum, truncation, structure)."""

    def __init__(self, message: str, offset: int) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(f"{message} (at byte {offset})")


def block(kind: bytes, payload: bytes) -> bytes:
    head = _HEAD.pack(kind, len(payload))
    return head + payload + _U32.pack(zlib.crc32(payload, zlib.crc32(head)))


def file_head() -> bytes:
    return MAGIC + bytes((VERSION, 0))


def file_end(streams: int) -> bytes:
    return block(END_FILE, _U32.pack(streams))


def count_frames(data: bytes) -> int:
    """Number of whole frames in a run of frames."""
    n = pos = 0
    while pos < len(data):
        r = S.get_varint(data, pos, len(data))
        if r is None:
            break
        v, pos = r
        pos += S.frame_header(v)[1]
        n += 1
    return n


class StreamWriter:
    """Encodes one XML stream into the blocks of one stream id (bounded memory)."""

    def __init__(self, sid: int, meta: dict[str, Any], emit: Callable[[bytes], None], **options: Any) -> None:
        self.sid = sid
        self.emit = emit
        self.enc = S.StreamEncoder(in_stream=bool(meta.get("in_stream")), **options)
        self.exact = bool(options.get("exact"))
        self.crc = 0
        self.size = 0
        self.units = 0
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.error: XmppbinError | None = None
        emit(block(STREAM, _U32.pack(sid) + json.dumps(meta, sort_keys=True).encode()))

    def _out(self, frames: bytes, force: bool = False) -> None:
        if frames:
            self.pending.append(frames)
            self.pending_size += len(frames)
            self.units += count_frames(frames)
        if self.pending_size >= FRAMES_BLOCK or (force and self.pending_size):
            self.emit(block(FRAMES, _U32.pack(self.sid) + b"".join(self.pending)))
            self.pending, self.pending_size = [], 0

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            frames = self.enc.feed(data)
        except XmppbinError as e:
            self.error = e
            self._out(getattr(e, "frames", b""))
            return
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._out(frames)

    def close(self) -> XmppbinError | None:
        """Ends the stream; returns the codec error that stopped it, if any (the frames of
        the units before it are kept, and the END block records the error)."""
        if self.error is None:
            try:
                self._out(self.enc.flush())
            except XmppbinError as e:
                self.error = e
        self._out(b"", force=True)
        # exact mode: the XML decoded is the input, checked end to end by its length and CRC
        end: dict[str, Any] = {"units": self.units, "exact": self.exact}
        if self.exact:
            end.update(xml_bytes=self.size, crc32=self.crc)
        err = self.error
        if err is not None:
            end = {"units": self.units, "exact": self.exact, "error": f"{type(err).__name__}: {err.reason}",
                   "error_offset": err.offset}
        self.emit(block(END, _U32.pack(self.sid) + json.dumps(end, sort_keys=True).encode()))
        return self.error


def encode_stream_blocks(sid: int, meta: dict[str, Any], data: bytes, chunk: int = 1 << 20,
                         **options: Any) -> tuple[bytes, XmppbinError | None]:
    """All blocks of one stream (used by the workers of -j N)."""
    out: list[bytes] = []
    w = StreamWriter(sid, meta, out.append, **options)
    for i in range(0, len(data), chunk):
        w.feed(data[i:i + chunk])
    err = w.close()
    return b"".join(out), err


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------

def read_blocks(f: IO[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
    """(offset, type, payload) of every block, each checked; ends after END_FILE."""
    head = f.read(len(MAGIC) + 2)
    if head[:len(MAGIC)] != MAGIC[:len(head)] or len(head) < len(MAGIC):
        raise ArchiveError("not an .xmb file (bad magic)", 0)
    if len(head) < len(MAGIC) + 2:
        raise ArchiveError("file truncated in its header", len(head))
    if head[len(MAGIC)] != VERSION:
        raise ArchiveError(f".xmb version {head[len(MAGIC)]} is not supported (this reader: {VERSION})", len(MAGIC))
    pos = len(head)
    while True:
        h = f.read(_HEAD.size)
        if not h:
            raise ArchiveError("file truncated: no end-of-file block", pos)
        if len(h) < _HEAD.size:
            raise ArchiveError("file truncated inside a block header", pos)
        kind, n = _HEAD.unpack(h)
        if kind not in (STREAM, FRAMES, END, END_FILE):
            raise ArchiveError(f"unknown block type {kind!r} (a damaged file)", pos)
        if n > MAX_BLOCK:
            raise ArchiveError(f"block length {n} over the limit {MAX_BLOCK} (a damaged file)", pos)
        body = f.read(n + 4)
        if len(body) < n + 4:
            raise ArchiveError("file truncated inside a block", pos)
        payload = body[:n]
        if _U32.unpack(body[n:])[0] != zlib.crc32(payload, zlib.crc32(h)):
            raise ArchiveError(f"checksum mismatch in the {_NAMES[kind]} block (the file is damaged)", pos)
        yield pos, kind, payload
        pos += _HEAD.size + n + 4
        if kind == END_FILE:
            if f.read(1):
                raise ArchiveError("data after the end-of-file block", pos)
            return


_NAMES = {STREAM: "STREAM", FRAMES: "FRAMES", END: "END", END_FILE: "END_FILE"}


class StreamError(ValueError):
    """A stream of an .xmb file that does not decode (codec error), with where."""

    def __init__(self, meta: dict[str, Any], unit: int, err: XmppbinError, file_offset: int) -> None:
        self.meta, self.unit, self.err, self.file_offset = meta, unit, err, file_offset
        super().__init__(f"stream {meta.get('conn')}/{meta.get('dir')}: unit {unit}: {type(err).__name__}: "
                         f"{err.reason} (frame byte {err.offset}; block at file byte {file_offset})")


def read_streams(f: IO[bytes], on_open: Callable[[int, dict], Any],
                 on_events: Callable[[int, list[S.StreamEvent]], None],
                 on_end: Callable[[int, dict], None], **options: Any) -> int:
    """Decode every stream of an .xmb file, calling back per stream; returns the stream
    count. Raises ArchiveError (damage: checksums, structure, XML length/CRC mismatch)
    or StreamError (frames that do not decode)."""
    state: dict[int, dict[str, Any]] = {}
    done = 0
    for pos, kind, payload in read_blocks(f):
        if kind == END_FILE:
            (n,) = _U32.unpack(payload)
            if state or n != done:
                raise ArchiveError(f"end-of-file block counts {n} streams, the file has {done} complete", pos)
            return done
        if len(payload) < 4:
            raise ArchiveError("block too short for its stream id", pos)
        (sid,) = _U32.unpack(payload[:4])
        body = payload[4:]
        if kind == STREAM:
            if sid in state:
                raise ArchiveError(f"stream {sid} started twice", pos)
            try:
                meta = json.loads(body)
            except ValueError:
                raise ArchiveError("unreadable stream metadata", pos) from None
            dec = S.StreamDecoder(**options)
            state[sid] = {"meta": meta, "dec": dec, "crc": 0, "size": 0, "units": 0}
            on_open(sid, meta)
            continue
        st = state.get(sid)
        if st is None:
            raise ArchiveError(f"block of stream {sid}, which is not open", pos)
        if kind == FRAMES:
            try:
                evs = st["dec"].feed(body)
            except XmppbinError as e:
                evs = getattr(e, "events", [])
                _take(st, evs, sid, on_events)
                raise StreamError(st["meta"], st["units"], e, pos) from None
            _take(st, evs, sid, on_events)
        else:  # END
            try:
                end = json.loads(body)
            except ValueError:
                raise ArchiveError("unreadable stream end record", pos) from None
            try:
                st["dec"].close()
            except XmppbinError as e:
                raise StreamError(st["meta"], st["units"], e, pos) from None
            if "crc32" in end and (end.get("xml_bytes") != st["size"] or end.get("crc32") != st["crc"]):
                raise ArchiveError(f"stream {sid}: the decoded XML does not match its recorded length and CRC", pos)
            del state[sid]
            done += 1
            on_end(sid, end)
    raise AssertionError("unreachable")  # read_blocks ends with END_FILE or raises


def _take(st: dict, evs: list, sid: int, on_events) -> None:
    for ev in evs:
        st["crc"] = zlib.crc32(ev.xml, st["crc"])
        st["size"] += len(ev.xml)
    st["units"] += len(evs)
    if evs:
        on_events(sid, evs)


def count_streams(f: IO[bytes]) -> int:
    """STREAM blocks of a seekable file, from the block headers and the STREAM blocks'
    checksums; the file is left at its start. The walk stops at the first block that
    is not intact (an unknown type, a length over the limit, a STREAM block whose
    checksum fails), so damage never counts as streams: reading reports it."""
    n = 0
    f.seek(len(MAGIC) + 2)
    while True:
        h = f.read(_HEAD.size)
        if len(h) < _HEAD.size:
            break
        kind, size = _HEAD.unpack(h)
        if kind not in _NAMES or size > MAX_BLOCK:
            break
        if kind == STREAM:
            body = f.read(size + 4)
            if len(body) < size + 4 or _U32.unpack(body[size:])[0] != zlib.crc32(body[:size], zlib.crc32(h)):
                break
            n += 1
        else:
            f.seek(size + 4, 1)
    f.seek(0)
    return n


def is_xmb(head: bytes) -> bool:
    return head.startswith(MAGIC)
