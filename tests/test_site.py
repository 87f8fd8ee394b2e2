"""Site-wide checks: every snippet used, runnable standalone, matching the page; a strict build."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from sitecheck import (
    ROOT,
    broken_links,
    external_loads,
    imported_modules,
    page_texts,
    recorded_results,
    snippet_files,
    unexpanded_text,
    unshown_outputs,
)

from docs_exec.directives import lines_with_fences
from docs_exec.layout import figure_path
from docs_exec.project import scan
from docs_exec.settings import from_config_file

# Snippets by path inside snippets/: "<part>/<name>.py".
SNIPPET_NAMES = [path.relative_to(ROOT / "snippets").as_posix() for path in snippet_files()]
ALLOWED_IMPORTS = {"torch", "numpy", "matplotlib"} | set(sys.stdlib_module_names)
# A page about a library may run it; the snippet then says so on that page.
EXTRA_IMPORTS = {"transformers": "docs/hands-on/monitoring.md"}


def test_every_snippet_has_a_test_and_is_used_by_a_page() -> None:
    pages = page_texts()
    plan = scan(pages, ROOT)
    shown = {include.target for include in plan.includes}
    run = set(plan.snippets)
    for name in SNIPPET_NAMES:
        part, file = name.split("/")
        assert (ROOT / "tests" / part / f"test_{file}").is_file(), (
            f"snippets/{name} has no tests/{part}/test_{file}"
        )
        assert f"snippets/{name}" in shown, f"snippets/{name} is not shown on any page"
        assert f"snippets/{name}" in run, f"snippets/{name}'s output is not placed on any page"
        target = f"snippets/{name}"
        showing = {i.where.path.split("/")[1] for i in plan.includes if i.target == target}
        assert part in showing, f"snippets/{name} is shown only on pages in {sorted(showing)}"


def test_the_layout_mirrors_the_parts_and_names_are_unique() -> None:
    """snippets/<part>/<name>.py <-> tests/<part>/test_<name>.py <-> docs/<part>/; figures and
    downloads are named by the file's stem, so stems are unique across snippets and exercises."""
    parts = {path.name for path in (ROOT / "docs").iterdir() if path.is_dir()}
    snippet_parts = {path.name for path in (ROOT / "snippets").iterdir() if path.is_dir()}
    assert snippet_parts <= parts
    assert sorted(ROOT.glob("snippets/*.py")) == [] and sorted(ROOT.glob("tests/*/test_*.py"))
    tests = {p.relative_to(ROOT / "tests").as_posix() for p in ROOT.glob("tests/*/test_*.py")}
    assert tests == {f"{n.split('/')[0]}/test_{n.split('/')[1]}" for n in SNIPPET_NAMES}
    stems = [Path(n).stem for n in SNIPPET_NAMES] + [p.stem for p in ROOT.glob("exercises/*.py")]
    assert len(stems) == len(set(stems)), "two snippets or exercises share a name"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pythonpath = re.search(r"^pythonpath = \[(.*?)\]", pyproject, re.M | re.S)
    assert pythonpath, "pyproject.toml sets no pytest pythonpath"
    listed = set(re.findall(r'"([^"]+)"', pythonpath[1]))
    assert {f"snippets/{part}" for part in snippet_parts} <= listed


def test_every_include_and_directive_resolves() -> None:
    assert scan(page_texts(), ROOT).problems == []


# Math in a heading is shown unrendered where the heading is reused: the table of contents, the
# search results and the browser tab. Code spans are fine; they read the same everywhere.
HEADING = re.compile(r"^(?:# )?#{1,6} (.*)")
TEX_MARKUP = re.compile(r"[$^\\]|_\{")


def test_headings_hold_no_math() -> None:
    sources = page_texts() | {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for p in (ROOT / "exercises").glob("*.py")
    }
    found = []
    for path, text in sources.items():
        in_notebook = path.endswith(".py")
        for number, line, fenced in lines_with_fences(text):
            heading = HEADING.match(line)
            if fenced or not heading or (in_notebook != line.startswith("# #")):
                continue
            if TEX_MARKUP.search(re.sub(r"`[^`]*`", "", heading.group(1))):
                found.append(f"{path}:{number}: {line}")
    assert found == [], "headings with math or TeX markup:\n" + "\n".join(found)


TEACHING_PAGES = sorted(path for path in page_texts() if not path.startswith("docs/reference/"))


@pytest.mark.parametrize("page", TEACHING_PAGES)
def test_page_ends_with_what_to_remember_and_links_onward(page: str) -> None:
    text = page_texts()[page]
    sections = re.split(r"^## ", text, flags=re.M)
    assert sections[-1].startswith("What to remember\n"), f"{page}: the last section"
    last = sections[-1]
    bullets = re.findall(r"^- ", last, flags=re.M)
    assert 3 <= len(bullets) <= 5, f"{page}: {len(bullets)} bullets to remember"
    assert re.search(r"\]\([^)#]*\.md(#[^)]*)?\)", last), f"{page}: no link onward"


@pytest.mark.parametrize("name", SNIPPET_NAMES)
def test_snippet_follows_the_contract(name: str) -> None:
    path = ROOT / "snippets" / name
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    assert isinstance(docstring, str) and "\n" not in docstring.strip(), "one-line docstring"
    assert 'if __name__ == "__main__":\n    main()' in source
    assert "def main() -> None:" in source
    for extra in imported_modules(path) - ALLOWED_IMPORTS:
        page = EXTRA_IMPORTS.get(extra)
        assert page and f"snippets/{name}" in (ROOT / page).read_text(), (
            f"snippets/{name} imports {extra}: snippets use only the standard library, torch, "
            "numpy and matplotlib"
        )


@pytest.mark.slow
def test_strict_build_passes_and_links_and_anchors_resolve(any_site: Path) -> None:
    assert (any_site / "index.html").is_file()
    assert broken_links(any_site) == []


@pytest.mark.slow
def test_no_built_page_shows_a_directive_an_include_or_raw_math(any_site: Path) -> None:
    assert unexpanded_text(any_site) == []


@pytest.mark.slow
def test_every_recorded_output_is_on_a_built_page(any_site: Path) -> None:
    assert unshown_outputs(any_site, recorded_results()) == []


@pytest.mark.slow
def test_every_figure_and_download_is_there_and_valid(any_site: Path) -> None:
    results = recorded_results()
    for snippet, result in results.items():
        for number in range(1, len(result.figures) + 1):
            for scheme in ("light", "dark"):
                svg = any_site / figure_path(snippet, number, scheme)
                assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml"), svg
    downloads = sorted((any_site / "downloads").iterdir())
    assert {path.suffix for path in downloads} == {".py", ".ipynb", ".zip"}
    for path in downloads:
        if path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"), str(path))
        elif path.suffix == ".zip":
            assert zipfile.ZipFile(path).testzip() is None, path
        else:
            nbformat.validate(nbformat.read(path, as_version=4))


@pytest.mark.slow
def test_every_exercise_page_offers_the_starter_and_the_full_notebook(any_site: Path) -> None:
    for source in sorted((ROOT / "exercises").glob("*.py")):
        page = (any_site / "exercises" / source.stem / "index.html").read_text(encoding="utf-8")
        assert f'download="{source.stem}-starter.ipynb"' in page
        assert f'download="{source.stem}.ipynb"' in page
        # Folded by notebooks.js (mkdocs-jupyter) or rendered folded (Markdown exercise pages).
        assert "celltag_solution" in page or "Worked solution (try the exercise first)" in page


@pytest.mark.slow
def test_every_figure_states_the_size_of_the_svg_it_shows(any_site: Path) -> None:
    """A lazy image without a size takes no room until it loads, and the page jumps under the
    reader (and an anchor they followed moves away). Each figure's width and height must be
    the SVG's own, in CSS pixels."""
    figures = 0
    for page in sorted(any_site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r'<img [^>]*class="exec-figure"[^>]*>', html):
            source = re.search(r'src="([^"#]+)', tag)[1]
            svg = (page.parent / source).read_text(encoding="utf-8")
            size = re.search(r'<svg [^>]*width="([\d.]+)pt" height="([\d.]+)pt"', svg)
            width, height = (round(float(points) * 4 / 3) for points in size.groups())
            assert f'width="{width}"' in tag and f'height="{height}"' in tag, (page, tag[:200])
            figures += 1
    assert figures > 100


@pytest.mark.slow
def test_every_exercise_figure_is_described_by_the_words_it_draws(any_site: Path) -> None:
    """Alt text a screen reader can read: the figure's titles and labels as plain text, not
    nbconvert's "No description has been provided" and not TeX."""
    for source in sorted((ROOT / "exercises").glob("*.py")):
        page = (any_site / "exercises" / source.stem / "index.html").read_text(encoding="utf-8")
        alts = re.findall(r'<img alt="([^"]*)"', page)
        assert alts, source.stem
        for alt in alts:
            assert alt.startswith("Figure: ") and len(alt) > 40, (source.stem, alt[:120])
            assert not re.search(r"[$\\]|mathdefault", alt), (source.stem, alt[:200])


@pytest.mark.slow
def test_every_page_links_to_edit_its_own_source_and_to_report_a_problem(any_site: Path) -> None:
    """The two links come from the one `repository` setting and name the file the page was
    built from: docs/<part>/<page>.md, or exercises/<name>.py for an exercise page."""
    settings = from_config_file(ROOT / "mkdocs.yml")
    repository = settings.repository.rstrip("/")
    assert repository.startswith("https://")
    sources = {}
    for path in (ROOT / "docs").rglob("*.md"):
        page = path.relative_to(ROOT / "docs").with_suffix("").as_posix()
        sources["index.html" if page == "index" else f"{page}/index.html"] = path
    sources |= {f"exercises/{p.stem}/index.html": p for p in (ROOT / "exercises").glob("*.py")}
    edit = re.compile(r'<a href="([^"]*)"[^>]*>Edit this page</a>')
    report = re.compile(r'<a href="([^"]*)"[^>]*>Report a problem with this page</a>')
    for built, source in sorted(sources.items()):
        page = (any_site / built).read_text(encoding="utf-8")
        relative = source.relative_to(ROOT).as_posix()
        assert edit.findall(page) == [f"{repository}/edit/{settings.branch}/{relative}"], built
        [issue] = report.findall(page)
        assert issue.startswith(f"{repository}/issues/new?title=") and relative in issue, built


def test_the_built_site_checks_catch_a_page_no_engine_expanded(tmp_path: Path) -> None:
    """What an engine that skips the docs-exec plugin writes (Zensical does so silently)."""
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "index.html").write_text(
        '<p>{{ output("snippets/x.py") }}</p>\n<p>It is {{ value("snippets/x.py", "v") }}.</p>'
        '<p>--8&lt;-- "snippets/x.py"</p><p>$$ x^2 $$</p>'
        "<pre><code>f'{{x}}' and $$ in code are fine</code></pre>"
    )
    assert unexpanded_text(tmp_path) == [
        "part/index.html: '{{ output('",
        "part/index.html: '{{ value('",
        "part/index.html: '--8<--'",
        "part/index.html: '$$'",
    ]
    ran = SimpleNamespace(stdout="\nvalue = 42\n")
    assert unshown_outputs(tmp_path, {"snippets/x.py": ran}) == ["snippets/x.py: 'value = 42'"]
    (tmp_path / "part" / "index.html").write_text("<pre><code>value = 42\n</code></pre>")
    assert unshown_outputs(tmp_path, {"snippets/x.py": ran}) == []


@pytest.mark.slow
def test_site_loads_nothing_from_another_host(any_site: Path) -> None:
    assert external_loads(any_site) == []
    assert (any_site / "assets" / "katex" / "LICENSE").is_file()


@pytest.mark.slow
def test_a_cached_rebuild_imports_neither_torch_nor_matplotlib(
    built_site: Path, tmp_path: Path
) -> None:
    probe = textwrap.dedent(
        f"""\
        import sys
        from mkdocs.commands.build import build
        from mkdocs.config import load_config
        build(load_config("mkdocs.yml", site_dir={str(tmp_path)!r}))
        print("torch" in sys.modules, "matplotlib" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "False False"


@pytest.mark.slow
def test_plotted_lines_keep_a_3_to_1_contrast_in_both_schemes(built_site: Path) -> None:
    """Every line and marker a snippet plots (matplotlib's line2d groups) against the figure's
    background, light and dark (WCAG 1.4.11). Colormapped contour lines are not checked: a
    colormap's light end cannot stand out on white and its dark end not on slate; they give
    context behind the data, and the colorbar carries their values."""
    import re

    from docs_exec.figures import contrast
    from docs_exec.settings import from_config_file

    palette = from_config_file(ROOT / "mkdocs.yml").palette
    low = []
    for svg in sorted((built_site / "figures").glob("*.svg")):
        background = palette.background("dark" if svg.stem.endswith("-dark") else "light")
        for group in re.findall(r'<g id="line2d_\d+">(.*?)</g>', svg.read_text(), re.S):
            for colour in set(re.findall(r"stroke: (#[0-9a-f]{6})", group)):
                rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
                if rgb != background and contrast(rgb, background) < 3.0:
                    low.append(f"{svg.name}: {colour} ({contrast(rgb, background):.2f}:1)")
    assert low == []
