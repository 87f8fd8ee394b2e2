"""Checks for docs_exec/stylesheets.py: what the notebook-page CSS trimming keeps and drops."""

from __future__ import annotations

import pytest

from docs_exec.stylesheets import trim_page


def page(css: str, body: str = '<div class="jp-Cell">x</div>', *more_css: str) -> str:
    styles = "".join(f'<style type="text/css">{sheet}</style>' for sheet in (css, *more_css))
    return f"{styles}{body}"


def trimmed(css: str, body: str = '<div class="jp-Cell">x</div>', *more_css: str) -> str:
    out = trim_page(page(css, body, *more_css))
    return out[len('<style type="text/css">') : out.index("</style>")]


def test_rules_for_jupyter_classes_the_page_lacks_are_dropped() -> None:
    css = ".jp-Cell{color:red}.jp-FileBrowser{color:blue}.bp3-button{x:1}.CodeMirror{x:2}"
    assert trimmed(css) == ".jp-Cell{color:red}"


def test_rules_without_jupyter_classes_are_kept_even_if_nothing_matches() -> None:
    css = "body{margin:0}.md-typeset .absent{color:red}[data-x] p{color:blue}"
    assert trimmed(css) == css


def test_a_rule_stays_if_any_of_its_selectors_can_match() -> None:
    css = ".jp-Dialog,.jp-Cell>p{color:red}"
    assert trimmed(css) == css


def test_classes_inside_functional_pseudo_classes_are_not_required() -> None:
    css = ".jp-Cell:not(.jp-mod-active){color:red}.jp-Cell:is(.jp-A, .jp-B){color:blue}"
    assert trimmed(css) == css


def test_grouping_at_rules_are_walked_and_dropped_when_empty() -> None:
    css = (
        "@media print{.jp-Menu{x:1}}@media screen{.jp-Menu{x:1}.jp-Cell{y:2}}"
        "@keyframes spin{from{a:0}to{a:1}}"
    )
    assert trimmed(css) == "@media screen{.jp-Cell{y:2}}@keyframes spin{from{a:0}to{a:1}}"


def test_unread_jupyter_custom_properties_are_dropped_read_ones_kept() -> None:
    css = (
        ":root{--jp-read:1px;--jp-chain:var(--jp-read);--jp-unread:3px;--md-unread:4px}"
        ".jp-Cell{margin:var(--jp-chain)}"
    )
    assert trimmed(css) == (
        ":root{--jp-read:1px;--jp-chain:var(--jp-read);--md-unread:4px}.jp-Cell{margin:var(--jp-chain)}"
    )


def test_properties_read_by_another_sheet_or_a_style_attribute_are_kept() -> None:
    definitions = ":root{--jp-a:1px;--jp-b:2px;--jp-c:3px}"
    body = '<div class="jp-Cell" style="width:var(--jp-b)">x</div>'
    out = trim_page(page(definitions, body, ".jp-Cell{margin:var(--jp-a)}"))
    assert "--jp-a:1px;--jp-b:2px}" in out and "--jp-c" not in out


def test_a_rule_left_with_no_declarations_is_dropped() -> None:
    assert trimmed(".jp-Cell{--jp-unread:1px}p{x:1}") == "p{x:1}"


def test_strings_and_urls_may_hold_braces_semicolons_and_commas() -> None:
    css = (
        '.jp-Cell::before{content:"}{;,"}'
        ".jp-Cell{background:url(data:image/svg+xml;base64,AAAA)}"
        ".jp-Cell{mask:url(\"data:image/svg+xml;charset=utf-8,<svg d='a;b{c}'/>\")}"
    )
    assert trimmed(css) == css


def test_comments_go() -> None:
    assert trimmed("/* a } comment */.jp-Cell{color:red}") == ".jp-Cell{color:red}"


def test_other_style_elements_are_left_alone() -> None:
    html = "<style>['not css {']</style>" + page(".jp-Gone{x:1}")
    assert trim_page(html) == "<style>['not css {']</style>" + page("")


@pytest.mark.parametrize("css", [".jp-Cell{color:red", ".jp-Cell{color:red}}", ".jp-Cell"])
def test_a_stylesheet_that_does_not_parse_is_an_error(css: str) -> None:
    with pytest.raises(ValueError, match=r"rule|unbalanced"):
        trim_page(page(css))
