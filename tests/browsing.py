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


class HelperBrowser:
    """A second Chromium, on a thread with its own Playwright (the sync API belongs to the thread
    that started it), that works through named checks, each `check(browser)`, from the end of the
    list while the tests take them from the front: `take(name, browser)` runs a check here with
    the test's browser unless the helper has started it, and otherwise waits for the helper's
    result (its exception, raised, if it failed). The two meet in the middle, whatever each check
    costs; page visits mostly wait on the browser, so two share two cores well."""

    def __init__(self, checks: dict[str, Callable[[object], object]]) -> None:
        require_chromium()
        self._checks = checks
        self._results: dict[str, Future] = {name: Future() for name in checks}
        self._claimed: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="helper browser", daemon=True)
        self._thread.start()

    def _claim(self, name: str) -> bool:
        with self._lock:
            free = name not in self._claimed
            self._claimed.add(name)
            return free

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                for name in reversed(self._checks):
                    if not self._claim(name):
                        break  # the tests have come this far: the rest is theirs
                    try:
                        self._results[name].set_result(self._checks[name](browser))
                    except Exception as exc:  # handed to the test that takes this check
                        self._results[name].set_exception(exc)
                browser.close()
        except Exception as exc:  # the browser itself failed: every waiting test says why
            for future in self._results.values():
                if not future.done():
                    future.set_exception(exc)

    def take(self, name: str, browser: object) -> object:
        if self._claim(name):
            return self._checks[name](browser)
        return self._results[name].result()

    def close(self) -> None:
        with self._lock:
            self._claimed.update(self._checks)  # the helper stops at its next check
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
