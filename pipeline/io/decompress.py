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


def lines(raw: Any, extension: str | None) -> Iterator[bytes]:
    """Lines (with their endings) of a file object, decompressing when ``extension`` says so."""
    chunks = decompressed_chunks(raw, extension) if extension else iter(lambda: raw.read(CHUNK), b"")
    pending: list[bytes] = []  # pieces of a line longer than a chunk, joined once
    for chunk in chunks:
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        parts = chunk.split(b"\n")
        parts[0] = b"".join([*pending, parts[0]])
        pending = [parts.pop()]
        for part in parts:
            yield part + b"\n"
    rest = b"".join(pending)
    if rest:
        yield rest
