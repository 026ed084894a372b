"""Phone-camera-like photos built byte by byte: a decodable JPEG with EXIF GPS, XMP, MPF and a comment,
and a PNG with eXIf and text chunks. No image library: each structure is written as the formats define it.
"""

from __future__ import annotations

import struct
import zlib

MAKE = b"PatrolPhone X1\x00"
SERIAL = b"SN-4417-0099\x00"
GPS_LAT = ((40, 1), (0, 1), (2520, 100))  # 40° 0' 25.20" N
GPS_LON = ((116, 1), (21, 1), (304, 100))  # 116° 21' 3.04" E
XMP = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:Description "
       b"exif:GPSLatitude='40,0.42N' exif:GPSLongitude='116,21.05E'/></x:xmpmeta>")
COMMENT = b"shot at 40.0070N 116.3508E by duty-li"


def _ifd(entries: list[tuple[int, int, int, bytes]], offset: int, next_ifd: int = 0) -> bytes:
    """A big-endian TIFF IFD at `offset`; values longer than 4 bytes go after it."""
    head = struct.pack(">H", len(entries))
    extra = b""
    data_at = offset + 2 + 12 * len(entries) + 4
    for tag, type_, count, value in entries:
        if len(value) <= 4:
            head += struct.pack(">HHI", tag, type_, count) + value.ljust(4, b"\x00")
        else:
            head += struct.pack(">HHII", tag, type_, count, data_at + len(extra))
            extra += value + (b"\x00" if len(value) % 2 else b"")
    return head + struct.pack(">I", next_ifd) + extra


def _rationals(values: tuple[tuple[int, int], ...]) -> bytes:
    return b"".join(struct.pack(">II", n, d) for n, d in values)


def exif_tiff(orientation: int = 6) -> bytes:
    """A TIFF block like a phone writes: make, serial, orientation, and a GPS IFD with the position."""
    gps_entries = [
        (0x0001, 2, 2, b"N\x00"), (0x0002, 5, 3, _rationals(GPS_LAT)),
        (0x0003, 2, 2, b"E\x00"), (0x0004, 5, 3, _rationals(GPS_LON)),
    ]
    ifd0_count = 4
    ifd0_size = 2 + 12 * ifd0_count + 4 + len(MAKE) + len(MAKE) % 2 + len(SERIAL) + len(SERIAL) % 2
    gps_offset = 8 + ifd0_size
    ifd0 = _ifd([
        (0x010F, 2, len(MAKE), MAKE),
        (0x0112, 3, 1, struct.pack(">H", orientation)),
        (0xA431, 2, len(SERIAL), SERIAL),
        (0x8825, 4, 1, struct.pack(">I", gps_offset)),
    ], 8)
    assert len(ifd0) == ifd0_size
    return b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + _ifd(gps_entries, gps_offset)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_image_segments(width: int = 16, height: int = 8) -> bytes:
    """Tables, frame and scan of a grey baseline JPEG, with a restart marker between its two MCUs.

    One DC code ("0": no change) and one AC code ("0": end of block), so each 8x8 block is two
    bits; each MCU's bits are padded with ones to a byte (0x3F) before the restart marker.
    """
    dqt = _segment(0xDB, b"\x00" + bytes([1] * 64))
    sof = _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    dht_dc = _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
    dht_ac = _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    mcus = (width // 8) * (height // 8)
    dri = _segment(0xDD, struct.pack(">H", 1))
    sos = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    scan = b"".join(b"\x3f" + (bytes((0xFF, 0xD0 + i % 8)) if i < mcus - 1 else b"") for i in range(mcus))
    return dqt + sof + dht_dc + dht_ac + dri + sos + scan


def phone_jpeg(orientation: int = 6) -> bytes:
    """A JPEG as a phone saves it: JFIF, EXIF with GPS, XMP, an MPF index, IPTC, a comment, and a trailer."""
    return (
        b"\xff\xd8"
        + _segment(0xE1, b"Exif\x00\x00" + exif_tiff(orientation))
        + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xE1, XMP)
        + _segment(0xE2, b"MPF\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + MAKE)
        + _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x5a\x00\x07Beijing")
        + _segment(0xFE, COMMENT)
        + jpeg_image_segments()
        + b"\xff\xd9"
        + b"\xff\xd8\xff\xe1" + struct.pack(">H", 8) + b"Exif\x00\x00" + GPS_LAT[0][0].to_bytes(1, "big")
    )


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def png_image_chunks(width: int = 2, height: int = 2) -> tuple[bytes, bytes]:
    """(IHDR, IDAT) of a small RGB image."""
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    return ihdr, _chunk(b"IDAT", zlib.compress(raw))


def phone_png() -> bytes:
    """A PNG with EXIF (eXIf), text (tEXt, iTXt with XMP, zTXt), a time stamp and a private chunk."""
    ihdr, idat = png_image_chunks()
    return (
        b"\x89PNG\r\n\x1a\n" + ihdr
        + _chunk(b"sRGB", b"\x00")
        + _chunk(b"eXIf", exif_tiff(1))
        + _chunk(b"tEXt", b"Comment\x00" + COMMENT)
        + _chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
        + _chunk(b"zTXt", b"Author\x00\x00" + zlib.compress(b"duty-li"))
        + _chunk(b"tIME", b"\x07\xea\x03\x02\x07\x2d\x00")
        + _chunk(b"prVt", SERIAL)
        + idat + _chunk(b"IEND", b"")
        + b"trailing bytes after IEND"
    )
