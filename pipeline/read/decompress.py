"""Streaming decompression that notices truncation and bounds what it inflates.

Beam's compressed reader ends quietly at a cut-off .gz or .zst, which would lose records
without a trace; these readers raise ``TruncatedInputError`` instead, so the loss is reported.
Every call inflates at most about ``CHUNK`` bytes, so memory stays flat whatever the ratio, and a
stream that inflates more than ``max_ratio`` times the compressed bytes read (past
``RATIO_FLOOR``) raises ``DecompressionBombError``: a 100 KB file cannot fill the machine.
"""
from __future__ import annotations

import bz2
import zlib
from collections.abc import Iterator
from typing import Any

try:
    from compression.zstd import ZstdDecompressor  # Python 3.14+
except ImportError:
    from backports.zstd import ZstdDecompressor

CHUNK = 1 << 20
RATIO_FLOOR = 16 << 20  # below this much output no ratio is judged: small repetitive files are fine


class TruncatedInputError(IOError):
    """A compressed stream ended before its end-of-stream marker."""


class DecompressionBombError(IOError):
    """A compressed stream that inflates far beyond any real corpus file."""


class _Member:
    """One gzip/bz2/zstd member: ``step(data)`` inflates at most ``CHUNK`` bytes of ``data`` and returns
    (output, input left over); ``eof`` once the member's end marker was read, ``unused_data`` after it."""

    def __init__(self, extension: str):
        self._gzip = extension == ".gz"
        self._full = False  # the last step filled its output: more may wait inside
        # gzip or zlib header, auto-detected; bz2 and zstd keep what they did not use (needs_input)
        self._d: Any = zlib.decompressobj(wbits=47) if self._gzip else bz2.BZ2Decompressor() if extension == ".bz2" else ZstdDecompressor()

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def step(self, data: bytes) -> tuple[bytes, bytes]:
        out = self._d.decompress(data, CHUNK)
        self._full = len(out) == CHUNK
        return out, self._d.unconsumed_tail if self._gzip else b""

    @property
    def holds_output(self) -> bool:
        """Whether the member may give more output without more input."""
        if self._d.eof:
            return False
        return self._full if self._gzip else not self._d.needs_input


EXTENSIONS = (".gz", ".zst", ".bz2")


def compression_of(path: str) -> str | None:
    return next((ext for ext in EXTENSIONS if path.endswith(ext)), None)


def decompressed_chunks(raw: Any, extension: str, max_ratio: float | None = None) -> Iterator[bytes]:
    """Decompressed data of a file object in pieces of about ``CHUNK`` bytes; multi-member and
    multi-frame streams are followed; output beyond ``max_ratio`` × input raises."""
    member = _Member(extension)
    fed = False  # the current member has been given input
    ended = False  # some member reached its end marker
    data = b""
    consumed = produced = 0
    while True:
        if not data and not member.holds_output:
            data = raw.read(CHUNK)
            if not data:
                break
            consumed += len(data)
        fed = True
        out, data = member.step(data)
        if out:
            produced += len(out)
            if max_ratio is not None and produced > RATIO_FLOOR and produced > max_ratio * consumed:
                raise DecompressionBombError(
                    f"{produced:,} bytes inflated from {consumed:,} compressed bytes exceed max_compression_ratio {max_ratio:g}")
            yield out
        if member.eof:
            data = member.unused_data + data
            member, fed, ended = _Member(extension), False, True
    if fed or not ended:
        raise TruncatedInputError("compressed stream ends before its end marker (truncated or corrupt file)")


class Oversized(int):
    """Stands in for a line longer than the limit (its length in bytes); its content was not kept."""


class BlankLines(int):
    """Stands in for that many consecutive lines holding just ``\\n`` (one byte each): a run of
    blank lines costs one object, not one per line."""


def lines(raw: Any, extension: str | None, max_line_bytes: int | None = None,
          max_ratio: float | None = None) -> Iterator[bytes | Oversized | BlankLines]:
    """Lines (with their endings) of a file object, decompressing when ``extension`` says so.

    A line over ``max_line_bytes`` is never held in memory whole: it yields ``Oversized(length)``,
    which bounds what a decompression bomb or a runaway line can cost; runs of empty lines come
    as one ``BlankLines(count)``.
    """
    chunks = decompressed_chunks(raw, extension, max_ratio) if extension else iter(lambda: raw.read(CHUNK), b"")
    limit = max_line_bytes if max_line_bytes is not None else float("inf")
    pending: list[bytes] = []  # pieces of a line longer than a chunk, joined once
    pending_size = 0
    oversized = False
    blank = 0
    for chunk in chunks:
        if b"\n" not in chunk:
            pending_size += len(chunk)
            if pending_size > limit:
                oversized, pending = True, []
            else:
                pending.append(chunk)
            continue
        if not chunk.strip(b"\n"):  # newlines only (a run of blank lines): no split into a million parts
            chunk_newlines = len(chunk)
            if pending_size or oversized:
                if blank:
                    yield BlankLines(blank)
                    blank = 0
                yield Oversized(pending_size + 1) if oversized or pending_size > limit else b"".join([*pending, b"\n"])
                chunk_newlines -= 1
            blank += chunk_newlines
            pending, pending_size, oversized = [], 0, False
            continue
        parts = chunk.split(b"\n")
        first_size = pending_size + len(parts[0])
        if first_size == 0:
            blank += 1
        else:
            if blank:
                yield BlankLines(blank)
                blank = 0
            yield Oversized(first_size + 1) if oversized or first_size > limit else b"".join([*pending, parts[0], b"\n"])
        for part in parts[1:-1]:
            if not part:
                blank += 1
                continue
            if blank:
                yield BlankLines(blank)
                blank = 0
            yield Oversized(len(part) + 1) if len(part) > limit else part + b"\n"
        pending, pending_size, oversized = [parts[-1]], len(parts[-1]), False
    if blank:
        yield BlankLines(blank)
    if oversized or pending_size > limit:
        yield Oversized(pending_size)
    else:
        rest = b"".join(pending)
        if rest:
            yield rest
