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
  // A wide equation scrolls sideways; keyboard users need to be able to focus it to scroll.
  for (const block of body.querySelectorAll("div.arithmatex")) {
    if (block.scrollWidth > block.clientWidth) {
      block.setAttribute("tabindex", "0");
      block.setAttribute("role", "group");
      block.setAttribute("aria-label", "equation, scrolls sideways");
    }
  }
  // Material's search overlay is a dialog without a name.
  document.querySelector(".md-search")?.setAttribute("aria-label", "Search");
});
