"""Every page in a real Chromium, light and dark: loads, renders math and figures, passes axe."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from browsing import DESKTOP, HelperBrowser, Visit
from sitecheck import DOCS

from docs_exec.settings import from_config_file
from docs_exec.stylesheets import STYLE_ELEMENT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PALETTE = from_config_file(DOCS.parent / "mkdocs.yml").palette
EXERCISES = sorted((DOCS.parent / "exercises").glob("*.py"))
PAGES = [
    *sorted(
        "" if path == DOCS / "index.md" else path.relative_to(DOCS).with_suffix("").as_posix() + "/"
        for path in DOCS.rglob("*.md")
    ),
    *(f"exercises/{path.stem}/" for path in EXERCISES),
    "404.html",
]
# Forces lazy images to load, then reports what a reader would see on the page.
INSPECT = """async () => {
  const visible = el => el.offsetParent !== null;
  const images = [...document.querySelectorAll("article img")];
  for (const img of images.filter(visible)) { img.loading = "eager"; }
  await Promise.all(images.filter(visible).map(img => img.decode().catch(() => null)));
  const math = [...document.querySelectorAll(".arithmatex")];
  return {
    scheme: document.body.getAttribute("data-md-color-scheme"),
    background: getComputedStyle(document.body).backgroundColor,
    math: math.length,
    wideEquations: math.filter(el => el.tagName === "DIV" && el.scrollWidth > el.clientWidth + 1)
      .map(el => el.textContent.slice(0, 80)),
    unrendered: math.filter(el => !el.querySelector(".katex"))
      .map(el => el.textContent.slice(0, 80)),
    katexErrors: document.querySelectorAll(".katex-error").length,
    rawTex: /\\\\\\(|\\\\\\[|\\$\\$/.test(document.querySelector("article").innerText),
    brokenImages: images.filter(visible).filter(img => !(img.complete && img.naturalWidth > 0))
      .map(img => img.getAttribute("src")),
    missingAlt: images.filter(img => !(img.getAttribute("alt") || "").trim())
      .map(img => img.getAttribute("src")),
    codeBlocks: document.querySelectorAll("article pre > code").length,
    copyButtons: document.querySelectorAll("article .md-code__button[data-md-type=copy]").length,
  };
}"""


# True once every formula is rendered and every code block has its copy button.
READY = """() => {
  const math = [...document.querySelectorAll(".arithmatex")];
  const code = document.querySelectorAll("article pre > code").length;
  const copy = document.querySelectorAll("article .md-code__button[data-md-type=copy]").length;
  return math.every(el => el.querySelector(".katex")) && copy === code;
}"""


# Code and output blocks that scroll sideways, by their first line, with every collapsed block
# opened and every tab shown (a reader opens them too).
WIDE_BLOCKS = """() => {
  for (const details of document.querySelectorAll("article details")) { details.open = true; }
  const style = document.createElement("style");
  style.textContent = ".md-typeset .tabbed-block { display: block !important; }";
  document.head.append(style);
  const wide = [...document.querySelectorAll("article pre > code")]
    .filter(code => code.offsetParent !== null && code.scrollWidth > code.clientWidth + 1)
    .map(code => code.innerText.split("\\n")[0].slice(0, 80));
  style.remove();
  return wide;
}"""


# Material's two schemes differ in colours (the palette's CSS variables) and in which variant of
# each figure shows (#only-light, #only-dark); the markup is the same. So the light audit runs
# every axe rule, and the dark audit the rules that read colours or images: on every page of the
# site, on 2026-12-05, the other rules reported the same in both schemes. It halves axe's time,
# most of an audit's.
SCHEME_RULES = [
    "color-contrast",
    "link-in-text-block",
    "image-alt",
    "image-redundant-alt",
    "role-img-alt",
    "svg-img-alt",
]


def audit(browser: object, url: str, scheme: str) -> list[str]:
    """Everything a reader's browser would object to on one page, in one colour scheme: other
    hosts, failed loads, console errors, the wrong palette, unrendered or too wide math, broken
    images or missing alt text, code blocks without a copy button, serious axe violations,
    blocks that scroll sideways at 1280 px. Empty when the page is right."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import TimeoutError as NotYet

    visit = Visit(browser, url, scheme)
    try:
        # Math and copy buttons come from scripts that run after the load; on a busy machine
        # "network idle" can come first. What is still missing after 15 s is reported below.
        with contextlib.suppress(NotYet):
            visit.page.wait_for_function(READY, timeout=15_000)
        seen = visit.page.evaluate(INSPECT)
        # The figures' variants are drawn for the palette in mkdocs.yml: it must be the page's.
        background = "rgb({}, {}, {})".format(*PALETTE.background(scheme))
        options: dict = {"resultTypes": ["violations"]}
        if scheme == "dark":
            options["runOnly"] = {"type": "rule", "values": SCHEME_RULES}
        violations = Axe().run(visit.page, options=options).response["violations"]
        found = {
            "requests to another host": visit.other_hosts(url),
            "resources that failed to load": visit.failures,
            "console errors": visit.errors,
            "colour scheme": []
            if seen["scheme"] == ("slate" if scheme == "dark" else "default")
            else [seen["scheme"]],
            "page background, not the palette's": []
            if seen["background"] == background
            else [seen["background"]],
            "math left unrendered": seen["unrendered"],
            "KaTeX errors": [seen["katexErrors"]] if seen["katexErrors"] else [],
            "raw TeX in the text": ["\\( \\[ or $$"] if seen["rawTex"] else [],
            "equations wider than the column (break them)": seen["wideEquations"],
            "broken images": seen["brokenImages"],
            "images without alt text": seen["missingAlt"],
            "code blocks without a copy button": [seen["codeBlocks"] - seen["copyButtons"]]
            if seen["codeBlocks"] != seen["copyButtons"]
            else [],
            "serious axe violations": [
                f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
                for v in violations
                if v["impact"] in ("serious", "critical")
            ],
            "blocks that scroll sideways at 1280 px": visit.page.evaluate(WIDE_BLOCKS),
        }
    finally:
        visit.close()
    return [f"{what}: {items}" for what, items in found.items() if items]


AUDIT = "test_page_loads_renders_and_passes_axe"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", PAGES)
def test_page_loads_renders_and_passes_axe(
    browser: object, helper_browser: HelperBrowser, path: str, scheme: str
) -> None:
    assert helper_browser.take(f"audit {path} {scheme}", browser) == []


def test_search_finds_clipping(browser: object, site_url: str) -> None:
    from playwright.sync_api import TimeoutError as NotYet

    visit = Visit(browser, site_url, "light")
    try:
        box = visit.page.locator("input.md-search__input")
        results = visit.page.locator(".md-search-result__item")
        # The index loads in a web worker; a query typed before it is ready is answered by
        # nothing, so type again (as a reader would) until results appear or 30 s pass.
        for _ in range(10):
            box.fill("")
            box.press_sequentially("clipping", delay=30)
            try:
                results.first.wait_for(timeout=3_000)
                break
            except NotYet:
                continue
        assert results.count() > 0
        assert "clipping" in results.first.inner_text().lower()
    finally:
        visit.close()


def test_math_is_rendered_again_after_instant_navigation(browser: object, site_url: str) -> None:
    visit = Visit(browser, site_url, "light")
    try:
        visit.page.click("article a[href$='foundations/mlp-backprop/']", timeout=10_000)
        visit.page.wait_for_url("**/foundations/mlp-backprop/")
        visit.page.wait_for_selector("article .katex", timeout=10_000)
        seen = visit.page.evaluate(INSPECT)
        assert seen["math"] > 10 and seen["unrendered"] == []
        assert visit.errors == []
    finally:
        visit.close()


# Every element's computed style in document order (solutions unfolded), properties sorted by
# name (custom properties come in no fixed order), hashed. The --jp-* custom properties the
# trimming drops are left out: unread, they style nothing. Sizes are computed from the layout,
# which changes when a web font arrives or an image is decoded, and some styles are animated: so
# the formulas, fonts, images and transitions are awaited first. On a busy machine the two loads
# of one page once differed in the sizes of 684 KaTeX elements (a font arrived between them), and
# in ci19 and ci20 in an opened solution's box-shadow (read while it faded in).
COMPUTED_STYLES = """async () => {
  // cyrb53: a 53-bit string hash, so that each element crosses to Python as a short string
  // (the full styles of a notebook page are tens of megabytes).
  const hash = (text) => {
    let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  };
  for (const details of document.querySelectorAll("article details")) { details.open = true; }
  document.body.offsetHeight;  // lay the opened solutions out, so that their fonts load now
  const images = [...document.querySelectorAll("article img")];
  for (const img of images) { img.loading = "eager"; }
  await Promise.all([document.fonts.ready, ...images.map(img => img.decode().catch(() => null))]);
  // An opened solution's shadow fades in (Material: a 125 ms box-shadow transition).
  const finite = document.getAnimations()
    .filter(animation => animation.effect.getComputedTiming().endTime < Infinity);
  await Promise.all(finite.map(animation => animation.finished.catch(() => null)));
  return [...document.querySelectorAll("article *")].map(el => {
    const style = getComputedStyle(el);
    const names = [...style].filter(name => !name.startsWith("--jp-")).sort();
    const text = names.map(name => name + ":" + style.getPropertyValue(name)).join(";");
    // A solution's own style in full, so that a difference there can be named.
    return el.tagName + "." + el.className + "\t" + (el.tagName === "DETAILS" ? text : hash(text));
  });
}"""


def serve(html: str) -> Callable[[object], None]:
    """A Playwright route handler that answers with `html`."""
    return lambda route: route.fulfill(body=html, content_type="text/html")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def untrimmed_styles(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The `<style type="text/css">` elements mkdocs-jupyter writes into every notebook page
    (they do not depend on the notebook), as written, before the build trims them."""
    import nbformat
    from mkdocs_jupyter.convert import nb2html

    path = tmp_path_factory.mktemp("notebook") / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Empty")]), path)
    return [match[0] for match in STYLE_ELEMENT.finditer(nb2html(str(path)))]


def styles_with_and_without_trimming(
    browser: object, site_url: str, built_site: Path, untrimmed_styles: list[str], name: str
) -> dict[str, list[str]]:
    """The exercise page's computed styles as built (trimmed) and with mkdocs-jupyter's
    stylesheets put back in their places (untrimmed)."""
    page = (built_site / "exercises" / name / "index.html").read_text(encoding="utf-8")
    trimmed = [match[0] for match in STYLE_ELEMENT.finditer(page)]
    assert len(trimmed) == len(untrimmed_styles)
    assert sum(map(len, untrimmed_styles)) - sum(map(len, trimmed)) > 400_000
    untrimmed = iter(untrimmed_styles)
    versions = {"trimmed": page, "untrimmed": STYLE_ELEMENT.sub(lambda _: next(untrimmed), page)}

    url = f"{site_url}exercises/{name}/"
    styles = {}
    for version, html in versions.items():
        context = browser.new_context(viewport=DESKTOP)  # type: ignore[attr-defined]
        context.route(url, serve(html))
        tab = context.new_page()
        tab.goto(url, wait_until="networkidle")
        tab.wait_for_function(READY, timeout=15_000)  # every formula rendered
        styles[version] = tab.evaluate(COMPUTED_STYLES)
        context.close()
    return styles


@pytest.fixture(scope="session")
def helper_browser(
    site_url: str,
    built_site: Path,
    untrimmed_styles: list[str],
    request: pytest.FixtureRequest,
) -> Iterator[HelperBrowser]:
    """The page audits and style comparisons this session selected, in test order, shared with
    a second Chromium that takes them from the end (browsing.HelperBrowser)."""
    compare = partial(
        styles_with_and_without_trimming,
        site_url=site_url,
        built_site=built_site,
        untrimmed_styles=untrimmed_styles,
    )
    checks: dict[str, Callable[[object], object]] = {}
    for item in request.session.items:
        if item.originalname == AUDIT:
            path, scheme = item.callspec.params["path"], item.callspec.params["scheme"]
            checks[f"audit {path} {scheme}"] = partial(audit, url=site_url + path, scheme=scheme)
        elif item.originalname == TRIMMING:
            name = item.callspec.params["name"]
            checks[f"styles {name}"] = partial(compare, name=name)
    helper = HelperBrowser(checks)
    yield helper
    helper.close()


TRIMMING = "test_trimming_the_notebook_css_changes_no_computed_style"


@pytest.mark.parametrize("name", [path.stem for path in EXERCISES])
def test_trimming_the_notebook_css_changes_no_computed_style(
    browser: object, helper_browser: HelperBrowser, name: str
) -> None:
    """Put the untrimmed stylesheets back in their places: every element of the page must be
    styled exactly as before."""
    styles = helper_browser.take(f"styles {name}", browser)
    assert len(styles["trimmed"]) == len(styles["untrimmed"]) > 500
    changed = [(a, b) for a, b in zip(*styles.values(), strict=True) if a != b]
    assert changed == [], (
        f"{len(changed)} elements styled differently, first: "
        f"{[a.split(LABEL_END)[0] for a, _ in changed[:5]]}; {differing_properties(*changed[0])}"
    )


LABEL_END = "\t"  # after each element's tag and class in COMPUTED_STYLES (classes hold spaces)


def differing_properties(trimmed: str, untrimmed: str) -> str:
    """Which properties differ between two elements' styles, where they were kept in full."""
    first, second = (dict(p.split(":", 1) for p in s.split(LABEL_END)[1].split(";") if ":" in p)
                     for s in (trimmed, untrimmed))  # fmt: skip
    return ", ".join(
        f"{name}: {first.get(name)} trimmed, {second.get(name)} untrimmed"
        for name in sorted(first.keys() | second.keys())
        if first.get(name) != second.get(name)
    )


def test_the_helper_browser_and_the_tests_run_each_check_once(browser: object) -> None:
    """The helper takes checks from the end while the test thread takes them from the front;
    a check the helper ran hands its result, or its exception, to the test that takes it."""
    ran: list[tuple[str, str]] = []

    def check(name: str) -> Callable[[object], str]:
        def run(browser: object) -> str:
            ran.append((name, threading.current_thread().name))
            time.sleep(0.2)
            if name == "last":
                raise ValueError("the helper's failure")
            return name.upper()

        return run

    names = [f"check {i}" for i in range(20)] + ["last"]
    helper = HelperBrowser({name: check(name) for name in names})
    try:
        time.sleep(3)  # the helper's Chromium starts and takes "last" first
        with pytest.raises(ValueError, match="the helper's failure"):
            helper.take("last", browser)
        taken = [helper.take(name, browser) for name in names[:-1]]
        assert taken == [name.upper() for name in names[:-1]]
    finally:
        helper.close()
    assert sorted(name for name, _ in ran) == sorted(names)  # each exactly once
    assert {thread for _, thread in ran} == {"MainThread", "helper browser"}
