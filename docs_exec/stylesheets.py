"""Trim the stylesheets mkdocs-jupyter inlines into a notebook page down to what the page can use.

Its template inlines all of JupyterLab's CSS (575 kB: menus, file browser, dialogs, ...) into every
notebook page, though a rendered notebook uses a few dozen of its classes and a few hundred of its
custom properties. Two things are dropped, both in JupyterLab's own namespaces so that no other
stylesheet on the page can depend on them:

- a style rule whose every selector needs a class of JupyterLab or of a library it bundles
  (`jp-*`, Lumino's `lm-*` and `p-*`, Blueprint's `bp3-*`, CodeMirror's) that appears nowhere in
  the page (classes inside `:not(...)` and similar are not needed);
- a `--jp-*` custom property that no kept declaration, other `<style>` element or `style`
  attribute reads, directly or through another custom property.

Everything else is kept as written, in its order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

COMMENT = re.compile(r"/\*.*?\*/", re.S)
STYLE_ELEMENT = re.compile(
    r'(?P<open><style type="text/css">)(?P<css>.*?)(?P<close></style>)', re.S
)
# mkdocs-jupyter also writes <style> elements without a type, one of them not even CSS (a Python
# list's repr); they are left alone, but the custom properties they read are kept.
OTHER_STYLE_ELEMENT = re.compile(r"<style(?![^>]*text/css)[^>]*>(.*?)</style>", re.S)
STYLE_ATTRIBUTE = re.compile(r'\bstyle="([^"]*)"')
CLASS_ATTRIBUTE = re.compile(r'\bclass="([^"]*)"')
CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
JUPYTER_CLASS = re.compile(r"(?:jp|lm|p|bp3|cm)-|CodeMirror")
PARENTHESES = re.compile(r"\([^()]*\)")
# A whole string literal, or one character that shapes the stylesheet.
STRUCTURE = re.compile(r"""\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[{};()\[\],]""")
VAR_USE = re.compile(r"var\(\s*(--[\w-]+)")
# At-rules whose body holds more rules; other blocks (@keyframes, @font-face) are kept whole.
GROUPING = ("@media", "@supports", "@layer", "@container")

Rule = Callable[[str, str], str | None]


def trim_page(html: str) -> str:
    """`html` with each `<style type="text/css">` trimmed (see the module's docstring). The sheets
    are trimmed together: one defines a custom property that another reads."""
    classes = {name for value in CLASS_ATTRIBUTE.findall(html) for name in value.split()}
    sheets = [
        _walk(
            COMMENT.sub("", match["css"]),
            lambda sel, body: body if _can_match(sel, classes) else None,
        )
        for match in STYLE_ELEMENT.finditer(html)
    ]
    untouched = STYLE_ATTRIBUTE.findall(html) + OTHER_STYLE_ELEMENT.findall(html)
    reads = set(VAR_USE.findall(" ".join(untouched)))
    definitions: dict[str, list[str]] = {}

    def record(selector: str, body: str) -> str:
        for name, value in _declarations(body):
            if name.startswith("--"):
                definitions.setdefault(name, []).append(value)
            else:
                reads.update(VAR_USE.findall(value))
        return body

    for sheet in sheets:
        _walk(sheet, record, on_other=lambda body: reads.update(VAR_USE.findall(body)))
    used, pending = set(), list(reads)
    while pending:
        name = pending.pop()
        if name not in used:
            used.add(name)
            for value in definitions.get(name, []):
                pending.extend(VAR_USE.findall(value))

    def drop_unread(selector: str, body: str) -> str | None:
        kept = [
            f"{name}:{value}"
            for name, value in _declarations(body)
            if not (name.startswith("--jp-") and name not in used)
        ]
        return ";".join(kept) or None

    trimmed = iter([_walk(sheet, drop_unread) for sheet in sheets])
    return STYLE_ELEMENT.sub(lambda match: match["open"] + next(trimmed) + match["close"], html)


def _can_match(selector_list: str, classes: set[str]) -> bool:
    for selector in _split_top_level(selector_list, ","):
        while PARENTHESES.search(selector):  # :not(.a), :is(.a, .b): not required to exist
            selector = PARENTHESES.sub("", selector)
        needed = (name for name in CLASS.findall(selector) if JUPYTER_CLASS.match(name))
        if all(name in classes for name in needed):
            return True
    return False


def _walk(css: str, rule: Rule, on_other: Callable[[str], object] | None = None) -> str:
    """Rebuild `css`, passing each style rule's (selector, body) through `rule`, which returns the
    new body or None to drop the rule. Grouping at-rules are walked into and dropped if emptied."""
    out = []
    for prelude, body in _blocks(css):
        if body is None:
            out.append(f"{prelude};")
        elif prelude.startswith(GROUPING):
            inner = _walk(body, rule, on_other)
            if inner:
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            if on_other:
                on_other(body)
            out.append(f"{prelude}{{{body}}}")
        else:
            new = rule(prelude, body)
            if new is not None:
                out.append(f"{prelude}{{{new}}}")
    return "".join(out)


def _structure(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) for each brace, bracket, parenthesis, semicolon and comma outside string
    literals; the regex skips everything else at C speed (the JupyterLab CSS is 575 kB)."""
    for match in STRUCTURE.finditer(text):
        char = match[0]
        if char[0] not in "\"'":
            yield match.start(), char


def _blocks(css: str) -> Iterator[tuple[str, str | None]]:
    """Top-level (prelude, body) pairs; a statement such as `@charset "UTF-8";` has body None."""
    depth, start, open_at = 0, 0, 0
    for index, char in _structure(css):
        if char == "{":
            if depth == 0:
                open_at = index
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                yield css[start:open_at].strip(), css[open_at + 1 : index]
                start = index + 1
            elif depth < 0:
                raise ValueError(f"unbalanced '}}' at offset {index}")
        elif char == ";" and depth == 0:
            yield css[start:index].strip(), None
            start = index + 1
    if depth or css[start:].strip():
        raise ValueError("stylesheet ends inside a rule")


def _declarations(body: str) -> Iterator[tuple[str, str]]:
    for declaration in _split_top_level(body, ";"):
        name, colon, value = declaration.partition(":")
        if colon:
            yield name.strip(), value


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at `separator` outside strings and brackets."""
    parts, depth, start = [], 0, 0
    for index, char in _structure(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts
