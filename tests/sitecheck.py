"""Helpers for the site-wide tests: the project's files, the built site, and output comparison."""

from __future__ import annotations

import ast
import functools
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"


def snippet_files() -> list[Path]:
    """Every snippet, snippets/<part>/<name>.py, mirroring docs/<part>/."""
    return sorted(p for p in SNIPPETS.glob("*/*.py") if not p.name.startswith("_"))


def page_texts() -> dict[str, str]:
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")
    }


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


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


class _ProseText(HTMLParser):
    """The text a page shows outside code, preformatted blocks, scripts and styles."""

    SKIP = frozenset({"pre", "code", "script", "style", "textarea"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in self.SKIP

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in self.SKIP and self.depth > 0

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


# What a page shows only if no engine expanded it: a directive, a snippet include, display math
# (arithmatex turns $$ into a math element). Exercise pages render notebooks, whose math the
# browser typesets, so $$ is checked on the Markdown pages only.
UNEXPANDED = re.compile(r"\{\{\s*(?:output|figure|value)\s*\(|--8<--")


def unexpanded_text(site: Path, notebook_pages: tuple[str, ...] = ("exercises/",)) -> list[str]:
    """`page: text` for every directive, include line or raw $$ left in a built page's prose."""
    found = []
    for page in sorted(site.rglob("*.html")):
        where = page.relative_to(site).as_posix()
        parser = _ProseText()
        parser.feed(page.read_text(encoding="utf-8"))
        text = "".join(parser.parts)
        hits = [m.group(0) for m in UNEXPANDED.finditer(text)]
        if "$$" in text and not where.startswith(notebook_pages):
            hits.append("$$")
        found += [f"{where}: {hit!r}" for hit in hits]
    return found


def unshown_outputs(site: Path, results: dict) -> list[str]:
    """Snippets whose recorded output appears in no built page: a page that shows its code
    without running it, or no page at all."""
    shown = "\n".join(
        html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        for page in site.rglob("*.html")
    )
    missing = []
    for snippet, result in sorted(results.items()):
        first = next((line for line in result.stdout.splitlines() if line.strip()), "")
        if first and first.rstrip() not in shown:
            missing.append(f"{snippet}: {first.strip()!r}")
    return missing


@functools.cache
def recorded_results() -> dict:
    """The recorded result of every snippet the pages use, by path: what the build cached, and
    for a snippet not cached yet (a fresh clone), a run through the build's own executor."""
    from docs_exec import build
    from docs_exec.settings import from_config_file

    settings = from_config_file(ROOT / "mkdocs.yml")
    return build.run(settings, build.read_pages(settings), progress=lambda _: None).results


def expanded_page(page: str) -> str:
    """A page's Markdown as the reader gets it: outputs, figures and bound values filled in
    from the last build's recorded runs (`page` as "docs/part/name.md")."""
    from docs_exec.render import expand

    text = (ROOT / page).read_text(encoding="utf-8")
    return expand(text, page.removeprefix("docs/"), recorded_results())
