"""A real headless Chromium (Debian's, driven by Playwright) with every off-machine request blocked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Trouble:
    """Everything that went wrong while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)

    def report(self) -> str:
        return "\n".join(f"{kind}: {item}" for kind, items in vars(self).items() for item in items)


def watch(page: Any) -> Trouble:
    """Block every request off this machine and record errors and failures."""
    trouble = Trouble()

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
            request_route.continue_()
        else:
            trouble.blocked_requests.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: msg.type == "error" and trouble.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: trouble.page_errors.append(str(exc)))
    page.on("requestfailed", lambda req: trouble.failed_requests.append(f"{req.url} ({req.failure})"))
    page.on("response", lambda res: res.status >= 400 and trouble.failed_requests.append(f"{res.url} ({res.status})"))
    return trouble


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch Debian's chromium once per run; missing it is an error under CI, a skip elsewhere."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        reason = "Debian's chromium and Playwright for Python are needed for browser tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()
