"""Helpers for the site-wide tests: the project's files, the built site, and output comparison."""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
CACHE = ROOT / ".cache" / "docs-exec"
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def snippet_files() -> list[Path]:
    return sorted(p for p in SNIPPETS.glob("*.py") if not p.name.startswith("_"))


def page_texts() -> dict[str, str]:
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")
    }


def recorded_stdout(snippet: str) -> str:
    """What the last build recorded for a snippet (the cache the build just filled)."""
    data = json.loads((CACHE / (snippet.replace("/", "__") + ".json")).read_text())
    return data["stdout"]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _last_digit(token: str) -> float:
    """The value of one unit in the last printed digit of a number token ("1.25e-3" -> 1e-5)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def same_output(actual: str, expected: str) -> str | None:
    """None when the texts match: integers exactly, decimals to two units in the last digit."""
    actual_lines, expected_lines = actual.splitlines(), expected.splitlines()
    if len(actual_lines) != len(expected_lines):
        return f"{len(actual_lines)} lines printed, {len(expected_lines)} recorded"
    for number, (got, want) in enumerate(zip(actual_lines, expected_lines, strict=True), start=1):
        if NUMBER.sub("#", got) != NUMBER.sub("#", want):
            return f"line {number} differs:\n  ran:      {got}\n  recorded: {want}"
        for a, b in zip(NUMBER.findall(got), NUMBER.findall(want), strict=True):
            decimal = any(mark in a + b for mark in ".eE")
            tolerance = 2 * max(_last_digit(a), _last_digit(b)) if decimal else 0
            if abs(float(a) - float(b)) > tolerance:
                return f"line {number}: {a} differs from the recorded {b}:\n  ran: {got}"
    return None


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name"):
            if values.get(name):
                self.ids.add(values[name] or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag in ("img", "script") and values.get("src"):
            self.sources.append(values["src"] or "")
        if tag == "link" and values.get("href") and "stylesheet" in (values.get("rel") or ""):
            self.sources.append(values["href"] or "")


def parse_html(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(site: Path) -> list[str]:
    """Internal links whose file or #anchor does not exist in the built site."""
    pages = {path: parse_html(path) for path in site.rglob("*.html")}
    problems = []
    for page, parsed in pages.items():
        for href in parsed.links + parsed.sources:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            if parts.path.startswith("/"):  # 404.html links from the site root
                target = (site / unquote(parts.path).lstrip("/")).resolve()
            else:
                target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = page.relative_to(site)
            if not target.exists():
                problems.append(f"{where}: {href} -> missing file")
            elif parts.fragment and target.suffix == ".html":
                anchors = pages[target].ids if target in pages else parse_html(target).ids
                if unquote(parts.fragment) not in anchors:
                    problems.append(f"{where}: {href} -> missing anchor")
    return problems


def external_loads(site: Path) -> list[str]:
    """Resources a page would fetch from another host: scripts, styles, images, CSS urls."""
    found = []
    for page in site.rglob("*.html"):
        for source in parse_html(page).sources:
            if urlsplit(source).netloc:
                found.append(f"{page.relative_to(site)}: {source}")
    for sheet in site.rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", sheet.read_text(errors="replace")):
            if urlsplit(url).netloc:
                found.append(f"{sheet.relative_to(site)}: {url}")
    return found
