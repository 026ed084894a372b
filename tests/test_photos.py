"""Evidence photos: checked by content, kept byte for byte under their SHA-256, shown without EXIF/GPS."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update

from patrolmap.evidence import JPEG, PNG, PhotoError, _exif_orientation, inspect_photo
from patrolmap.extensions import db
from patrolmap.models import AuditEntry, EvidenceFile, Violation, ViolationPhoto

from .conftest import signed_in_client
from .photo_samples import (
    COMMENT,
    MAKE,
    SERIAL,
    XMP,
    _chunk,
    _rationals,
    jpeg_image_segments,
    phone_jpeg,
    phone_png,
    png_image_chunks,
)

# What must never reach the display copy: position, camera identity, free text, hidden trailers.
SECRETS = (b"\x88\x25\x00\x04", _rationals(((40, 1), (0, 1), (2520, 100))), MAKE, SERIAL, XMP[:20], b"xmpmeta",
           COMMENT, b"Photoshop", b"MPF\x00", b"duty-li")


def _segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment up to SOS, read independently of patrolmap's own parser."""
    out, pos = [], 2
    while jpeg[pos + 1] != 0xDA:
        marker = jpeg[pos + 1]
        (length,) = struct.unpack(">H", jpeg[pos + 2:pos + 4])
        out.append((marker, jpeg[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return out


def _chunks(png: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        ctype, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(ctype + body)
        out.append(ctype)
        pos += 12 + length
    return out


# ---------------------------------------------------------------- the files themselves


@pytest.mark.store("sqlite")
def test_the_jpeg_display_copy_keeps_the_picture_and_drops_everything_else() -> None:
    original = phone_jpeg(orientation=6)
    photo = inspect_photo(original)
    assert (photo.content_type, photo.width, photo.height) == (JPEG, 16, 8)
    assert photo.original == original and photo.sha256 == hashlib.sha256(original).hexdigest()
    display = photo.display
    for secret in SECRETS:
        assert secret in original and secret not in display, secret
    # The picture's own bytes (tables, frame, restart interval, scan) are there unchanged, then EOI, then nothing.
    assert display.endswith(jpeg_image_segments() + b"\xff\xd9")
    assert display.startswith(b"\xff\xd8\xff\xe0") and display.count(b"\xff\xd9") == 1
    # JFIF first, then an EXIF block holding the orientation alone (so the photo stays upright).
    kinds = [(marker, payload[:5]) for marker, payload in _segments(display)]
    assert kinds[:2] == [(0xE0, b"JFIF\x00"), (0xE1, b"Exif\x00")]
    exif = _segments(display)[1][1][6:]
    assert struct.unpack(">H", exif[8:10])[0] == 1 and _exif_orientation(exif) == 6
    assert not any(0xE2 <= marker <= 0xEF or marker == 0xFE for marker, _ in _segments(display))
    # The copy is a JPEG patrolmap accepts, and cleaning it again changes nothing.
    assert inspect_photo(display).display == display
    # An upright photo needs no EXIF at all.
    assert b"Exif" not in inspect_photo(phone_jpeg(orientation=1)).display


@pytest.mark.store("sqlite")
def test_the_png_display_copy_keeps_only_the_chunks_that_draw_it() -> None:
    photo = inspect_photo(phone_png())
    assert (photo.content_type, photo.width, photo.height) == (PNG, 2, 2)
    assert _chunks(photo.display) == [b"IHDR", b"sRGB", b"IDAT", b"IEND"]
    ihdr, idat = png_image_chunks()
    assert photo.display == b"\x89PNG\r\n\x1a\n" + ihdr + _chunk(b"sRGB", b"\x00") + idat + _chunk(b"IEND", b"")
    for secret in (MAKE, SERIAL, COMMENT, b"xmpmeta", b"trailing"):
        assert secret in photo.original and secret not in photo.display


@pytest.mark.store("sqlite")
@pytest.mark.parametrize(("data", "unsupported", "words"), [
    (b"This is not a photo, just text in a file named evidence.jpg\n", True, "only JPEG and PNG"),
    (b"GIF89a\x01\x00\x01\x00", True, "only JPEG and PNG"),
    (b"", True, "only JPEG and PNG"),
    (phone_jpeg()[:400], False, "runs past the end"),  # ends inside a segment
    (phone_jpeg().split(b"\xff\xd9")[0][:-2], False, "cut off"),  # ends inside the scan
    (phone_jpeg().split(b"\xff\xd9")[0], False, "cut off"),  # no end marker
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9", False, "holds no image"),
    (b"\xff\xd8\xff\xe0\xff\xff", False, "runs past the end"),
    (phone_png()[:60], False, "runs past the end"),
    (phone_png().split(b"IEND")[0], False, "cut off"),
    (phone_png().replace(b"sRGB\x00", b"sRGB\x01"), False, "fails its checksum"),
    (b"\x89PNG\r\n\x1a\n" + _chunk(b"tEXt", b"a\x00b"), False, "does not start with its header"),
], ids=["text", "gif", "empty", "jpeg-cut-in-segment", "jpeg-cut-in-scan", "jpeg-no-eoi", "jpeg-no-image",
        "jpeg-bad-length", "png-cut-in-chunk", "png-no-iend", "png-bad-crc", "png-no-ihdr"])
def test_damaged_or_foreign_files_are_refused(data: bytes, unsupported: bool, words: str) -> None:
    with pytest.raises(PhotoError) as caught:
        inspect_photo(data)
    assert caught.value.unsupported is unsupported and words in str(caught.value)


# ---------------------------------------------------------------- through the API


@pytest.fixture
def loaded(two_campuses: dict[str, int]) -> dict[str, int]:
    """The mini campus (v1 open, v2 notified, v3 open, v4 resolved) and another university's copy."""
    return two_campuses


def _upload(client: FlaskClient, violation_id: int, data: bytes, name: str = "IMG_20260302_074500.jpg",
            content_type: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/violations/{violation_id}/photos", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name, content_type)})


def _files(app: Flask) -> list[Path]:
    root = Path(app.config["EVIDENCE_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _photo_rows() -> int:
    return int(db.session.scalar(select(func.count()).select_from(ViolationPhoto)))


@pytest.fixture(params=["files", "database"])
def evidence(request: pytest.FixtureRequest, app: Flask) -> str:
    """Each test of the photos' bytes runs with them in files and in the database (PATROLMAP_EVIDENCE_STORE)."""
    app.config["EVIDENCE_STORE"] = request.param
    return request.param


def _stored(app: Flask, digest: str) -> tuple[bytes | None, bytes | None]:
    """(original, display copy) as the configured store holds them, read without patrolmap's store code."""
    if app.config["EVIDENCE_STORE"] == "database":
        row = db.session.execute(select(EvidenceFile.original, EvidenceFile.display)
                                 .where(EvidenceFile.sha256 == digest)).one_or_none()
        return (None, None) if row is None else (bytes(row.original), bytes(row.display))
    folder = Path(app.config["EVIDENCE_DIR"]) / digest[:2]
    return tuple(p.read_bytes() if p.exists() else None  # type: ignore[return-value]
                 for p in (folder / digest, folder / f"{digest}.display"))


def _pictures(app: Flask) -> int:
    """How many pictures the store holds (each is an original and a display copy)."""
    if app.config["EVIDENCE_STORE"] == "database":
        return int(db.session.scalar(select(func.count()).select_from(EvidenceFile)))
    files = _files(app)
    assert len(files) % 2 == 0, files
    return len(files) // 2


def _change(app: Flask, digest: str, *, original: bytes | None = None, gone: bool = False) -> None:
    """Damage what the store holds, as a failing disk or a hand in the database would: a new original,
    or the whole picture gone."""
    if app.config["EVIDENCE_STORE"] == "database":
        rows = sa.delete(EvidenceFile) if gone else update(EvidenceFile).values(original=original)
        db.session.execute(rows.where(EvidenceFile.sha256 == digest))
        db.session.commit()
        return
    folder = Path(app.config["EVIDENCE_DIR"]) / digest[:2]
    if original is not None:
        (folder / digest).write_bytes(original)
    if gone:
        (folder / digest).unlink()
        (folder / f"{digest}.display").unlink()


def test_a_photo_is_stored_as_sent_and_shown_without_its_location(app: Flask, loaded: dict[str, int],
                                                                  staff: FlaskClient, evidence: str) -> None:
    original = phone_jpeg()
    digest = hashlib.sha256(original).hexdigest()
    response = _upload(staff, loaded["v1"], original)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["sha256"], body["size"], body["content_type"], body["duplicate"]) == (digest, len(original),
                                                                                       "image/jpeg", False)
    assert (body["width"], body["height"], body["uploaded_by"], body["violation"]) == (16, 8, "duty-li", loaded["v1"])
    assert response.headers["Location"] == f"/api/photos/{digest}" == body["url"]
    # Stored: the original under its hash, byte for byte, and its display copy beside it (in files,
    # or in the database and then no file at all).
    root = Path(app.config["EVIDENCE_DIR"])
    assert _stored(app, digest) == (original, inspect_photo(original).display)
    assert _files(app) == ([root / digest[:2] / digest, root / digest[:2] / f"{digest}.display"]
                           if evidence == "files" else [])

    shown = staff.get(f"/api/photos/{digest}")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.headers["Content-Disposition"] == f'inline; filename="{digest}.jpg"'
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    assert "no-store" in shown.headers["Cache-Control"]
    for secret in SECRETS:
        assert secret not in shown.data, secret
    assert shown.data == inspect_photo(original).display
    assert hashlib.sha256(shown.data).hexdigest() == body["display_sha256"]

    kept = staff.get(f"/api/photos/{digest}/original")
    assert kept.status_code == 200 and kept.data == original and kept.mimetype == "image/jpeg"
    assert hashlib.sha256(kept.data).hexdigest() == digest and kept.headers["ETag"] == f'"{digest}"'
    assert kept.headers["Content-Disposition"] == f'inline; filename="{digest}-original.jpg"'
    assert kept.headers["X-Content-Type-Options"] == "nosniff"

    listed = staff.get(f"/api/violations/{loaded['v1']}/photos").get_json()
    assert [p["sha256"] for p in listed["photos"]] == [digest]
    assert staff.get(f"/api/violations/{loaded['v1']}").get_json()["properties"]["photos"] == 1
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "photo")).one()
    assert (entry.actor, entry.feature_id, entry.after["sha256"]) == ("duty-li", loaded["v1"], digest)
    assert entry.campus_id == db.session.get(Violation, loaded["v1"]).campus_id


def test_a_png_is_taken_by_its_content_whatever_its_name(app: Flask, loaded: dict[str, int],
                                                         staff: FlaskClient) -> None:
    data = phone_png()
    response = _upload(staff, loaded["v2"], data, name="photo.jpg", content_type="image/jpeg")
    assert response.status_code == 201 and response.get_json()["content_type"] == "image/png"
    shown = staff.get(response.get_json()["url"])
    assert shown.mimetype == "image/png" and _chunks(shown.data) == [b"IHDR", b"sRGB", b"IDAT", b"IEND"]
    assert shown.headers["Content-Disposition"].endswith('.png"')
    assert staff.get(response.get_json()["original_url"]).data == data


def test_the_same_photo_twice_is_stored_once(app: Flask, loaded: dict[str, int], staff: FlaskClient,
                                             evidence: str) -> None:
    data = phone_jpeg()
    assert _upload(staff, loaded["v1"], data).status_code == 201
    again = _upload(staff, loaded["v1"], data, name="copy.jpg")
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert _photo_rows() == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "photo")) == 1
    # The same picture as evidence of another violation: a row of its own, the same files.
    other = _upload(staff, loaded["v2"], data)
    assert other.status_code == 201 and _photo_rows() == 2 and _pictures(app) == 1


@pytest.mark.parametrize(("data", "name", "status", "words"), [
    (b"GPS 40.0070N 116.3508E: this is a text file\n", "evidence.jpg", 415, "only JPEG and PNG"),
    (b"%PDF-1.7\n", "evidence.png", 415, "only JPEG and PNG"),
    (phone_jpeg()[:300], "cut.jpg", 422, "damaged"),
])
def test_files_that_are_not_photos_are_refused(app: Flask, loaded: dict[str, int], staff: FlaskClient,
                                               data: bytes, name: str, status: int, words: str) -> None:
    response = _upload(staff, loaded["v1"], data, name=name)
    assert response.status_code == status, response.get_json()
    assert words in response.get_json()["message"]
    assert _photo_rows() == 0 and _files(app) == []


def test_bad_uploads_are_refused(app: Flask, loaded: dict[str, int], staff: FlaskClient) -> None:
    url = f"/api/violations/{loaded['v1']}/photos"
    assert "multipart/form-data" in staff.post(url, json={"file": "aGVsbG8="}).get_json()["message"]
    assert staff.post(url, data={"photo": (io.BytesIO(phone_jpeg()), "a.jpg")},
                      content_type="multipart/form-data").status_code == 400
    two = staff.post(url, content_type="multipart/form-data",
                     data={"file": [(io.BytesIO(phone_jpeg()), "a.jpg"), (io.BytesIO(phone_png()), "b.png")]})
    assert two.status_code == 400 and "exactly one" in two.get_json()["message"]
    assert _upload(staff, loaded["v1"], b"").status_code == 400
    assert _photo_rows() == 0 and _files(app) == []


def test_an_oversized_photo_is_refused(app: Flask, loaded: dict[str, int], staff: FlaskClient) -> None:
    app.config["MAX_PHOTO_BYTES"] = 500
    big = phone_jpeg()
    assert len(big) > 500
    response = _upload(staff, loaded["v1"], big)
    assert response.status_code == 413 and "larger than 500 bytes" in response.get_json()["message"]
    assert _photo_rows() == 0 and _files(app) == []
    small = inspect_photo(phone_png()).display
    assert len(small) <= 500 and _upload(staff, loaded["v1"], small).status_code == 201
    # Beyond the whole request's limit, the server refuses before reading it, still as JSON.
    app.config["MAX_CONTENT_LENGTH"] = 400
    huge = _upload(staff, loaded["v1"], big)
    assert huge.status_code == 413 and huge.get_json()["message"]


def test_photos_reach_only_those_who_see_personal_data(app: Flask, loaded: dict[str, int],
                                                       staff: FlaskClient) -> None:
    digest = _upload(staff, loaded["v1"], phone_jpeg()).get_json()["sha256"]
    for role in ("viewer", "planner", "responsible_unit"):
        reader = signed_in_client(app, f"u-{role}", role)
        listed = reader.get(f"/api/violations/{loaded['v1']}/photos").get_json()["photos"]
        assert [p["sha256"] for p in listed] == [digest]  # they learn evidence exists, and its hash
        assert "uploaded_by" not in listed[0]
        assert reader.get(f"/api/photos/{digest}").status_code == 403
        assert reader.get(f"/api/photos/{digest}/original").status_code == 403
        assert _upload(reader, loaded["v1"], phone_png()).status_code == 403
    lead = signed_in_client(app, "lead", "patrol_lead")
    assert lead.get(f"/api/photos/{digest}").status_code == 200
    assert lead.get(f"/api/photos/{digest}/original").status_code == 200
    assert _upload(lead, loaded["v1"], phone_png()).status_code == 403
    # Another university's staff: the violation and its photo do not exist for them.
    stranger = signed_in_client(app, "ou", "traffic_staff", university="Other U")
    assert stranger.get(f"/api/violations/{loaded['v1']}/photos").status_code == 404
    assert _upload(stranger, loaded["v1"], phone_png()).status_code == 404
    assert stranger.get(f"/api/photos/{digest}").status_code == 404
    assert stranger.get(f"/api/photos/{digest}/original").status_code == 404
    assert staff.get(f"/api/photos/{'f' * 64}").status_code == 404
    assert staff.get("/api/photos/not-a-hash").status_code == 404


def test_a_void_violation_takes_no_new_photos(app: Flask, loaded: dict[str, int], staff: FlaskClient) -> None:
    digest = _upload(staff, loaded["v1"], phone_jpeg()).get_json()["sha256"]
    assert staff.delete(f"/api/violations/{loaded['v1']}?reason=duplicate").status_code == 200
    refused = _upload(staff, loaded["v1"], phone_png())
    assert refused.status_code == 409 and "void" in refused.get_json()["message"]
    assert staff.get(f"/api/photos/{digest}/original").status_code == 200  # its evidence stays


def test_an_altered_original_is_never_served(app: Flask, loaded: dict[str, int], staff: FlaskClient,
                                             evidence: str) -> None:
    digest = _upload(staff, loaded["v1"], phone_jpeg()).get_json()["sha256"]
    _change(app, digest, original=phone_jpeg().replace(b"PatrolPhone", b"OtherPhone!"))
    response = staff.get(f"/api/photos/{digest}/original")
    assert response.status_code == 500 and "no longer matches its SHA-256" in response.get_json()["message"]


def test_the_retention_purge_deletes_old_photos_and_keeps_their_hashes(app: Flask, runner: FlaskCliRunner,
                                                                       loaded: dict[str, int],
                                                                       staff: FlaskClient, evidence: str) -> None:
    old, recent = loaded["v1"], loaded["v2"]
    now = dt.datetime.now(dt.UTC)
    db.session.execute(update(Violation).where(Violation.id == old).values(observed_at=now - dt.timedelta(days=400)))
    db.session.execute(update(Violation).where(Violation.id == recent).values(observed_at=now - dt.timedelta(days=3)))
    db.session.commit()
    only_old = _upload(staff, old, phone_jpeg()).get_json()["sha256"]
    shared = _upload(staff, old, phone_png()).get_json()["sha256"]
    assert _upload(staff, recent, phone_png()).status_code == 201  # the same picture, recent evidence too

    result = runner.invoke(args=["purge-personal-data", "--days", "365"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    rows = {(r.violation_id, r.sha256): r for r in db.session.scalars(select(ViolationPhoto))}
    assert len(rows) == 3  # rows stay, with their hashes
    assert rows[(old, only_old)].purged_at is not None and rows[(old, shared)].purged_at is not None
    assert rows[(recent, shared)].purged_at is None
    assert _stored(app, only_old) == (None, None)
    assert _stored(app, shared)[0] == phone_png()  # still evidence of the recent violation
    gone = staff.get(f"/api/photos/{only_old}")
    assert gone.status_code == 410 and "retention" in gone.get_json()["message"]
    assert staff.get(f"/api/photos/{only_old}/original").status_code == 410
    assert staff.get(f"/api/photos/{shared}/original").data == phone_png()
    listed = {p["sha256"]: p for p in staff.get(f"/api/violations/{old}/photos").get_json()["photos"]}
    assert listed[only_old]["purged_at"] and "url" not in listed[only_old] and listed[only_old]["available"] is False
    assert listed[shared]["available"] is False  # purged as evidence of the old violation...
    assert staff.get(f"/api/violations/{recent}/photos").get_json()["photos"][0]["available"] is True  # ...kept here
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
    assert (entry.after["photos_purged"], entry.after["photo_files_deleted"]) == (2, 1)
    # Uploading a purged photo to its old violation again is refused; a second run finds nothing.
    assert _upload(staff, old, phone_jpeg()).status_code == 409
    assert runner.invoke(args=["purge-personal-data", "--days", "365"]).exit_code == 0
    second = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")
                                .order_by(AuditEntry.id.desc())).first()
    assert (second.after["photos_purged"], second.after["photo_files_deleted"]) == (0, 0)


def test_check_evidence_names_each_missing_or_altered_file(app: Flask, runner: FlaskCliRunner,
                                                           loaded: dict[str, int], staff: FlaskClient,
                                                           evidence: str) -> None:
    first = _upload(staff, loaded["v1"], phone_jpeg()).get_json()["sha256"]
    second = _upload(staff, loaded["v2"], phone_png()).get_json()["sha256"]
    assert _upload(staff, loaded["v3"], phone_jpeg()).status_code == 201  # the first picture on a second violation
    intact = runner.invoke(args=["check-evidence"])
    assert intact.exit_code == 0, intact.output
    assert "3 photo(s) on record, 4 file(s) read: all present and intact" in intact.output
    _change(app, first, original=phone_jpeg() + b"\x00")
    _change(app, second, gone=True)
    broken = runner.invoke(args=["check-evidence"])
    assert broken.exit_code == 1
    altered = hashlib.sha256(phone_jpeg() + b"\x00").hexdigest()
    assert (f"original of {first} was altered: it hashes to {altered} (violation {loaded['v1']} photo 1, "
            f"violation {loaded['v3']} photo 3)") in broken.output
    for what in ("original", "display copy"):
        assert f"{what} of {second} is missing (violation {loaded['v2']} photo 2)" in broken.output
    assert "3 of 4 evidence file(s) missing or altered (3 photo(s) on record)" in broken.output
    # A photo purged under the retention rules has no files to keep: it is not a problem.
    db.session.execute(update(ViolationPhoto).where(ViolationPhoto.sha256 == second)
                       .values(purged_at=dt.datetime.now(dt.UTC)))
    db.session.commit()
    left = runner.invoke(args=["check-evidence"])
    assert left.exit_code == 1 and second not in left.output and "1 of 2 evidence file(s)" in left.output


def test_the_evidence_store_setting_is_checked_at_start(tmp_path: Path) -> None:
    from patrolmap import create_app

    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", "AUTO_INIT_DB": False,
              "GC_FREEZE": False}
    with pytest.raises(RuntimeError, match="PATROLMAP_EVIDENCE_STORE must be files or database, not 's3'"):
        create_app({**config, "EVIDENCE_STORE": "s3"})
    assert create_app({**config, "EVIDENCE_STORE": "database"}).config["EVIDENCE_STORE"] == "database"
