"""Evidence photos: checked by their content, kept byte for byte under their SHA-256, shown without EXIF.

A phone photo is evidence, so the original is stored exactly as received, in a file named
by its SHA-256 (``<dir>/<sha[:2]>/<sha>``): anyone can re-hash it and show it unaltered.
People see a display copy (``<sha>.display`` beside it) that keeps only what drawing the
picture needs: for JPEG the image segments, the JFIF/Adobe headers, the ICC profile and,
rebuilt from scratch, the EXIF orientation (so phone photos stay upright), never the EXIF
block itself (GPS position, camera serial, time), XMP, IPTC, comments or trailing data;
for PNG the chunks that draw the picture, never eXIf/tEXt/iTXt/zTXt/tIME or private ones.
No image library is needed: both formats are parsed by their markers and chunks.

The type is decided by the bytes (magic numbers, then a full structural parse), never by
the file name or the declared Content-Type.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

JPEG = "image/jpeg"
PNG = "image/png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG chunks a display copy keeps: the picture itself and how to draw its colours (and APNG frames).
PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
                      b"bKGD", b"pHYs", b"cICP", b"acTL", b"fcTL", b"fdAT"})
# JPEG markers without a length field: TEM, RST0-7 (SOI and EOI are handled apart).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Start-of-frame markers (they carry the size); C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
ORIENTATION_TAG = 0x0112


class AlteredEvidence(OSError):
    """A stored original whose bytes no longer hash to its name."""


class PhotoError(ValueError):
    """Bytes that are not a photo patrolmap accepts; `unsupported` when not JPEG/PNG at all (415), else 422."""

    def __init__(self, template: str, *, unsupported: bool = False, **params: object) -> None:
        self.template = template
        self.params = params
        self.unsupported = unsupported
        super().__init__(template % params if params else template)


@dataclass(frozen=True)
class Photo:
    """A checked photo: the original bytes and their display copy."""

    content_type: str
    original: bytes
    display: bytes
    width: int | None
    height: int | None

    @property
    def sha256(self) -> str:
        return sha256(self.original)

    @property
    def display_sha256(self) -> str:
        return sha256(self.display)

    @property
    def extension(self) -> str:
        return "jpg" if self.content_type == JPEG else "png"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The type the bytes say they are (JPEG or PNG), whatever the name or declared type."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(PNG_SIGNATURE):
        return PNG
    return None


def inspect_photo(data: bytes) -> Photo:
    """Check the bytes are a whole JPEG or PNG and make the display copy; PhotoError otherwise."""
    kind = sniff(data)
    if kind is None:
        raise PhotoError("only JPEG and PNG photos are accepted; the file's content is neither "
                         "(its name and declared type do not count)", unsupported=True)
    if kind == JPEG:
        display, width, height = _strip_jpeg(data)
    else:
        display, width, height = _strip_png(data)
    return Photo(kind, data, display, width, height)


# ---------------------------------------------------------------- JPEG


def _strip_jpeg(data: bytes) -> tuple[bytes, int | None, int | None]:
    """Walk the JPEG's segments, keeping what draws the image; stop at EOI (trailing data is dropped)."""
    out = bytearray(b"\xff\xd8")
    pos, n = 2, len(data)
    width = height = None
    orientation = None
    seen_frame = seen_scan = False
    while True:
        if pos >= n or data[pos] != 0xFF:
            raise PhotoError("the JPEG is damaged: a segment marker is missing at byte %(pos)s", pos=pos)
        while pos < n and data[pos] == 0xFF:  # fill bytes may pad a marker
            pos += 1
        if pos >= n:
            raise PhotoError("the JPEG is cut off before its end marker")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            if not (seen_frame and seen_scan):
                raise PhotoError("the JPEG holds no image")
            out += b"\xff\xd9"
            break
        if marker in _STANDALONE:
            out += bytes((0xFF, marker))
            continue
        if marker in (0x00, 0xD8):
            raise PhotoError("the JPEG is damaged: unexpected marker at byte %(pos)s", pos=pos - 1)
        if pos + 2 > n:
            raise PhotoError("the JPEG is cut off before its end marker")
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        end = pos + length
        if length < 2 or end > n:
            raise PhotoError("the JPEG is damaged: a segment runs past the end of the file")
        payload = data[pos + 2:end]
        segment = bytes((0xFF, marker)) + data[pos:end]
        pos = end
        if marker in _SOF:
            if len(payload) < 5:
                raise PhotoError("the JPEG is damaged: its frame header is too short")
            height, width = struct.unpack(">HH", payload[1:5])
            seen_frame = True
        if marker == 0xE1:  # APP1: EXIF or XMP. Only the orientation survives, rebuilt below.
            if payload.startswith(b"Exif\x00\x00") and orientation is None:
                orientation = _exif_orientation(payload[6:])
            continue
        if 0xE0 <= marker <= 0xEF and not _keep_app(marker, payload):
            continue
        if marker == 0xFE:  # COM: free text
            continue
        out += segment
        if marker == 0xDA:  # SOS: entropy-coded data follows, up to the next real marker
            seen_scan = True
            scan_end = _scan_end(data, pos)
            out += data[pos:scan_end]
            pos = scan_end
    if orientation is not None and orientation != 1:
        # EXIF goes right after SOI, or after a JFIF header, which must come first.
        at = 2
        if out[2:4] == b"\xff\xe0":
            at = 4 + struct.unpack(">H", out[4:6])[0]
        out[at:at] = _orientation_app1(orientation)
    return bytes(out), width, height


def _keep_app(marker: int, payload: bytes) -> bool:
    """APP0 (JFIF), APP2 only for an ICC profile (not MPF previews, which carry EXIF), APP14 (Adobe)."""
    if marker == 0xE0:
        return payload.startswith((b"JFIF\x00", b"JFXX\x00"))
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:
        return payload.startswith(b"Adobe")
    return False


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data after an SOS header ends: the first marker that is not RST or stuffing."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= n:
            raise PhotoError("the JPEG is cut off before its end marker")
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def _exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag of IFD0 (1-8), or None when absent or unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[ifd:ifd + 2])
        for i in range(count):
            entry = tiff[ifd + 2 + 12 * i: ifd + 14 + 12 * i]
            tag, type_, _n = struct.unpack(order + "HHI", entry[:8])
            if tag == ORIENTATION_TAG and type_ == 3:
                (value,) = struct.unpack(order + "H", entry[8:10])
                return value if 1 <= value <= 8 else None
    except struct.error:
        return None
    return None


def _orientation_app1(orientation: int) -> bytes:
    """A minimal EXIF segment holding only the orientation: one IFD0 entry, nothing else."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", ORIENTATION_TAG, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


# ---------------------------------------------------------------- PNG


def _strip_png(data: bytes) -> tuple[bytes, int | None, int | None]:
    """Walk the PNG's chunks (checking each CRC), keeping those that draw the image; stop at IEND."""
    out = bytearray(PNG_SIGNATURE)
    pos, n = len(PNG_SIGNATURE), len(data)
    width = height = None
    first = True
    seen_data = False
    while True:
        if pos + 12 > n:
            raise PhotoError("the PNG is cut off before its end chunk")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > n:
            raise PhotoError("the PNG is damaged: a chunk runs past the end of the file")
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise PhotoError("the PNG is damaged: chunk %(chunk)s fails its checksum",
                             chunk=ctype.decode("latin-1"))
        if first:
            if ctype != b"IHDR" or length != 13:
                raise PhotoError("the PNG is damaged: it does not start with its header chunk")
            width, height = struct.unpack(">II", body[:8])
            first = False
        if ctype == b"IDAT":
            seen_data = True
        if ctype in PNG_KEEP:
            out += data[pos:end]
        pos = end
        if ctype == b"IEND":
            if not seen_data:
                raise PhotoError("the PNG holds no image")
            break
    return bytes(out), width, height


# ---------------------------------------------------------------- files


class PhotoStore(Protocol):
    """Where the photos' bytes live, by the original's SHA-256: files (EvidenceStore) or the database
    (photos.DatabaseEvidenceStore). Missing bytes are FileNotFoundError; an original that no longer
    hashes to its name is AlteredEvidence."""

    def save(self, photo: Photo) -> None: ...
    def read_original(self, digest: str) -> bytes: ...
    def read_display(self, digest: str) -> bytes: ...
    def raw(self, digest: str) -> tuple[bytes | None, bytes | None]: ...
    def delete(self, digest: str) -> bool: ...
    def exists(self, digest: str) -> bool: ...


def checked_original(digest: str, data: bytes) -> bytes:
    """The original, refused when it no longer hashes to its name."""
    if sha256(data) != digest:
        msg = f"evidence file {digest} no longer matches its SHA-256"
        raise AlteredEvidence(msg)
    return data


class EvidenceStore:
    """Photo files under one directory, named by the original's SHA-256."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def original_path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest

    def display_path(self, digest: str) -> Path:
        return self.original_path(digest).with_name(f"{digest}.display")

    def save(self, photo: Photo) -> None:
        """Write both files (atomically; a file already there with the same name has the same bytes)."""
        digest = photo.sha256
        _write_once(self.original_path(digest), photo.original)
        _write_once(self.display_path(digest), photo.display)

    def read_original(self, digest: str) -> bytes:
        """The original, checked against its name: a file that no longer hashes to it is refused."""
        return checked_original(digest, self.original_path(digest).read_bytes())

    def read_display(self, digest: str) -> bytes:
        return self.display_path(digest).read_bytes()

    def raw(self, digest: str) -> tuple[bytes | None, bytes | None]:
        """(original, display copy) as stored, unchecked; None for a missing one."""
        return _read_or_none(self.original_path(digest)), _read_or_none(self.display_path(digest))

    def delete(self, digest: str) -> bool:
        """Remove both files; True if anything was there."""
        removed = False
        for path in (self.original_path(digest), self.display_path(digest)):
            try:
                path.unlink()
                removed = True
            except FileNotFoundError:
                pass
        return removed

    def exists(self, digest: str) -> bool:
        return self.original_path(digest).exists()


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def check_digest(digest: str) -> None:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        msg = f"not a SHA-256 hex digest: {digest!r}"
        raise ValueError(msg)


def _write_once(path: Path, data: bytes) -> None:
    if path.exists() and path.stat().st_size == len(data):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
