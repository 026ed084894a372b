"""A real headless Chromium (Debian's, driven by Playwright) with every off-machine request blocked."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ..conftest import empty_database

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


def _superseded(request: Any) -> bool:
    """A layer request patrolmap.js aborted itself because the view moved on: by design, not a failure.

    Blocked requests fail as net::ERR_FAILED (and are recorded as blocked); only an AbortController
    gives net::ERR_ABORTED.
    """
    return request.failure == "net::ERR_ABORTED" and "/api/layers/" in request.url


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
    page.on("requestfailed", lambda req: _superseded(req) or trouble.failed_requests.append(f"{req.url} ({req.failure})"))
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


class LiveServer:
    """The real app on a real socket, in a thread, over a store loaded with the sample campus.

    `config` adds to or overrides the app's configuration (another SAMPLE_GEODATA, a test-only
    flag); `user` sets more fields of the signed-in user. Several servers may share one database:
    the first creates the user, the others find it.
    """

    def __init__(self, url: str, *, config: Mapping[str, Any] | None = None,
                 user: Mapping[str, Any] | None = None) -> None:
        from werkzeug.serving import make_server

        from patrolmap import create_app
        from patrolmap.config import PROJECT_ROOT

        self.app = create_app({
            "SQLALCHEMY_DATABASE_URI": url, "AUTO_INIT_DB": True, "SAMPLE_GEODATA": str(PROJECT_ROOT / "geodata"),
            "SECRET_KEY": "browser-tests", "GC_FREEZE": False, **(config or {}),
        })
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._add_user(dict(user or {}))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    USERNAME = "tester"
    PASSWORD = "correct horse battery staple"

    def _add_user(self, fields: dict[str, Any]) -> None:
        from sqlalchemy import select

        from patrolmap.auth.passwords import hash_password
        from patrolmap.extensions import db
        from patrolmap.models import User

        with self.app.app_context():
            if db.session.scalars(select(User).where(User.username == self.USERNAME)).first() is None:
                db.session.add(User(username=self.USERNAME, roles="admin", password_hash=hash_password(self.PASSWORD),
                                    **fields))
                db.session.commit()
            db.session.remove()

    def sign_in(self, context: Any, username: str | None = None) -> None:
        """Sign a browser context in (its cookie jar is shared with its pages), as this server's user or another."""
        response = context.request.post(f"{self.url}/login", form={"username": username or self.USERNAME,
                                                                    "password": self.PASSWORD},
                                        max_redirects=0)
        assert response.status == 302, response.status

    def stop(self) -> None:
        from patrolmap.extensions import db

        self.server.shutdown()
        self.thread.join(timeout=5)
        with self.app.app_context():
            db.engine.dispose()


_servers: dict[str, LiveServer] = {}


def shared_server(key: str, make: Callable[[], LiveServer]) -> LiveServer:
    """The live server under this key, made on first use and stopped when the run ends."""
    if key not in _servers:
        _servers[key] = make()
    return _servers[key]


@pytest.fixture
def live(store: str, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """One live server per store for the whole run (the sample campus loads once)."""
    return shared_server(
        store, lambda: LiveServer(empty_database(store, tmp_path_factory.mktemp(f"live-{store}"))))


def pytest_sessionfinish() -> None:
    for server in _servers.values():
        server.stop()


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    """A signed-in desktop-sized page with every off-machine request blocked; problems in page.trouble."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    live.sign_in(context)
    tab = context.new_page()
    tab.trouble = watch(tab)
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


PHONE = (390, 844)
_CENTER = "() => { const m = window[document.querySelector('.folium-map').id]; const c = m.getCenter(); return [c.lng, c.lat]; }"
_PAN = "() => { window[document.querySelector('.folium-map').id].panBy([80, 60], {animate: false}); }"


def check_phone_panel(phone: Any, details: str, panel: str, name: str) -> None:
    """The phone layout of every tool page: the map first, full width, the panel folded below it
    (and a drag pans the map); unfolded, the panel scrolls inside the lower half and the map keeps
    the rest. Leaves the panel open; screenshots `<name>-phone-folded` and `-open`."""
    width, height = PHONE
    box = phone.locator(details)
    assert box.evaluate("d => d.open") is False  # folded: the map comes first
    map_box = phone.locator(".folium-map").bounding_box()
    assert map_box["width"] == width and map_box["height"] > height * 0.55
    tools = phone.locator(panel).bounding_box()
    assert tools["y"] >= map_box["y"] + map_box["height"] - 1 and tools["y"] + tools["height"] <= height + 1
    before = phone.evaluate(_CENTER)
    phone.evaluate(_PAN)
    wait_idle(phone)
    assert phone.evaluate(_CENTER) != before
    shot(phone, f"{name}-phone-folded")
    phone.locator(f"{details} > summary").click()
    assert box.evaluate("d => d.open") is True
    tools = phone.locator(panel).bounding_box()
    map_box = phone.locator(".folium-map").bounding_box()
    assert tools["height"] <= height * 0.5 + 1  # scrolls inside; the map keeps the rest
    assert tools["y"] >= map_box["y"] + map_box["height"] - 1 and map_box["height"] > 250
    shot(phone, f"{name}-phone-open")


def wait_idle(page: Any) -> None:
    """Wait until every data layer has its data for the current view."""
    # A function, not an expression: the page's CSP forbids eval, which Playwright uses for expressions.
    page.wait_for_function("() => window.patrolmap && window.patrolmap.pending === 0")


def set_view(page: Any, lat: float, lon: float, zoom: int) -> None:
    """Move the map at once (no animation, so the layers start loading before this returns)."""
    page.evaluate(
        "([lat, lon, z]) => { const m = window[document.querySelector('.folium-map').id];"
        " m.setView([lat, lon], z, {animate: false}); }",
        [lat, lon, zoom],
    )
    wait_idle(page)


def open_page(page: Any, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    wait_idle(page)


def ensure_user(live: LiveServer, username: str, roles: str, **fields: Any) -> int:
    """A user of the live server with the test password (made on first use); its id."""
    from sqlalchemy import select

    from patrolmap.auth.passwords import hash_password
    from patrolmap.extensions import db
    from patrolmap.models import User

    with live.app.app_context():
        user = db.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            user = User(username=username, roles=roles, password_hash=hash_password(live.PASSWORD), **fields)
            db.session.add(user)
            db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


@pytest.fixture
def user_contexts(browser: Any, live: LiveServer) -> Iterator[Callable[..., Any]]:
    """Make browser contexts signed in as users of the given roles (each user made on first use).

    `make(username, roles, viewport=(width, height), user={...}, **options)`: `user` sets more fields of a
    new user (its unit); `options` go to browser.new_context (is_mobile, geolocation ...). Closed at teardown.
    """
    made: list[Any] = []

    def make(username: str, roles: str, viewport: tuple[int, int] = (1280, 800), *,
             user: Mapping[str, Any] | None = None, **options: Any) -> Any:
        ensure_user(live, username, roles, **(user or {}))
        context = browser.new_context(**{"locale": "en-US", "viewport": {"width": viewport[0], "height": viewport[1]},
                                         **options})
        made.append(context)
        live.sign_in(context, username)
        return context

    yield make
    for context in made:
        context.close()
