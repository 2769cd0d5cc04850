"""A streaming ZIP writer for entries that arrive already deflated, in pieces.

Each piece is a raw deflate stream (`deflater`, no zlib header) ending in a full flush,
so the pieces concatenate into one valid deflate stream; `finish_deflate()` adds the
terminating empty final block. The CRC-32 of the whole entry is combined from the
pieces' CRCs (`crc32_combine`, zlib's GF(2) matrix method), so nothing is decompressed or
recompressed and nothing is held whole in memory. ZIP64 records are written when a size or
an offset needs them.

Deflate and CRC-32 come from zlib-ng (`deflater`, `crc32`): the same formats as zlib, about
twice as fast on sheet XML, whose level 2 is faster and smaller than zlib's level 1.
"""
from __future__ import annotations

import functools
import shutil
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from zlib_ng import zlib_ng

crc32 = zlib_ng.crc32
FULL_FLUSH = zlib_ng.Z_FULL_FLUSH
# An empty final deflate block (fixed Huffman, BFINAL=1): what flush(Z_FINISH) adds to a flushed stream.
FINAL_BLOCK = zlib_ng.compressobj(wbits=-15).flush()
_LIMIT = 0xFFFFFFFF
_COPY_BUFFER = 1 << 20


# --- CRC-32 combination ---------------------------------------------------------------------

def _gf2_times(matrix: Sequence[int], vector: int) -> int:
    total = 0
    i = 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: Sequence[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


@functools.cache
def _zero_bytes_operator(power: int) -> tuple[int, ...]:
    """The GF(2) operator that feeds 2**power zero bytes through a CRC-32 (built once, then cached)."""
    if power == 0:
        operator = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
        for _ in range(3):  # 2, 4, then 8 zero bits
            operator = _gf2_square(operator)
        return tuple(operator)
    return tuple(_gf2_square(_zero_bytes_operator(power - 1)))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A+B from crc32(A), crc32(B) and len(B), as zlib's crc32_combine."""
    power = 0
    while len2 > 0:
        if len2 & 1:
            crc1 = _gf2_times(_zero_bytes_operator(power), crc1)
        len2 >>= 1
        power += 1
    return crc1 ^ crc2


@dataclass(frozen=True)
class Piece:
    """One deflated piece: in memory (`data`) or in a file (`path`)."""
    crc: int
    raw_size: int
    size: int
    data: bytes | None = None
    path: str | None = None


def deflater(level: int):  # noqa: ANN201 (zlib_ng's compressobj type)
    """A raw deflate compressor (no zlib header): flush it with `FULL_FLUSH` to end a piece."""
    return zlib_ng.compressobj(level, zlib_ng.DEFLATED, -15)


def deflate_piece(raw: bytes, level: int = 2) -> Piece:
    compressor = deflater(level)
    data = compressor.compress(raw) + compressor.flush(FULL_FLUSH)
    return Piece(crc32(raw), len(raw), len(data), data=data)


def finish_deflate() -> Piece:
    return Piece(0, 0, len(FINAL_BLOCK), data=FINAL_BLOCK)


# --- the ZIP container -----------------------------------------------------------------------

def _dos_time(when: float) -> tuple[int, int]:
    t = time.localtime(when)
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            (max(t.tm_year - 1980, 0) << 9) | (t.tm_mon << 5) | t.tm_mday)


@dataclass
class _Entry:
    name: bytes
    crc: int
    raw_size: int
    size: int
    offset: int
    zip64: bool


class ZipStreamWriter:
    """Writes deflated entries one after the other to a binary file, then the central directory."""

    def __init__(self, handle: BinaryIO, force_zip64: bool = False):
        self._out = handle
        self._entries: list[_Entry] = []
        self._offset = 0
        self._force_zip64 = force_zip64
        self._time, self._date = _dos_time(time.time())

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)

    def add_pieces(self, name: str, pieces: Iterable[Piece]) -> None:
        """One entry made of deflated pieces; the last must end the deflate stream (`finish_deflate`)."""
        pieces = list(pieces)
        crc, raw_size, size = 0, 0, 0
        for piece in pieces:
            crc = crc32_combine(crc, piece.crc, piece.raw_size)
            raw_size += piece.raw_size
            size += piece.size
        encoded = name.encode("utf-8")
        zip64 = self._force_zip64 or raw_size >= _LIMIT or size >= _LIMIT
        entry = _Entry(encoded, crc, raw_size, size, self._offset, zip64)
        extra = struct.pack("<HHQQ", 0x0001, 16, raw_size, size) if zip64 else b""
        self._write(struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0x0800, 8, self._time, self._date, crc,
            _LIMIT if zip64 else size, _LIMIT if zip64 else raw_size, len(encoded), len(extra),
        ) + encoded + extra)
        for piece in pieces:
            if piece.data is not None:
                self._write(piece.data)
            else:
                with open(piece.path, "rb") as source:  # type: ignore[arg-type]
                    shutil.copyfileobj(source, self._out, _COPY_BUFFER)
                self._offset += piece.size
        self._entries.append(entry)

    def add_bytes(self, name: str, raw: bytes, level: int = 6) -> None:
        self.add_pieces(name, [deflate_piece(raw, level), finish_deflate()])

    def close(self) -> None:
        start = self._offset
        for e in self._entries:
            big_offset = e.offset >= _LIMIT or self._force_zip64
            fields = []
            if e.zip64:
                fields += [e.raw_size, e.size]
            if big_offset:
                fields.append(e.offset)
            extra = struct.pack(f"<HH{len(fields)}Q", 0x0001, 8 * len(fields), *fields) if fields else b""
            needs = 45 if fields else 20
            self._write(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, needs, needs, 0x0800, 8, self._time, self._date, e.crc,
                _LIMIT if e.zip64 else e.size, _LIMIT if e.zip64 else e.raw_size, len(e.name), len(extra), 0, 0, 0,
                0, _LIMIT if big_offset else e.offset,
            ) + e.name + extra)
        size = self._offset - start
        count = len(self._entries)
        if (self._force_zip64 or start >= _LIMIT or size >= _LIMIT or count >= 0xFFFF
                or any(e.zip64 for e in self._entries)):
            end64 = self._offset
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                                    min(size, _LIMIT), min(start, _LIMIT), 0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
        self._out.flush()
