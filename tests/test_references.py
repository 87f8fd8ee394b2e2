"""The References page: one entry per cited work with BibTeX that parses, every citation in the
pages linked to its entry, every entry cited, and a "Cite this site" entry."""

from __future__ import annotations

import posixpath
import re
import textwrap
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sitecheck import ROOT, page_texts

from docs_exec.directives import DIRECTIVE, VALUE, lines_with_fences

REFERENCES = "docs/reference/references.md"
# The page column every code block keeps to (a folded block holds about 100 characters at
# 1280 px in Chromium, so this leaves room on narrower windows too).
BIBTEX_WIDTH = 80

# A citation as the pages write it: "Ioffe and Szegedy, 2015", "He et al. (2016", "van
# Laarhoven, 2017", "Griewank and Walther, *Evaluating Derivatives*, 2008". Whitespace may be a
# line break (and an admonition's indent) anywhere inside it.
NAME = r"[A-Z][a-zA-Z-]+"
YEAR = r"(?:19|20)\d\d\b"
CITATION = re.compile(
    rf"{NAME}(?:\s+and\s+{NAME}|\s+et\s+al\.),?\s+\(?{YEAR}"
    rf"|{NAME},\s+\(?{YEAR}"
    rf"|{NAME},\s+\*[^*]+\*,\s+{YEAR}"
)
# "Xiong et al." without a year, where a page refers back to a work: the page must link it.
BARE = re.compile(rf"({NAME})\s+et\s+al\.(?!,?\s+\(?{YEAR})")
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
HEADING = re.compile(r"^### (.+?) \{ #([a-z0-9]+) \}$", re.M)
SECTION = re.compile(r"^## ", re.M)
FENCE_BODY = re.compile(r"^( *)```bibtex\n(.*?)^\1```$", re.M | re.S)


# --- BibTeX --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bib:
    kind: str
    key: str
    fields: dict[str, str]


BIB_HEAD = re.compile(r"\s*@(\w+)\{([^,\s{}]+),")
BIB_FIELD = re.compile(r"\s*(\w+)\s*=\s*\{")
BIB_COMMA = re.compile(r"\s*,")
BIB_END = re.compile(r"\s*\}\s*$")
# What each entry type must hold for BibTeX to format it.
REQUIRED = {
    "article": {"author", "title", "journal", "year"},
    "inproceedings": {"author", "title", "booktitle", "year"},
    "book": {"author", "title", "publisher", "year"},
    "misc": {"author", "title", "year"},
}


def parse_bibtex(text: str) -> Bib:
    """One `@type{key, name = {value}, ...}` entry, values in balanced braces; raises ValueError
    on anything else."""
    head = BIB_HEAD.match(text)
    if not head:
        raise ValueError(f"no `@type{{key,` at the start of {text[:40]!r}")
    fields: dict[str, str] = {}
    position = head.end()
    while not BIB_END.match(text, position):
        field = BIB_FIELD.match(text, position)
        if not field:
            raise ValueError(f"expected `name = {{...}}` at {text[position : position + 40]!r}")
        depth, end = 1, field.end()
        while depth:
            if end == len(text):
                raise ValueError(f"unbalanced braces in field {field[1]}")
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        name = field[1].lower()
        if name in fields:
            raise ValueError(f"field {name} given twice")
        fields[name] = text[field.end() : end - 1]
        comma = BIB_COMMA.match(text, end)
        position = comma.end() if comma else end
        if not comma and not BIB_END.match(text, position):
            raise ValueError(f"no comma after field {name}")
    return Bib(head[1].lower(), head[2], fields)


def plain(value: str) -> str:
    """A BibTeX value as text: braces dropped, whitespace collapsed."""
    return " ".join(value.replace("{", "").replace("}", "").split())


# --- The References page -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    heading: str
    id: str
    body: str

    @property
    def year(self) -> str:
        return re.search(r"\d{4}", self.heading)[0]

    @property
    def first_author(self) -> str:
        return re.split(r",| and | et al\.", self.heading)[0]

    @property
    def stem(self) -> str:
        """The id's start: the first author's surname with its particle, in ASCII (an id is
        part of a URL): "vanlaarhoven", "hagele"."""
        name = unicodedata.normalize("NFKD", "".join(self.first_author.split()).lower())
        return name.encode("ascii", "ignore").decode()

    @property
    def sort_key(self) -> tuple[str, str]:
        """First author's surname (without a particle such as "van", accents folded: Hägele
        sorts as Hagele) and year."""
        surname = " ".join(w for w in self.first_author.split() if not w[0].islower())
        folded = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode()
        return folded.casefold(), self.year

    @property
    def title(self) -> str:
        """The title the reference gives: quoted for a paper, in italics for a book."""
        reference = self.body.strip().split("\n\n")[0]
        quoted = re.search(r'"([^"]+?)\.?"', reference)
        italic = re.search(r"\*([^*]+)\*", reference)
        return " ".join((quoted or italic)[1].split())

    @property
    def bibtex(self) -> str:
        blocks = FENCE_BODY.findall(self.body)
        assert len(blocks) == 1, f"{self.id}: {len(blocks)} BibTeX blocks"
        indent, body = blocks[0]
        assert re.search(rf'^\?\?\? quote "BibTeX"\n{indent}```bibtex', self.body, re.M), (
            f'{self.id}: the BibTeX is not in a folded `??? quote "BibTeX"` block'
        )
        return textwrap.dedent(body)

    def pages(self) -> set[str]:
        """The pages the entry links back to, as docs/<part>/<page>.md."""
        return {
            target
            for _, target in resolved_links(self.body, REFERENCES)
            if target != REFERENCES and target.startswith("docs/")
        }


def entries(text: str) -> list[Entry]:
    papers = text.split("\n## Papers and books", 1)[1]
    headings = list(HEADING.finditer(papers))
    ends = [match.start() for match in headings[1:]] + [len(papers)]
    return [Entry(h[1], h[2], papers[h.end() : end]) for h, end in zip(headings, ends, strict=True)]


def cite_this_site(text: str) -> str:
    section = next(s for s in SECTION.split(text) if s.startswith("Cite this site"))
    blocks = FENCE_BODY.findall(section)
    assert len(blocks) == 1, "the Cite this site section holds one BibTeX block"
    return blocks[0][1]


# --- Citations in the pages ----------------------------------------------------------------


def resolved_links(text: str, page: str) -> list[tuple[str, str]]:
    """(link text, target) for each Markdown link, the target resolved to a path from the repo
    root with its #fragment kept; links to other hosts are left out."""
    links = []
    for text_, target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, fragment = target.partition("#")
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page), path)) if path else page
        links.append((text_, f"{path}#{fragment}" if fragment else path))
    return links


def prose(text: str) -> str:
    """What a reader sees as running text: no code blocks, no figure directives (their alt text
    describes a figure and holds no links), no bound values and no inline code."""
    kept = [
        "" if fenced or DIRECTIVE.match(line) else line
        for _, line, fenced in lines_with_fences(text)
    ]
    return re.sub(r"`[^`\n]*`", " ", VALUE.sub(" ", "\n".join(kept)))


def unlinked_citations(text: str, page: str = "docs/part/page.md") -> list[str]:
    """Citations outside a link to the References page, and back-references ("Xiong et al.")
    to a work that no link on the page names."""
    visible = prose(text)
    linked = " ".join(
        t for t, target in resolved_links(visible, page) if "references.md#" in target
    )
    outside = LINK.sub(" ", visible)
    found = [" ".join(match[0].split()) for match in CITATION.finditer(outside)]
    return found + [
        f"{match[1]} et al. (no link names it)"
        for match in BARE.finditer(outside)
        if match[1] not in linked
    ]


def citation_links(text: str, page: str) -> list[tuple[str, str]]:
    """(link text, entry id) for each link to an entry of the References page."""
    return [
        (" ".join(text_.split()), target.partition("#")[2])
        for text_, target in resolved_links(prose(text), page)
        if target.startswith(REFERENCES + "#")
    ]


PAGES = {path: text for path, text in page_texts().items() if path != REFERENCES}
TEXT = (ROOT / REFERENCES).read_text(encoding="utf-8")
ENTRIES = entries(TEXT)


# --- Tests ---------------------------------------------------------------------------------


def test_the_parser_reads_an_entry_and_rejects_broken_ones() -> None:
    bib = parse_bibtex("@misc{k2020a,\n  title = {A {B} c},\n  year = {2020},\n}")
    assert bib == Bib("misc", "k2020a", {"title": "A {B} c", "year": "2020"})
    for broken in (
        "@misc{k, title = {A {B c}, year = {2020}}",  # an unclosed brace
        "@misc{k, title = {A} year = {2020}}",  # a missing comma
        "@misc{k, title = A, year = {2020}}",  # an unbraced value
        "misc{k, title = {A}}",  # no @type
    ):
        with pytest.raises(ValueError):
            parse_bibtex(broken)


def test_the_citation_check_finds_an_unlinked_citation() -> None:
    assert unlinked_citations("as shown (Ioffe and Szegedy, 2015).") == ["Ioffe and Szegedy, 2015"]
    assert unlinked_citations("He et\n    al. (2016, a title)") == ["He et al. (2016"]
    assert unlinked_citations("(van Laarhoven, 2017)") == ["Laarhoven, 2017"]
    linked = "([Ioffe and Szegedy, 2015](../reference/references.md#ioffe2015))"
    assert unlinked_citations(linked) == []
    assert unlinked_citations("as Xiong et al. found") == ["Xiong et al. (no link names it)"]
    back_reference = "[Xiong et al.](../reference/references.md#x) found; Xiong et al. showed"
    assert unlinked_citations(back_reference) == []
    alt = '{{ figure("snippets/a.py", 1, alt="as in Ioffe and Szegedy, 2015") }}'
    assert unlinked_citations(alt) == []


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_citation_links_to_its_entry(page: str) -> None:
    assert unlinked_citations(PAGES[page], page) == [], f"{page}: citations without a link"
    ids = {entry.id for entry in ENTRIES}
    for text, target in citation_links(PAGES[page], page):
        assert target in ids or target == "cite-this-site", f"{page}: [{text}] -> #{target}"


def test_every_entry_is_cited_and_links_back_to_the_pages_citing_it() -> None:
    citing: dict[str, set[str]] = {}
    for page, text in PAGES.items():
        for _, target in citation_links(text, page):
            citing.setdefault(target, set()).add(page)
    for entry in ENTRIES:
        assert entry.id in citing, f"#{entry.id} is cited by no page"
        assert entry.pages() == citing[entry.id], f"#{entry.id}: links back to the wrong pages"


def test_entries_are_complete_sorted_and_hold_bibtex_that_parses() -> None:
    assert len(ENTRIES) == TEXT.count("\n### "), "a heading without an `{ #id }`"
    keys = []
    for entry in ENTRIES:
        bib = parse_bibtex(entry.bibtex)
        missing = REQUIRED[bib.kind] - bib.fields.keys()
        assert not missing, f"#{entry.id}: @{bib.kind} lacks {sorted(missing)}"
        assert bib.fields["year"] == entry.year, f"#{entry.id}: BibTeX year"
        assert plain(bib.fields["title"]) == entry.title, f"#{entry.id}: BibTeX title"
        assert re.fullmatch(rf"{entry.stem}{entry.year}[a-z]*", entry.id), f"#{entry.id}: id"
        for line in entry.bibtex.splitlines():
            assert len(line) <= BIBTEX_WIDTH, f"#{entry.id}: BibTeX line wider than the column"
        keys.append(bib.key)
    assert len(keys) == len(set(keys)), "two entries share a BibTeX key"
    order = [entry.sort_key for entry in ENTRIES]
    assert order == sorted(order), "entries are not sorted by first author, then year"


def test_cite_this_site_names_the_site_and_its_version() -> None:
    bib = parse_bibtex(cite_this_site(TEXT))
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert bib.kind == "misc" and bib.key == "demystifying-gradients"
    assert bib.fields["title"] == re.search(r"^site_name: (.+)$", mkdocs, re.M)[1]
    assert bib.fields["version"] == re.search(r'^version = "(.+)"$', pyproject, re.M)[1]
    assert re.fullmatch(r"20\d\d", bib.fields["year"])
    home = resolved_links(PAGES["docs/index.md"], "docs/index.md")
    assert any(target == REFERENCES + "#cite-this-site" for _, target in home)


class _Page(HTMLParser):
    """The ids on a built page and the BibTeX blocks inside folded <details>."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.open_details = 0
        self.folded_bibtex = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"] or "")
        if tag == "details" and "open" not in found:
            self.open_details += 1
        if tag == "div" and self.open_details and "language-bibtex" in (found.get("class") or ""):
            self.folded_bibtex += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self.open_details:
            self.open_details -= 1


@pytest.mark.slow
def test_the_built_page_has_every_anchor_and_a_folded_bibtex_block_per_entry(
    built_site: Path,
) -> None:
    page = _Page()
    page.feed((built_site / "reference" / "references" / "index.html").read_text("utf-8"))
    assert {entry.id for entry in ENTRIES} | {"cite-this-site"} <= page.ids
    assert page.folded_bibtex == len(ENTRIES)
