"""An image file's declared width and height, read from its header without decoding a pixel.

A decoder allocates width x height x channels as soon as it has read the header, so a 140-byte PNG that declares
50000x50000 costs 7.5 GB before a single row is checked. `declared_size()` reads the same header fields the
decoder would (PNG IHDR, JPEG SOFn, BMP, GIF, WebP, TIFF, PNM/PAM/PFM, JPEG 2000) so the size can be refused
first. Pure Python over the first bytes; returns None for a format it does not know (OpenCV's own limit, set
from the same figure in sources.py, still applies to those).
"""

from __future__ import annotations

import re
import struct

# JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic); not C4 (DHT), C8, CC (DAC)
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PNM_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\d+)")


class HeaderError(ValueError):
    """The file claims a known format but its header is cut short or inconsistent."""


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) the header of `data` declares, None for an unknown format; HeaderError if malformed."""
    try:
        for magic, parse in _PARSERS:
            if data.startswith(magic):
                return parse(data)
    except (struct.error, IndexError) as e:
        raise HeaderError("image header is cut short") from e
    return None


def _png(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR":
        raise HeaderError("PNG without an IHDR chunk first")
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes) -> tuple[int, int]:
    pos = 2
    while True:
        while data[pos] != 0xFF:  # tolerate junk between segments, as libjpeg does (with a warning)
            pos += 1
        while data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length field
            continue
        if marker in (0xD9, 0xDA):  # end of image, or start of scan before any frame header
            raise HeaderError("JPEG without a frame header (SOF) before its image data")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return width, height
        if length < 2:
            raise HeaderError("JPEG segment with an impossible length")
        pos += length


def _bmp(data: bytes) -> tuple[int, int]:
    (dib_size,) = struct.unpack("<I", data[14:18])
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit unsigned
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _gif(data: bytes) -> tuple[int, int]:
    return struct.unpack("<HH", data[6:10])


def _webp(data: bytes) -> tuple[int, int]:
    if data[8:12] != b"WEBP":
        raise HeaderError("RIFF file that is not WebP")
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the 3-byte start code
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: 14-bit (size - 1) fields packed after the 0x2F signature byte
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit (size - 1) canvas fields
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    raise HeaderError(f"WebP with an unknown first chunk {chunk!r}")


def _tiff(data: bytes) -> tuple[int, int]:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    size: dict[int, int] = {}
    for i in range(count):
        tag, kind, _, value = struct.unpack(order + "HHI4s", data[ifd + 2 + 12 * i : ifd + 14 + 12 * i])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            size[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4])[0]
    if len(size) < 2:
        raise HeaderError("TIFF without width and length in its first directory")
    return size[256], size[257]


def _pnm(data: bytes) -> tuple[int, int]:
    head = data[2:4096]
    if data[1:2] == b"7":  # PAM: WIDTH and HEIGHT lines
        width, height = re.search(rb"\bWIDTH\s+(\d+)", head), re.search(rb"\bHEIGHT\s+(\d+)", head)
        if not (width and height):
            raise HeaderError("PAM header without WIDTH and HEIGHT")
        return int(width.group(1)), int(height.group(1))
    first = _PNM_TOKEN.match(head)
    second = _PNM_TOKEN.match(head, first.end()) if first else None
    if not second:
        raise HeaderError("PNM header without width and height")
    return int(first.group(1)), int(second.group(1))


def _jp2(data: bytes) -> tuple[int, int]:
    at = data.find(b"ihdr", 0, 4096)  # the image header box: height, width (big-endian)
    if at < 0:
        raise HeaderError("JPEG 2000 file without an ihdr box")
    height, width = struct.unpack(">II", data[at + 4 : at + 12])
    return width, height


def _j2k(data: bytes) -> tuple[int, int]:  # a raw codestream: the SIZ segment follows SOC
    xsiz, ysiz, x0, y0 = struct.unpack(">IIII", data[8:24])
    if x0 > xsiz or y0 > ysiz:
        raise HeaderError("JPEG 2000 image offset beyond its size")
    return xsiz - x0, ysiz - y0


_PARSERS = (
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"BM", _bmp),
    (b"GIF87a", _gif),
    (b"GIF89a", _gif),
    (b"RIFF", _webp),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    *((f"P{n}".encode(), _pnm) for n in "1234567"),
    (b"PF", _pnm),
    (b"Pf", _pnm),
    (b"\x00\x00\x00\x0cjP  ", _jp2),
    (b"\xff\x4f\xff\x51", _j2k),
)
