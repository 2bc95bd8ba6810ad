"""A live query service over the fake catalog, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from core.settings import QuerySettings
from services.query.app import create_app
from tests.fakes.pictures import CATALOG_SCENES, scene_detector, seeded_catalog

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def serve_in_thread(app: object, start_timeout_s: float = 15.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a background thread (its own
    event loop, lifespan included); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the query service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """Base URL of the app over the fake catalog; its detector finds the objects of the first
    catalog scene in photos of that scene's size (640 × 420) and nothing in others."""
    catalog = seeded_catalog(detector=scene_detector(CATALOG_SCENES[0], size=(640, 420)))
    app = create_app(lambda: contextlib.nullcontext(catalog), QuerySettings(feed_poll_s=0.2))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module scope: Playwright's sync API keeps an event loop running in the main thread while
    it is open, which would break the async fixtures of the modules that follow."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:
    """A fresh page on the app; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    page.goto(live_server)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
