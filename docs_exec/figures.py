"""Turn open matplotlib figures into deterministic SVG, plus a copy for the dark scheme."""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass

from .store import Figure

# matplotlib's default colour cycle (tab10) and base colours that snippets name ("C0", "red").
NAMED = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#0000ff",
    "#008000",
    "#ff0000",
    "#00bfbf",
    "#bf00bf",
    "#bfbf00",
    "#ffa500",
]
MIN_CONTRAST = 3.0  # WCAG 2.2, 1.4.11: graphical objects against their background
RC = {"svg.hashsalt": "docs-exec", "svg.fonttype": "path", "svg.image_inline": True}
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")

RGB = tuple[int, int, int]


def _rgb(colour: str) -> RGB:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(channel) for channel in rgb))


def luminance(rgb: RGB) -> float:
    """Relative luminance as WCAG defines it."""
    linear = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: RGB, second: RGB) -> float:
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _legible(colour: str, background: RGB) -> str:
    """Mix a data colour toward black or white just enough to reach MIN_CONTRAST on background."""
    rgb = _rgb(colour)
    target = (0, 0, 0) if luminance(background) > 0.5 else (255, 255, 255)
    for step in range(21):
        share = step / 20
        mixed = tuple(c + (t - c) * share for c, t in zip(rgb, target, strict=True))
        if contrast(tuple(round(c) for c in mixed), background) >= MIN_CONTRAST:  # type: ignore[arg-type]
            return _hex(mixed)
    return _hex(target)


@dataclass(frozen=True)
class Palette:
    """The page colours figures are drawn for, as "#rrggbb"; the project sets them in
    mkdocs.yml's docs-exec block. The defaults are Material's: white, and the slate scheme's
    page background hsl(232, 15%, 14%) with its light foreground."""

    light_background: str = "#ffffff"
    dark_background: str = "#1e2129"
    dark_foreground: str = "#e2e4ec"

    def __post_init__(self) -> None:
        for name in ("light_background", "dark_background", "dark_foreground"):
            value = getattr(self, name)
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
                raise ValueError(f"docs-exec setting {name}: {value!r} is not #rrggbb")

    def background(self, scheme: str) -> RGB:
        return _rgb(self.dark_background if scheme == "dark" else self.light_background)

    def light_variant(self, svg: str) -> str:
        legible = _legible_map(self.light_background)
        return HEX.sub(lambda match: legible.get(match[0].lower(), match[0].lower()), svg)

    def dark_variant(self, svg: str) -> str:
        # matplotlib leaves black text without a fill (SVG's default), so give the root one.
        legible = _legible_map(self.dark_background)
        page, ink = _rgb(self.dark_background), _rgb(self.dark_foreground)

        def dark(match: re.Match[str]) -> str:
            colour = match[0].lower()
            if colour in legible:
                return legible[colour]
            red, green, blue = _rgb(colour)
            if not red == green == blue:
                return colour
            # Greys map linearly: white becomes the page and black the text colour.
            share = 1 - red / 255
            return _hex(tuple(b + (f - b) * share for b, f in zip(page, ink, strict=True)))

        fill = self.dark_foreground.lower()
        return HEX.sub(dark, svg).replace("<svg ", f'<svg fill="{fill}" ', 1)


@functools.cache
def _legible_map(background: str) -> dict[str, str]:
    return {colour: _legible(colour, _rgb(background)) for colour in NAMED}


HEAVY = 2_000  # drawn elements past which an artist goes into the SVG as an image


def _rasterize_heavy(figure: object) -> None:
    """A heatmap or a dense scatter as thousands of SVG paths weighs megabytes; as an embedded
    image it weighs kilobytes. Axes, text and ordinary lines stay vector."""
    from matplotlib.collections import Collection, QuadMesh
    from matplotlib.lines import Line2D

    for axes in figure.axes:  # type: ignore[attr-defined]
        for artist in axes.get_children():
            dense_collection = isinstance(artist, Collection) and len(artist.get_paths()) > HEAVY
            dense_line = isinstance(artist, Line2D) and len(artist.get_xdata()) > 10 * HEAVY
            if isinstance(artist, QuadMesh) or dense_collection or dense_line:
                artist.set_rasterized(True)


def to_svg(figure: object, palette: Palette) -> Figure:
    """Both colour-scheme variants of one figure; no date, fixed ids, text drawn as paths."""
    _rasterize_heavy(figure)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", dpi=150, metadata={"Date": None})  # type: ignore[attr-defined]
    drawn = buffer.getvalue()
    return Figure(light=palette.light_variant(drawn), dark=palette.dark_variant(drawn))


def capture_open_figures(palette: Palette) -> list[Figure]:
    """SVGs of every open figure in creation order, then close them (as sphinx-gallery does)."""
    import matplotlib.pyplot as plt

    figures = [to_svg(plt.figure(number), palette) for number in plt.get_fignums()]
    plt.close("all")
    return figures
