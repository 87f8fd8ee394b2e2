"""Page weight (bytes a reader's browser actually loads) and time until all math is rendered.

Weights are given raw and gzip-compressed. Static hosts such as GitHub Pages compress text
(HTML, CSS, JS, JSON, SVG) on the wire, so the budget applies to the compressed figure; the local
server used here does not compress, so the compression is computed from the bodies it served.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import os
import shutil
import threading
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PAGE_BUDGET = 1_000_000
MATH_BUDGET_MS = 500
MATH_DONE = """() => [...document.querySelectorAll('.arithmatex')]
  .every(el => el.querySelector('.katex'))"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        # The browser drops lazy requests it no longer needs; that is not an error.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()


def _pages(site: Path) -> list[str]:
    return sorted(
        "" if path.parent == site else path.parent.relative_to(site).as_posix() + "/"
        for path in site.rglob("index.html")
        if "assets" not in path.parts
    )


def measure(site: Path) -> list[str]:
    """Lines for make bench; a note instead of figures when Chromium is not installed."""
    if not shutil.which(CHROMIUM):
        return [f"page weight: skipped, {CHROMIUM} is not installed (apt-get install chromium)"]
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    weights: dict[str, tuple[int, int]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for path in _pages(site):
            context = browser.new_context()
            page = context.new_page()
            loaded: list[tuple[int, int]] = []
            page.on("response", lambda response, into=loaded: into.append(response_size(response)))
            page.goto(base + path, wait_until="networkidle")
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_load_state("networkidle")
            weights[path] = (sum(raw for raw, _ in loaded), sum(wire for _, wire in loaded))
            context.close()
        heaviest = max(weights, key=lambda path: weights[path][1])
        timings = []
        for _ in range(5):
            context = browser.new_context()
            page = context.new_page()
            page.goto(base + heaviest, wait_until="commit")
            page.wait_for_function(MATH_DONE, timeout=10_000)
            timings.append(page.evaluate("performance.now()"))
            context.close()
        browser.close()
    server.shutdown()
    figures = sorted(site.joinpath("figures").glob("*.svg"), key=lambda p: p.stat().st_size)
    math_ms = sorted(timings)[len(timings) // 2]
    lines = ["page weight (HTML + every resource the page loads, cold cache): raw / gzip"]
    for path, (raw, wire) in sorted(weights.items(), key=lambda item: -item[1][1]):
        flag = "" if wire <= PAGE_BUDGET else "  OVER BUDGET"
        lines.append(f"  /{path:<36} {raw / 1e3:8.1f} kB / {wire / 1e3:7.1f} kB{flag}")
    raw, wire = weights[heaviest]
    lines.append(
        f"  heaviest page: /{heaviest} {raw / 1e3:.1f} kB raw, {wire / 1e3:.1f} kB gzip "
        "(budget 1000 kB as served)"
    )
    if figures:
        lines.append(
            f"  heaviest figure: {figures[-1].name} {figures[-1].stat().st_size / 1e3:.1f} kB"
        )
    verdict = "meets" if math_ms <= MATH_BUDGET_MS else "MISSES"
    lines.append(
        f"  all math rendered on /{heaviest}: {math_ms:.0f} ms after navigation start "
        f"(median of 5, budget {MATH_BUDGET_MS} ms): {verdict}"
    )
    over = [p for p, (_, wire) in weights.items() if wire > PAGE_BUDGET]
    lines.append(f"  {'meets' if not over else 'MISSES'}: no page over 1 MB")
    return lines


COMPRESSED = ("text/", "javascript", "json", "svg", "xml")


def response_size(response: object) -> tuple[int, int]:
    """(raw, gzip) bytes of one response; fonts and images are sent as they are."""
    try:
        body = response.body()  # type: ignore[attr-defined]
    except Exception:  # a redirect or an aborted request has no body
        return 0, 0
    kind = response.headers.get("content-type", "")  # type: ignore[attr-defined]
    wire = len(gzip.compress(body, 6)) if any(k in kind for k in COMPRESSED) else len(body)
    return len(body), wire
