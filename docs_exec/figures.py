"""Turn open matplotlib figures into deterministic SVG, plus a copy for the dark scheme."""

from __future__ import annotations

import io
import re

from .store import Figure

# Material's slate scheme: page background hsl(232, 15%, 14%) and a light foreground.
DARK_BACKGROUND = (30, 32, 41)
DARK_FOREGROUND = (226, 228, 236)
# matplotlib's tab10 cycle, lightened for a dark background so lines keep a 3:1 contrast.
DARK_CYCLE = {
    "#1f77b4": "#6cb4ee",
    "#ff7f0e": "#ffa552",
    "#2ca02c": "#5fd35f",
    "#d62728": "#ff6b6b",
    "#9467bd": "#c39bec",
    "#8c564b": "#c89486",
    "#e377c2": "#f5a3dc",
    "#7f7f7f": "#b4b4b4",
    "#bcbd22": "#dcdd4a",
    "#17becf": "#5fe0ee",
}
RC = {"svg.hashsalt": "docs-exec", "svg.fonttype": "path", "svg.image_inline": True}
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def _dark(match: re.Match[str]) -> str:
    colour = match.group(0).lower()
    if colour in DARK_CYCLE:
        return DARK_CYCLE[colour]
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    if not red == green == blue:
        return colour
    # Greys are mapped linearly so that white becomes the page and black the text colour.
    ink = 1 - red / 255
    mixed = (
        round(b + (f - b) * ink) for b, f in zip(DARK_BACKGROUND, DARK_FOREGROUND, strict=True)
    )
    return "#{:02x}{:02x}{:02x}".format(*mixed)


def dark_variant(svg: str) -> str:
    return HEX.sub(_dark, svg)


def to_svg(figure: object) -> Figure:
    """Both colour-scheme variants of one figure; no date, fixed ids, text drawn as paths."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # type: ignore[attr-defined]
    light = buffer.getvalue()
    return Figure(light=light, dark=dark_variant(light))


def capture_open_figures() -> list[Figure]:
    """SVGs of every open figure in creation order, then close them (as sphinx-gallery does)."""
    import matplotlib.pyplot as plt

    figures = [to_svg(plt.figure(number)) for number in plt.get_fignums()]
    plt.close("all")
    return figures
