"""The gradient-flow explorer in a real Chromium: controls, chart, both schemes, and no JS."""

from __future__ import annotations

import re

import pytest
from browsing import DESKTOP, Visit

from bench.page_weight import PAGE_BUDGET, response_size
from docs_exec.figures import contrast

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = "fixes/explorer/"
# What a reader sees of the explorer: the plotted lines, the chart's name, the sentence under it.
STATE = """() => {
  const root = document.querySelector(".explorer");
  const svg = root.querySelector("svg");
  return {
    line: svg?.querySelector("path.explorer__line")?.getAttribute("d"),
    reference: svg?.querySelector("path.explorer__reference")?.getAttribute("d") ?? null,
    title: svg?.querySelector("title")?.textContent,
    role: svg?.getAttribute("role"),
    status: root.querySelector(".explorer__status")?.textContent,
    live: root.querySelector(".explorer__status")?.getAttribute("aria-live"),
    checked: [...root.querySelectorAll("input:checked")].map((input) => input.value),
  };
}"""
# The colours a reader sees: the page background, and each chart part's colour.
COLOURS = """() => {
  const colour = (el, property) => getComputedStyle(el)[property];
  const root = document.querySelector(".explorer");
  return {
    background: colour(document.body, "backgroundColor"),
    line: colour(root.querySelector("path.explorer__line"), "stroke"),
    reference: colour(root.querySelector("path.explorer__reference"), "stroke"),
    text: colour(root.querySelector("svg text"), "fill"),
    label: colour(root.querySelector("label"), "color"),
  };
}"""


def rgb(css: str, background: tuple[float, ...] = (255, 255, 255)) -> tuple[float, ...]:
    """A CSS rgb()/rgba() colour as the reader sees it over `background`."""
    red, green, blue, *alpha = (float(v) for v in re.findall(r"[\d.]+", css))
    a = alpha[0] if alpha else 1.0
    return tuple(a * c + (1 - a) * b for c, b in zip((red, green, blue), background, strict=True))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_control_redraws_the_chart_from_the_keyboard(
    browser: object,
    site_url: str,
    scheme: str,
) -> None:
    visit = Visit(browser, site_url + PAGE, scheme)
    page = visit.page
    try:
        assert page.locator("#explorer-static").is_hidden(), "the static figure shows beside it"
        state = page.evaluate(STATE)
        assert state["role"] == "img" and state["live"] == "polite"
        assert state["line"] and state["reference"], "the chart drew no lines"
        assert state["line"].count("L") == int(state["checked"][0]) - 1  # one point per layer
        assert all(value in state["title"] for value in state["checked"])
        assert re.fullmatch(
            r"The first layer's gradient norm is \S+ times the last.*", state["status"]
        )
        groups = page.locator(".explorer fieldset")
        assert groups.count() == 4
        for at in range(groups.count()):
            group = groups.nth(at)
            assert group.locator("legend").inner_text().strip()
            assert group.locator("input").count() == group.locator("label").count() >= 3
            before = page.evaluate(STATE)
            group.locator("input:checked").focus()
            page.keyboard.press("ArrowDown")  # checks the next radio button, as a reader would
            after = page.evaluate(STATE)
            pairs = zip(before["checked"], after["checked"], strict=True)
            changed = [i for i, (old, new) in enumerate(pairs) if old != new]
            assert changed == [at], f"ArrowDown in group {at} changed {changed}"
            assert after["line"] != before["line"], f"group {at} did not redraw the chart"
            assert after["title"] != before["title"] and after["status"] != before["status"]
            assert after["checked"][at] in after["title"]
        # The architecture group (last) now shows plain: no reference line beside itself.
        page.get_by_label("plain", exact=True).check()
        assert page.evaluate(STATE)["reference"] is None
        page.get_by_label("residual", exact=True).check()
        colours = page.evaluate(COLOURS)
        background = rgb(colours["background"])
        for part, least in (("line", 3.0), ("reference", 3.0), ("text", 4.5), ("label", 4.5)):
            seen = rgb(colours[part], background)
            assert contrast(seen, background) >= least, (part, colours[part], scheme)
        assert visit.errors == [], "console errors"
        assert visit.other_hosts(site_url) == [], "requests to another host"
    finally:
        visit.close()


def test_after_in_site_navigation_the_explorer_is_drawn(
    browser: object,
    site_url: str,
) -> None:
    """Material's instant navigation replaces the page without loading its scripts again."""
    visit = Visit(browser, site_url + "fixes/residual/", "light")
    try:
        visit.page.locator("article a[href$='explorer/']").first.click()
        visit.page.wait_for_url(re.compile(PAGE + "$"))
        visit.page.locator(".explorer svg path.explorer__line").wait_for()
        assert visit.page.locator(".explorer svg").count() == 1
        assert visit.page.locator("#explorer-static").is_hidden()
        assert visit.errors == []
    finally:
        visit.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_without_javascript_the_static_figure_is_shown(
    browser: object,
    site_url: str,
    scheme: str,
) -> None:
    """Without JavaScript, Material shows its first palette (light) whatever the reader's
    preference, and with it the light variant of the figure."""
    context = browser.new_context(  # type: ignore[attr-defined]
        color_scheme=scheme, viewport=DESKTOP, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(site_url + PAGE, wait_until="networkidle")
        figures = page.locator("#explorer-static img")
        assert figures.count() == 2
        shown = [figures.nth(i) for i in range(2) if figures.nth(i).is_visible()]
        assert len(shown) == 1, "one variant of the figure, for the scheme shown"
        shown[0].scroll_into_view_if_needed()
        assert shown[0].evaluate("img => img.complete && img.naturalWidth > 0")
        assert page.locator(".explorer").inner_html() == ""
    finally:
        context.close()


def test_the_page_stays_under_the_weight_budget(
    browser: object,
    site_url: str,
) -> None:
    """Everything the page loads on a cold visit, compressed as a static host serves it."""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        loaded: list[tuple[int, int]] = []
        page.on("response", lambda response: loaded.append(response_size(response)))
        page.goto(site_url + PAGE, wait_until="networkidle")
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        assert 0 < sum(wire for _, wire in loaded) <= PAGE_BUDGET
    finally:
        context.close()
