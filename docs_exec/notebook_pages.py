"""The page mkdocs-jupyter renders from an exercise notebook, made to fit the site.

Kept apart from notebooks.py (which runs notebooks and is part of every cache key) so that a
change here re-renders pages without re-running any snippet.
"""

from __future__ import annotations

import base64
import hashlib
import html as markup
import posixpath
import re
from pathlib import Path

from . import stylesheets
from .errors import BuildError
from .exercises import figure_alt

EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*", re.S)
MD_LINK = re.compile(r'href="(?P<path>[^":#"]+\.md)(?P<anchor>#[^"]*)?"')
TRIMMING_CODE = Path(stylesheets.__file__).read_bytes()
MATHJAX_CONFIG = re.compile(
    r"<script[^>]*>(?:(?!</script>).)*MathJax(?:(?!</script>).)*</script>", re.S
)
# nbconvert's placeholder alt text on a figure the notebook drew, an inline SVG.
PLACEHOLDER_ALT = re.compile(
    r'<img alt="No description has been provided for this image"'
    r' src="data:image/svg\+xml;base64,(?P<svg>[A-Za-z0-9+/=]+)"'
)


def clean_page_html(html: str, page: str, cache_dir: Path, downloads: str) -> str:
    """mkdocs-jupyter's template loads MathJax and Mermaid from a CDN; the site renders math with
    its own KaTeX and needs neither. Trim the inlined JupyterLab CSS to what the page uses, fix
    page links, and put the `downloads` paragraph under the title (at the top if there is none).
    `page` is the notebook's path among the docs files (exercises/name.ipynb)."""
    html = _page_links(MATHJAX_CONFIG.sub("", EXTERNAL_SCRIPT.sub("", html)), page)
    html = _described(html, page)
    html = _trimmed(html, page, cache_dir)
    title_end = html.find("</h1>")
    if title_end == -1:
        return downloads + html
    title_end += len("</h1>")
    return html[:title_end] + "\n" + downloads + html[title_end:]


def _described(html: str, page: str) -> str:
    """Each figure's alt text from the words it draws, as on the Markdown exercise pages,
    instead of nbconvert's "No description has been provided for this image"."""

    def described(match: re.Match[str]) -> str:
        svg = base64.b64decode(match["svg"]).decode("utf-8")
        try:
            alt = figure_alt(svg)
        except ValueError as error:
            raise BuildError([f"{page}: {error}"]) from error
        return f'<img alt="{markup.escape(alt)}" src="data:image/svg+xml;base64,{match["svg"]}"'

    return PLACEHOLDER_ALT.sub(described, html)


def _page_links(html: str, page: str) -> str:
    """Markdown cells link pages as `../part/topic.md` (from the notebook's folder, as pages do);
    MkDocs never sees that HTML, so turn each into the page's URL relative to this page."""
    folder, page_url = posixpath.dirname(page), posixpath.splitext(page)[0] + "/"

    def url(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(folder, match["path"]))[: -len(".md")]
        target = target.removesuffix("index") if target.endswith("index") else target + "/"
        relative = posixpath.relpath(target or ".", page_url).rstrip("/") + "/"
        return f'href="{relative}{match["anchor"] or ""}"'

    return MD_LINK.sub(url, html)


def _trimmed(html: str, page: str, cache_dir: Path) -> str:
    """trim_page(html), kept on disk: its input only changes with a notebook or with mkdocs-jupyter,
    and trimming costs 0.075 s a page, too much for a rebuild in which nothing else runs. One file
    a page, named by a hash of the input and of the trimming code."""
    digest = hashlib.sha256(TRIMMING_CODE + html.encode()).hexdigest()[:24]
    stem = page.replace("/", "__")
    path = cache_dir / f"{stem}.{digest}.html"
    if path.exists():
        return path.read_text(encoding="utf-8")
    try:
        trimmed = stylesheets.trim_page(html)
    except ValueError as error:
        raise BuildError([f"{page}: an inline stylesheet cannot be parsed: {error}"]) from error
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"{stem}.*.html"):
        stale.unlink()
    path.write_text(trimmed, encoding="utf-8")
    return trimmed
