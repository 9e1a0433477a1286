"""Streaming decompression that notices truncation.

Beam's compressed reader ends quietly at a cut-off .gz or .zst, which would lose records
without a trace; these readers raise ``TruncatedInputError`` instead, so the loss is reported.
"""
from __future__ import annotations

import bz2
import zlib
from typing import Any, Callable, Iterator, Protocol

import zstandard

CHUNK = 1 << 20


class TruncatedInputError(IOError):
    """A compressed stream ended before its end-of-stream marker."""


class _Decompressor(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes) -> bytes: ...


FACTORIES: dict[str, Callable[[], _Decompressor]] = {
    ".gz": lambda: zlib.decompressobj(wbits=47),  # gzip or zlib header, auto-detected
    ".zst": lambda: zstandard.ZstdDecompressor().decompressobj(),
    ".bz2": bz2.BZ2Decompressor,
}


def compression_of(path: str) -> str | None:
    return next((ext for ext in FACTORIES if path.endswith(ext)), None)


def decompressed_chunks(raw: Any, extension: str) -> Iterator[bytes]:
    """Decompressed data of a file object; multi-member/multi-frame streams are followed."""
    factory = FACTORIES[extension]
    decompressor = factory()
    pending = b""
    while True:
        data = pending or raw.read(CHUNK)
        pending = b""
        if not data:
            break
        out = decompressor.decompress(data)
        if out:
            yield out
        if decompressor.eof:
            pending = decompressor.unused_data
            decompressor = factory()
            if not pending:
                nxt = raw.read(CHUNK)
                if not nxt:
                    return
                pending = nxt
    if not decompressor.eof:
        raise TruncatedInputError("compressed stream ends before its end marker (truncated or corrupt file)")


class Oversized(int):
    """Stands in for a line longer than the limit (its length in bytes); its content was not kept."""


def lines(raw: Any, extension: str | None, max_line_bytes: int | None = None) -> Iterator[bytes | Oversized]:
    """Lines (with their endings) of a file object, decompressing when ``extension`` says so.

    A line over ``max_line_bytes`` is never held in memory whole: it yields ``Oversized(length)``,
    which bounds what a decompression bomb or a runaway line can cost.
    """
    chunks = decompressed_chunks(raw, extension) if extension else iter(lambda: raw.read(CHUNK), b"")
    pending: list[bytes] = []  # pieces of a line longer than a chunk, joined once
    pending_size = 0
    oversized = False
    for chunk in chunks:
        if b"\n" not in chunk:
            pending_size += len(chunk)
            if max_line_bytes is not None and pending_size > max_line_bytes:
                oversized, pending = True, []
            else:
                pending.append(chunk)
            continue
        parts = chunk.split(b"\n")
        head = b"".join([*pending, parts[0]])
        first_size = pending_size + len(parts[0])
        if oversized or (max_line_bytes is not None and first_size > max_line_bytes):
            yield Oversized(first_size + 1)
        else:
            yield head + b"\n"
        for part in parts[1:-1]:
            yield Oversized(len(part) + 1) if max_line_bytes is not None and len(part) > max_line_bytes else part + b"\n"
        pending, pending_size, oversized = [parts[-1]], len(parts[-1]), False
    if oversized or (max_line_bytes is not None and pending_size > max_line_bytes):
        yield Oversized(pending_size)
    else:
        rest = b"".join(pending)
        if rest:
            yield rest
