"""The browser the browser tests share: one headless Chromium and one local server of the
built site per session (fixtures, registered in conftest.py), and a page visit that records
what a reader's browser would report."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# On a common laptop window every display equation, code block and output fits the text column;
# on a phone, wide ones scroll.
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def require_chromium() -> None:
    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Audits:
    """`check(browser, url, scheme)` for every (url, scheme) in order, in a thread with its own
    Playwright and Chromium (Playwright's sync API belongs to the thread that started it);
    `result(url)` waits for that url's result (the checker's exception, raised, if it failed)."""

    def __init__(
        self, visits: list[tuple[str, str]], check: Callable[[object, str, str], object]
    ) -> None:
        require_chromium()
        self._visits, self._check = visits, check
        self._results: dict[str, Future] = {url: Future() for url, _ in visits}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audits", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                for url, scheme in self._visits:
                    if self._stop.is_set():
                        break
                    try:
                        self._results[url].set_result(self._check(browser, url, scheme))
                    except Exception as exc:  # handed to the test that asks for this url
                        self._results[url].set_exception(exc)
                browser.close()
        except Exception as exc:  # the browser itself failed: every waiting test says why
            for future in self._results.values():
                if not future.done():
                    future.set_exception(exc)
        for future in self._results.values():  # stopped early: nobody waits forever
            if not future.done():
                future.cancel()

    def result(self, url: str) -> object:
        return self._results[url].result()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Visit:
    """A page opened in a fresh context, with every request, failure and console error recorded."""

    def __init__(self, browser: object, url: str, scheme: str) -> None:
        self.context = browser.new_context(  # type: ignore[attr-defined]
            color_scheme=scheme, viewport=DESKTOP
        )
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.failures: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on(
            "response",
            lambda r: self.failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url, wait_until="networkidle")

    def other_hosts(self, url: str) -> list[str]:
        home = urlsplit(url).netloc
        return [r for r in self.requests if urlsplit(r).netloc not in (home, "")]

    def close(self) -> None:
        self.context.close()
