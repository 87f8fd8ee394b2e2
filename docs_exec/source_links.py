""" "Edit this page" and "Report a problem with this page" under every page, built from one
repository setting (`repository` and `branch` in the docs-exec block of mkdocs.yml).

They are written by the build step rather than by the theme: Material's `repo_url` also puts a
repository widget in the header that fetches star counts from GitHub's API, a request to another
host on every page view, and Zensical and MkDocs would each need their own template override.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from .settings import Settings


def source_links(settings: Settings, source: str) -> list[tuple[str, str]]:
    """(text, URL) of the two links for a page whose source is `source`, a path from the project
    root (docs/part/page.md, or exercises/name.py for an exercise page); none without a
    repository setting."""
    if not settings.repository:
        return []
    repository = settings.repository.rstrip("/")
    body = f"Page source: {source}\n\nWhat is wrong, and where on the page:\n"
    query = f"title={quote(source + ': ')}&body={quote(body)}"
    return [
        ("Edit this page", f"{repository}/edit/{settings.branch}/{source}"),
        ("Report a problem with this page", f"{repository}/issues/new?{query}"),
    ]


def source_links_markdown(settings: Settings, source: str) -> str:
    """The links as a Markdown paragraph to append to a page ("" without a repository)."""
    links = source_links(settings, source)
    if not links:
        return ""
    return "\n\n" + " · ".join(f"[{text}]({url})" for text, url in links) + "\n{: .page-source }\n"


def source_links_html(settings: Settings, source: str) -> str:
    """The same paragraph as HTML, for a page an engine renders from a notebook."""
    links = source_links(settings, source)
    if not links:
        return ""
    anchors = " · ".join(
        f'<a href="{html.escape(url)}">{html.escape(text)}</a>' for text, url in links
    )
    return f'<p class="page-source">{anchors}</p>\n'
