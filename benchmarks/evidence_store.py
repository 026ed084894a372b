"""Evidence photos in files vs in the database (PATROLMAP_EVIDENCE_STORE), on each store.

Run: .venv/bin/python benchmarks/evidence_store.py [--photos 40] [--stores sqlite,postgis]

For each store and each evidence store: a fresh database with the mini test campus; one violation;
--photos distinct phone-sized JPEGs (about 2-3 MB, 2000 x 1500, noisy so they do not compress) posted
to it through the app (in process, Flask's test client with an API token), then each one's display
copy and original read back, then `check-evidence` over all of them. Prints the median and 95th
percentile per photo, the bytes stored, and the database store's time over the files' for each step.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import loadkit

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patrolmap_bench"
VIOLATION = {"campus": "mini", "lon": 116.3512, "lat": 40.0007, "kind": "entrance", "plate": "京A12345"}


def photos(count: int, seed: int = 7) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        base = np.linspace(0, 255, 2000, dtype=np.float32)[None, :, None]
        pixels = np.clip(base + rng.normal(0, 40, (1500, 2000, 3)), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(store: str, evidence: str, pictures: list[bytes], workdir: Path) -> dict[str, float]:
    from patrolmap import create_app
    from patrolmap.extensions import db
    from patrolmap.photos import check_evidence, evidence_store

    url = loadkit.fresh_database(store, workdir, PG_URL, suffix=f"evidence_{evidence}")
    seeded = loadkit.seed(url)
    folder = workdir / f"evidence-{store}-{evidence}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": False, "SECRET_KEY": "load",
                      "GC_FREEZE": False, "EVIDENCE_STORE": evidence, "EVIDENCE_DIR": str(folder)})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {seeded.writer_token}"}
    violation = client.post("/api/violations", json=VIOLATION, headers=auth).get_json()["id"]
    upload, display, original, digests = [], [], [], []
    for data in pictures:
        started = time.perf_counter()
        answer = client.post(f"/api/violations/{violation}/photos", headers=auth, content_type="multipart/form-data",
                             data={"file": (io.BytesIO(data), "IMG.jpg", "image/jpeg")})
        upload.append(time.perf_counter() - started)
        assert answer.status_code == 201, answer.get_json()
        digests.append(answer.get_json()["sha256"])
    for data, digest in zip(pictures, digests, strict=True):
        started = time.perf_counter()
        shown = client.get(f"/api/photos/{digest}", headers=auth)
        display.append(time.perf_counter() - started)
        started = time.perf_counter()
        kept = client.get(f"/api/photos/{digest}/original", headers=auth)
        original.append(time.perf_counter() - started)
        assert shown.status_code == 200 and kept.data == data
    with app.app_context():
        started = time.perf_counter()
        check = check_evidence(db.session, evidence_store(app.config, db.session))
        checked = time.perf_counter() - started
        assert not check.problems and check.photos == len(pictures)
        db.session.remove()
        db.engine.dispose()
    return {"upload_p50": _p(upload, 0.5), "upload_p95": _p(upload, 0.95), "display_p50": _p(display, 0.5),
            "original_p50": _p(original, 0.5), "original_p95": _p(original, 0.95), "check": checked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--stores", default="sqlite,postgis")
    args = parser.parse_args()
    pictures = photos(args.photos)
    total = sum(len(p) for p in pictures)
    print(f"{len(pictures)} photos, {total / 1e6:.1f} MB in all ({total / len(pictures) / 1e6:.2f} MB each)")
    print(f"{'store':8} {'evidence':9} {'upload p50/p95 ms':>18} {'display p50 ms':>15} "
          f"{'original p50/p95 ms':>20} {'check-evidence s':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            found = {}
            for evidence in ("files", "database"):
                f = found[evidence] = run(store, evidence, pictures, Path(tmp))
                print(f"{store:8} {evidence:9} {f['upload_p50'] * 1e3:8.1f} / {f['upload_p95'] * 1e3:6.1f} "
                      f"{f['display_p50'] * 1e3:15.1f} {f['original_p50'] * 1e3:10.1f} / "
                      f"{f['original_p95'] * 1e3:6.1f} {f['check']:17.2f}", flush=True)
            ratio = {k: found["database"][k] / found["files"][k] for k in ("upload_p50", "display_p50",
                                                                             "original_p50", "check")}
            print(f"{store:8} database / files: upload {ratio['upload_p50']:.2f}x, display {ratio['display_p50']:.2f}x,"
                  f" original {ratio['original_p50']:.2f}x, check {ratio['check']:.2f}x "
                  f"(median per photo; {statistics.mean(ratio.values()):.2f}x on average)")


if __name__ == "__main__":
    main()
