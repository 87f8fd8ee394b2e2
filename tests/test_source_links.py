"""The links under every page to edit its source and to report a problem with it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from docs_exec.settings import Settings
from docs_exec.source_links import source_links, source_links_html, source_links_markdown


def test_links_point_at_the_source_on_the_branch_and_prefill_an_issue(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, repository="https://example.org/team/site/", branch="dev")
    (edit_text, edit), (report_text, report) = source_links(settings, "docs/fixes/residual.md")
    assert edit_text == "Edit this page" and report_text == "Report a problem with this page"
    assert edit == "https://example.org/team/site/edit/dev/docs/fixes/residual.md"
    parts = urlsplit(report)
    assert parts.path == "/team/site/issues/new"
    query = parse_qs(parts.query)
    assert query["title"] == ["docs/fixes/residual.md: "]
    assert query["body"][0].startswith("Page source: docs/fixes/residual.md\n")


def test_no_repository_setting_no_links(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    assert source_links(settings, "docs/index.md") == []
    assert source_links_markdown(settings, "docs/index.md") == ""
    assert source_links_html(settings, "docs/index.md") == ""


def test_html_escapes_the_query_and_markdown_is_one_styled_paragraph(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, repository="https://example.org/team/site")
    html = source_links_html(settings, "exercises/dashboard.py")
    assert html.startswith('<p class="page-source"><a href="https://example.org/team/site/edit/')
    assert "&amp;body=" in html and "&body=" not in html
    markdown = source_links_markdown(settings, "docs/index.md")
    assert markdown.startswith("\n\n[Edit this page](https://example.org/team/site/edit/main/")
    assert markdown.endswith("\n{: .page-source }\n")
