"""Response headers that keep pages safe even if a string slipped through unescaped.

The Content-Security-Policy allows scripts only from patrolmap itself and inline
scripts carrying this response's nonce (Folium emits a few inline scripts), so an
injected <script> or event handler does not run.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, request

NONCE_BYTES = 18


def csp_nonce() -> str:
    """The nonce of the current response, made on first use.

    Kept on the request, not on g: g belongs to the app context, which several
    requests can share (a test client inside an app context does).
    """
    return request.environ.setdefault("patrolmap.csp_nonce", secrets.token_urlsafe(NONCE_BYTES))


def tile_origins() -> list[str]:
    """Origins of the basemaps a page may load images from (each subdomain of a {s} template)."""
    from patrolmap.web.pages import configured_basemaps

    origins: list[str] = []
    for basemap in configured_basemaps():
        for url in basemap.urls:
            for sub in (basemap.subdomains or "a") if "{s}" in url else "-":
                parts = urlsplit(url.replace("{s}", sub))
                origin = f"{parts.scheme}://{parts.netloc}"
                if parts.scheme in ("http", "https") and parts.netloc and origin not in origins:
                    origins.append(origin)
    return origins


def content_security_policy(nonce: str) -> str:
    images = " ".join(["'self'", "data:", *tile_origins()])
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # Leaflet and Folium position everything with inline styles.
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def set_security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    return response


def register_security(app: Flask) -> None:
    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
