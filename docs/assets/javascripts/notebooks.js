// Exercise notebooks (rendered by mkdocs-jupyter): math in Markdown cells is written with $...$,
// and the cells tagged "solution" fold into one collapsed block per run of consecutive cells.
document$.subscribe(({ body }) => {
  for (const notebook of body.querySelectorAll(".jupyter-wrapper")) {
    renderMathInElement(notebook, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "$", right: "$", display: false },
      ],
      throwOnError: false,
    });
    // A code cell wider than the page scrolls; keyboard users must be able to focus it.
    for (const code of notebook.querySelectorAll(".highlight-ipynb")) {
      if (code.scrollWidth > code.clientWidth) {
        code.setAttribute("tabindex", "0");
      }
    }
    // Code cells carry the tag class themselves, Markdown cells on their rendered child.
    const isSolution = (el) =>
      el.classList.contains("celltag_solution") || el.querySelector(".celltag_solution") !== null;
    let cell = notebook.querySelector(".jp-Cell");
    while (cell) {
      if (!isSolution(cell)) {
        cell = cell.nextElementSibling;
        continue;
      }
      const details = document.createElement("details");
      details.className = "exercise-solution";
      const summary = document.createElement("summary");
      summary.textContent = "Worked solution (try the exercise first)";
      details.append(summary);
      cell.before(details);
      while (cell && isSolution(cell)) {
        const next = cell.nextElementSibling;
        details.append(cell);
        cell = next;
      }
      cell = details.nextElementSibling;
    }
  }
});
