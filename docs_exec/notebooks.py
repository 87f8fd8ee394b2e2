"""Exercise notebooks: jupytext percent-format sources, run cell by cell, saved as .ipynb."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

CELL = re.compile(r"^# %%(?P<rest>.*)$")
TAGS = re.compile(r"tags=(\[[^\]]*\])")
EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>\s*", re.S)
MD_LINK = re.compile(r'href="(?P<path>[^":#"]+\.md)(?P<anchor>#[^"]*)?"')
MATHJAX_CONFIG = re.compile(
    r"<script[^>]*>(?:(?!</script>).)*MathJax(?:(?!</script>).)*</script>", re.S
)


@dataclass
class Cell:
    kind: str
    source: str
    line: int  # where the cell's first line of content is in the .py file
    tags: list[str] = field(default_factory=list)


def parse_percent(text: str) -> list[Cell]:
    """Cells of a percent-format file; markdown cells lose their leading '# '."""
    cells: list[Cell] = []
    for number, line in enumerate(text.splitlines(), start=1):
        marker = CELL.match(line)
        if marker:
            rest = marker["rest"]
            tags = TAGS.search(rest)
            kind = "markdown" if "[markdown]" in rest else "code"
            cells.append(Cell(kind, "", number + 1, json.loads(tags[1]) if tags else []))
        elif cells:
            cells[-1].source += line + "\n"
    for cell in cells:
        if cell.kind == "markdown":
            lines = cell.source.splitlines()
            cell.source = "\n".join(re.sub(r"^# ?", "", text) for text in lines)
        cell.source = cell.source.strip("\n")
    return [cell for cell in cells if cell.source.strip()]


def execute(cells: list[Cell], path: str, figures: Callable[[], list[str]]) -> list[list[dict]]:
    """Run the code cells in one namespace; each cell's stdout and figures become its outputs.

    `figures()` returns the SVGs drawn since it was last called (shown or left open). An error
    propagates with the .py file's own line numbers."""
    namespace: dict = {"__name__": "__main__", "__file__": path}
    outputs: list[list[dict]] = []
    for cell in cells:
        if cell.kind != "code":
            continue
        tree = ast.increment_lineno(ast.parse(cell.source), cell.line - 1)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(tree, path, "exec"), namespace)
        cell_outputs: list[dict] = []
        if stdout.getvalue():
            cell_outputs.append(
                {"output_type": "stream", "name": "stdout", "text": stdout.getvalue()}
            )
        for svg in figures():
            cell_outputs.append(
                {
                    "output_type": "display_data",
                    "data": {"image/svg+xml": svg, "text/plain": "<Figure>"},
                    "metadata": {},
                }
            )
        outputs.append(cell_outputs)
    return outputs


def to_ipynb(cells: list[Cell], outputs: list[list[dict]]) -> str:
    """An nbformat 4.5 notebook; `outputs` holds one list per code cell, in order."""
    remaining = iter(outputs)
    document_cells = []
    count = 0
    for number, cell in enumerate(cells, start=1):
        metadata = {"tags": cell.tags} if cell.tags else {}
        if cell.kind == "markdown":
            document_cells.append(
                {
                    "cell_type": "markdown",
                    "id": f"cell-{number}",
                    "metadata": metadata,
                    "source": cell.source,
                }
            )
            continue
        count += 1
        document_cells.append(
            {
                "cell_type": "code",
                "execution_count": count,
                "id": f"cell-{number}",
                "metadata": metadata,
                "outputs": next(remaining),
                "source": cell.source,
            }
        )
    return notebook_json(document_cells)


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


def notebook_json(cells: list[dict]) -> str:
    """An nbformat 4.5 document around ready-made cells, as stable, diffable JSON."""
    document = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def clean_page_html(html: str, page: str) -> str:
    """mkdocs-jupyter's template loads MathJax and Mermaid from a CDN; the site renders math with
    its own KaTeX and needs neither. Fix page links, and put a download link under the title
    (at the top if the notebook has none). `page` is the notebook's path among the docs files
    (exercises/name.ipynb)."""
    html = _page_links(MATHJAX_CONFIG.sub("", EXTERNAL_SCRIPT.sub("", html)), page)
    notebook_name = posixpath.basename(page)
    link = (
        f'<p class="exec-downloads"><a href="{notebook_name}" download="{notebook_name}">'
        f"Download the notebook ({notebook_name})</a>, run it with Jupyter.</p>\n"
    )
    title_end = html.find("</h1>")
    if title_end == -1:
        return link + html
    title_end += len("</h1>")
    return html[:title_end] + "\n" + link + html[title_end:]
