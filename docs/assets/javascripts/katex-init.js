// Render arithmatex's \(...\) and \[...\] with the KaTeX copy served by this site.
// Material's instant navigation swaps pages without a reload, so render on every page change.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
});
