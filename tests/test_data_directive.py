"""The data directive: a snippet's JSON output placed in a page for its scripts to read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import markdown
import pytest
from sitecheck import unexpanded_text, unshown_outputs
from test_executor import build, make_project

from docs_exec.directives import DirectiveSyntaxError, parse_page
from docs_exec.executor import Report
from docs_exec.project import Plan, check
from docs_exec.render import expand
from docs_exec.store import Result

# Prints JSON whose strings hold what could end the script element early or start a comment.
PRINTS_JSON = '''"""Prints JSON."""
import json
print(json.dumps({"norms": [1.5, 2.5e-7], "note": "</script><!-- & -->"}))
'''
PAGE = """\
# Page

{{ data("snippets/d.py", id="the-data") }}
"""
SCRIPT = re.compile(r'<script type="application/json" id="the-data">(.*?)</script>', re.S)


def ran(stdout: str, snippet: str = "snippets/d.py") -> Result:
    return Result(snippet, "key", stdout, "", "Python 3 · torch 2 · cpu", 0.0)


def test_the_directive_names_its_snippet_id_and_line() -> None:
    directives, _ = parse_page(PAGE, "docs/index.md")
    assert [(d.kind, d.snippet, d.element_id, d.where.line) for d in directives] == [
        ("data", "snippets/d.py", "the-data", 3)
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{{ data("d.py") }}', "usage: {{ data"),
        ('{{ data("d.py", "e.py", id="x") }}', "usage: {{ data"),
        ('{{ data("d.py", id="x", rtol=0.1) }}', "usage: {{ data"),
        ('{{ data("d.py", id="1st") }}', "is not an HTML id"),
        ('{{ data("d.py", id="two words") }}', "is not an HTML id"),
        ('{{ data("d.py", id="a\\"><script>") }}', "is not an HTML id"),
        ('{{ data("d.py", id="") }}', "is not an HTML id"),
        ('{{ data("d.py", id=3) }}', "is not an HTML id"),
    ],
)
def test_a_malformed_data_directive_fails_with_page_and_line(line: str, reason: str) -> None:
    with pytest.raises(DirectiveSyntaxError) as caught:
        parse_page(f"# Page\n\n{line}\n", "docs/page.md")
    assert str(caught.value).startswith("docs/page.md:3: ")
    assert reason in str(caught.value)


def test_the_run_becomes_a_script_element_holding_the_same_json(tmp_path: Path) -> None:
    settings = make_project(tmp_path, {"d.py": PRINTS_JSON}, {"index.md": PAGE})
    report, problems = build(settings)
    assert problems == []
    expanded = expand(PAGE, "index.md", report.results)
    element = SCRIPT.search(expanded)
    assert element, expanded
    assert expanded.splitlines()[2] == element.group(0)
    # Nothing in the data can close the element or open a comment in it, and it reads the same.
    assert "<" not in element.group(1)
    assert json.loads(element.group(1)) == json.loads(report.results["snippets/d.py"].stdout)


@pytest.mark.parametrize(
    ("stdout", "error"),
    [
        ("norms: 1.5 2.5\n", "Expecting value: line 1 column 1"),
        ('{"norms": [1.5,\n', "Expecting value: line 2 column 1"),
        ("", "Expecting value: line 1 column 1"),
    ],
)
def test_a_run_that_does_not_print_json_fails_with_page_and_line(stdout: str, error: str) -> None:
    plan = Plan(directives=parse_page(PAGE, "docs/index.md")[0])
    problems = check(plan, Report(results={"snippets/d.py": ran(stdout)}))
    assert len(problems) == 1
    assert problems[0].startswith(
        "docs/index.md:3: data(...) of snippets/d.py, which does not print JSON ("
    )
    assert error in problems[0]


def test_markdown_keeps_the_element_whole_and_the_site_checks_find_the_data(
    tmp_path: Path,
) -> None:
    """Pretty-printed JSON with blank lines, and text that Markdown would format, pass through
    Python-Markdown as one raw HTML block; the site checks then see the data as shown and no
    directive left unexpanded."""
    stdout = json.dumps({"a": [1, 2], "b": "*not* `code` &amp;"}, indent=2).replace("\n", "\n\n")
    expanded = expand(PAGE, "index.md", {"snippets/d.py": ran(stdout)})
    html = markdown.markdown(expanded, extensions=["admonition", "attr_list", "md_in_html"])
    element = SCRIPT.search(html)
    assert element, html
    assert json.loads(element.group(1)) == json.loads(stdout)
    (tmp_path / "index.html").write_text(f"<html><body>{html}</body></html>")
    assert unexpanded_text(tmp_path) == []
    assert unshown_outputs(tmp_path, {"snippets/d.py": ran(stdout)}) == []


def test_an_indented_data_directive_fails_with_page_and_line() -> None:
    """Inside an admonition or a tab, Markdown would format the JSON as text."""
    page = '# Page\n\n!!! note "Data"\n    {{ data("snippets/d.py", id="the-data") }}\n'
    with pytest.raises(DirectiveSyntaxError) as caught:
        parse_page(page, "docs/page.md")
    assert str(caught.value).startswith("docs/page.md:4: a data directive stands at the start")
