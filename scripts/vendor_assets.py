#!/usr/bin/env python3
"""Vendor the pinned JS/CSS/font files folium needs into static/vendor/.

patrolmap runs on campus intranets with no internet, so every asset a map page
loads is served from ``static/vendor/``. A developer runs this script when a pin
below changes and commits its output; CI and deployments never run npm.

    .venv/bin/python scripts/vendor_assets.py             # rewrite static/vendor
    .venv/bin/python scripts/vendor_assets.py --dest DIR  # write elsewhere, e.g. to diff

Each npm tarball is fetched with ``npm pack`` (no install, no lifecycle scripts),
checked against the pinned sha512 integrity, and only the listed files are copied,
byte for byte. Two runs give identical trees and an identical MANIFEST.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import importlib.resources
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO / "static" / "vendor"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm tarball and the files (glob patterns) to copy out of it."""

    version: str
    integrity: str
    license: str
    files: tuple[str, ...]


# Versions are the ones folium 0.20.0's templates are written against (see the
# CDN URLs in folium/folium.py and folium/plugins/*.py), so the vendored page
# behaves exactly like folium's default one.
PACKAGES: dict[str, NpmPackage] = {
    "leaflet": NpmPackage(
        "1.9.3",
        "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
        "BSD-2-Clause",
        ("LICENSE", "dist/leaflet.js", "dist/leaflet.js.map", "dist/leaflet.css", "dist/images/*.png"),
    ),
    "jquery": NpmPackage(
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        "MIT",
        ("LICENSE.txt", "dist/jquery.min.js"),
    ),
    "bootstrap": NpmPackage(
        "5.2.2",
        "sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
        "MIT",
        (
            "LICENSE",
            "dist/js/bootstrap.bundle.min.js",
            "dist/js/bootstrap.bundle.min.js.map",
            "dist/css/bootstrap.min.css",
            "dist/css/bootstrap.min.css.map",
        ),
    ),
    "@fortawesome/fontawesome-free": NpmPackage(
        "6.2.0",
        "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
        "(CC-BY-4.0 AND OFL-1.1 AND MIT)",
        ("LICENSE.txt", "css/all.min.css", "webfonts/*.woff2", "webfonts/*.ttf"),
    ),
    # folium loads Bootstrap 3's glyphicons CSS for awesome-markers (folium.Icon's
    # default prefix is "glyphicon"); this package is exactly that CSS plus its
    # fonts, without the rest of Bootstrap 3 clashing with Bootstrap 5.
    "glyphicons-only-bootstrap": NpmPackage(
        "1.0.1",
        "sha512-A1zP7yDUC/3+GUFbVTaTw9X2xZWNPLMp0BOsAmkLoWmo1KaNpG1qGdPYo8JnzwGueJ2HQAYvlP9S9OcmcObzHA==",
        "MIT",
        ("css/bootstrap.min.css", "fonts/glyphicons-halflings-regular.*"),
    ),
    # 2.0.2 (folium's CDN pin) was never on npm; 2.0.5's dist is the same code.
    "leaflet.awesome-markers": NpmPackage(
        "2.0.5",
        "sha512-Ne/xDjkGyaujwNVVkv2tyXQUV0ZW7gZ0Mo0FuQY4jp2qWrvXi0hwDBvmZyF/8YOvybyMabTMM/mFWCTd1jZIQA==",
        "ISC",
        ("LICENSE", "dist/leaflet.awesome-markers.js", "dist/leaflet.awesome-markers.css", "dist/images/*.png"),
    ),
    "leaflet.markercluster": NpmPackage(
        "1.1.0",
        "sha512-eI+XkCiLiHwCC3uZ4/n4+Vq3rXcqEHN2lhHRVG1WVziy/3Q0TTipWkzEa1zO0dKZI2AnI5ppFDWrOjnQ7MJLKQ==",
        "MIT",
        (
            "MIT-LICENCE.txt",
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
        ),
    ),
    "leaflet-draw": NpmPackage(
        "1.0.2",
        "sha512-iCcbXE9okhwznoTXjxVjoGFoKeiWGsgmWPKrPAeHUvtWZWK4t6YF6815D13wZoMxX2UM6tOmD7/VofCxx3S0+w==",
        "MIT",
        ("dist/leaflet.draw.js", "dist/leaflet.draw.css", "dist/images/spritesheet*"),
    ),
    "leaflet.locatecontrol": NpmPackage(
        "0.66.2",
        "sha512-33xCfRydyjLfh9nGvf4kSTM0tA1EFFgM0z4uj75QkUwIc9cz0vJqWABsyDirLm1GBKeEr8/krcnc10X1YuK7oA==",
        "MIT",
        (
            "LICENSE",
            "dist/L.Control.Locate.min.js",
            "dist/L.Control.Locate.min.js.map",
            "dist/L.Control.Locate.min.css",
            "dist/L.Control.Locate.min.css.map",
        ),
    ),
    # folium asks jsDelivr for a .min.js that jsDelivr minifies on the fly; the
    # package ships only the plain file, which we serve instead.
    "leaflet.fullscreen": NpmPackage(
        "3.0.0",
        "sha512-81wWSUXz1ZtdneR0v5eJDWXUSx+Zo5J50WXWeydG/UcILfIEAgz/iOjZSi3p00Z9MJ/FC/P5i3CgdYuEAos0yQ==",
        "MIT",
        ("LICENSE", "Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg"),
    ),
    "leaflet-mouse-position": NpmPackage(
        "1.2.0",
        "sha512-iKS25GZDRdoKZn0O5sjTyNcBYrq/wenLiOidj4jJ5iD4SfhyqVj+bJHgBwuMxOlf8Vc/9B1ZPlqYV4QA97nyFg==",
        "MIT",
        ("MIT-LICENCE.txt", "src/L.Control.MousePosition.js", "src/L.Control.MousePosition.css"),
    ),
    # branca's colormaps (map legends) load d3 v3.
    "d3": NpmPackage(
        "3.5.5",
        "sha512-JPx0wEFxcYVcCZXgUbsy8NzVzD3zKat1KLtdCeOHPsmrpFlc09nr2/5Ls9ey7mo8SV6cWew0piLrmPVybj9I8w==",
        "BSD-3-Clause",
        ("LICENSE", "d3.min.js"),
    ),
}

# folium ships its own patched Leaflet.heat (weights fix, Leaflet.heat PR #78),
# which differs from npm's leaflet.heat 0.2.0; hotspot maps need the weights.
FOLIUM_VERSION = "0.20.0"
FOLIUM_FILES = {"leaflet_heat.min.js": "templates/leaflet_heat.min.js"}
FOLIUM_ROTATE_CSS = "leaflet.awesome.rotate.min.css"


def main(argv: list[str] | None = None) -> int:
    """Rebuild the vendor tree and its manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="output dir (default: static/vendor)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="patrolmap-vendor-") as tmp:
        staging = Path(tmp) / "vendor"
        manifest = build(staging, Path(tmp) / "tarballs")
        write_manifest(staging, manifest)
        replace_tree(staging, args.dest)
    total = sum(f["bytes"] for p in manifest.values() for f in p["files"])
    print(f"wrote {len(manifest)} packages, {total / 1024:.0f} KiB, to {args.dest}")
    return 0


def build(staging: Path, tarballs: Path) -> dict[str, dict]:
    """Fill staging with every package's files and return the manifest entries."""
    tarballs.mkdir(parents=True)
    manifest = {name: vendor_npm(name, pkg, staging, tarballs) for name, pkg in PACKAGES.items()}
    manifest["folium"] = vendor_folium(staging)
    return manifest


def vendor_npm(name: str, pkg: NpmPackage, staging: Path, tarballs: Path) -> dict:
    """Copy the wanted files of one npm tarball into staging/<name>/."""
    tarball = npm_pack(f"{name}@{pkg.version}", tarballs)
    check_integrity(tarball, pkg.integrity)
    members = read_tarball(tarball)
    files = []
    for pattern in pkg.files:
        matched = sorted(path for path in members if fnmatch(path, pattern))
        if not matched:
            msg = f"{name}@{pkg.version}: no file matches {pattern!r}"
            raise SystemExit(msg)
        files += [write_file(staging, f"{name}/{path}", members[path]) for path in matched]
    return {
        "version": pkg.version,
        "source": f"npm:{name}@{pkg.version}",
        "integrity": pkg.integrity,
        "license": pkg.license,
        "files": files,
    }


def vendor_folium(staging: Path) -> dict:
    """Copy folium's own Leaflet.heat build and write its rotation CSS."""
    installed = importlib.metadata.version("folium")
    if installed != FOLIUM_VERSION:
        msg = f"folium {installed} is installed; this script pins {FOLIUM_VERSION}"
        raise SystemExit(msg)
    package = importlib.resources.files("folium")
    files = [write_file(staging, f"folium/{dest}", (package / src).read_bytes()) for dest, src in FOLIUM_FILES.items()]
    files.append(write_file(staging, f"folium/{FOLIUM_ROTATE_CSS}", rotate_css()))
    licence = importlib.metadata.distribution("folium").read_text("licenses/LICENSE.txt")
    if licence is None:
        msg = "folium's LICENSE.txt is missing from its dist-info"
        raise SystemExit(msg)
    files.append(write_file(staging, "folium/LICENSE.txt", licence.encode()))
    return {
        "version": FOLIUM_VERSION,
        "source": f"pypi:folium=={FOLIUM_VERSION}",
        "license": "MIT",
        "files": sorted(files, key=lambda f: f["path"]),
    }


def rotate_css() -> bytes:
    """Return folium's leaflet.awesome.rotate CSS (fa-rotate-N for folium.Icon(angle=N)).

    folium serves it from its GitHub repo only; it is a generated list of rules,
    so it is generated here rather than fetched.
    """
    rules = (
        f".fa-rotate-{n}{{-ms-transform:rotate({n}deg);-webkit-transform:rotate({n}deg);transform:rotate({n}deg)}}"
        for n in range(1, 361)
    )
    return ("\n".join(rules) + "\n").encode()


def npm_pack(spec: str, dest: Path) -> Path:
    """Download one package tarball with npm (no install, no scripts)."""
    cmd = ["npm", "pack", spec, "--pack-destination", str(dest), "--json", "--ignore-scripts"]
    result = subprocess.run(cmd, check=True, capture_output=True, text=True)
    (info,) = json.loads(result.stdout)
    return dest / info["filename"]


def check_integrity(tarball: Path, integrity: str) -> None:
    """Refuse a tarball whose sha512 is not the pinned one."""
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != integrity:
        msg = f"{tarball.name}: sha512-{digest} does not match pinned {integrity}"
        raise SystemExit(msg)


def read_tarball(tarball: Path) -> dict[str, bytes]:
    """Return the regular files of an npm tarball, keyed by path inside the package."""
    members: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            # npm tarballs wrap everything in one top folder, usually "package/".
            _, _, path = member.name.partition("/")
            extracted = tar.extractfile(member)
            if path and extracted is not None:
                members[path] = extracted.read()
    return members


def write_file(staging: Path, relpath: str, data: bytes) -> dict:
    """Write one vendored file and return its manifest entry."""
    target = staging / relpath
    if staging.resolve() not in target.resolve().parents:
        msg = f"refusing to write outside the vendor dir: {relpath}"
        raise SystemExit(msg)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return {"path": relpath, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_manifest(staging: Path, manifest: dict[str, dict]) -> None:
    """Write MANIFEST.json with sorted keys so reruns are byte-identical."""
    doc = {
        "generated_by": "scripts/vendor_assets.py",
        "packages": manifest,
    }
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (staging / "MANIFEST.json").write_text(text, encoding="utf-8")


def replace_tree(staging: Path, dest: Path) -> None:
    """Swap the finished staging tree in, so stale files from old pins disappear."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(staging, dest)


if __name__ == "__main__":
    sys.exit(main())
