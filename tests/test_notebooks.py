"""Exercise notebooks: parsed from percent format, executed cell by cell, errors at the .py line."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import nbformat
import pytest
from background import Job
from sitecheck import ROOT
from test_executor import make_project

from docs_exec import executor
from docs_exec.build import markdown_exercise_links
from docs_exec.errors import BuildError
from docs_exec.exercises import (
    downloads_html,
    exercise_markdown,
    figure_alt,
    plain_text,
    starter_notebook,
)
from docs_exec.notebook_pages import clean_page_html
from docs_exec.notebooks import parse_percent
from docs_exec.project import check, notebook_sources, scan

EXERCISE = textwrap.dedent(
    """\
    # %% [markdown]
    # # Exercise: add
    #
    # Compute $2 + 3$.

    # %%
    import matplotlib.pyplot as plt
    print("start")

    # %% [markdown] tags=["solution"]
    # ## Worked solution

    # %% tags=["solution"]
    total = 2 + 3
    assert total == 5
    fig, ax = plt.subplots()
    ax.set_title("sum")
    plt.show()
    print(total)
    """
)


def test_percent_cells_keep_kind_tags_and_source_lines() -> None:
    cells = parse_percent(EXERCISE)
    assert [(c.kind, c.tags, c.line) for c in cells] == [
        ("markdown", [], 2),
        ("code", [], 7),
        ("markdown", ["solution"], 11),
        ("code", ["solution"], 14),
    ]
    assert cells[0].source == "# Exercise: add\n\nCompute $2 + 3$."


def run_notebooks(root: Path, sources: dict[str, str]) -> tuple[executor.Report, list[str]]:
    settings = make_project(root, {}, {"index.md": "# Home\n"})
    for name, text in sources.items():
        (root / "exercises").mkdir(exist_ok=True)
        (root / "exercises" / name).write_text(text)
    notebooks = notebook_sources(root, "exercises")
    plan = scan({"docs/index.md": "# Home\n"}, root)
    report = executor.run([], settings, progress=lambda message: None, notebooks=notebooks)
    return report, check(plan, report)


def test_notebook_runs_cell_by_cell_with_outputs_where_they_belong(tmp_path: Path) -> None:
    report, problems = run_notebooks(tmp_path, {"add.py": EXERCISE})
    assert problems == []
    document = nbformat.reads(report.results["exercises/add.py"].notebook, as_version=4)
    nbformat.validate(document)
    code = [cell for cell in document.cells if cell.cell_type == "code"]
    assert code[0].outputs[0]["text"] == "start\n"
    kinds = [output["output_type"] for output in code[1].outputs]
    assert kinds == ["stream", "display_data"]  # printed text, then the figure it showed
    assert code[1].outputs[1]["data"]["image/svg+xml"].lstrip().startswith("<?xml")
    assert code[1].metadata["tags"] == ["solution"]


def test_a_failing_cell_is_reported_at_its_line_in_the_py_file(tmp_path: Path) -> None:
    broken = EXERCISE.replace("total = 2 + 3", "total = 2 + 3\nassert total == 6, 'wrong sum'")
    _, problems = run_notebooks(tmp_path, {"add.py": broken})
    assert len(problems) == 1
    assert problems[0].startswith("exercises/add.py:15: exercises/add.py failed at line 15")
    assert "AssertionError: wrong sum" in problems[0]


def test_notebook_pages_lose_cdn_scripts_and_gain_a_download_link(tmp_path: Path) -> None:
    html = (
        '<script src="https://cdn.example/mathjax/tex-chtml.js"></script>\n'
        "<script>window.MathJax = {tex: {}};</script>\n"
        '<div class="jupyter-wrapper">see <a href="../problems/activations.md#dying-relu">'
        'this</a> and <a href="../index.md">home</a></div>'
    )
    downloads = downloads_html("exercises/add.py", "exercises/add/")
    cleaned = clean_page_html(html, "exercises/add.ipynb", tmp_path, downloads)
    assert "https://" not in cleaned and "MathJax" not in cleaned
    assert cleaned.startswith(
        '<p class="exec-downloads"><a href="../../downloads/add-starter.ipynb" '
        'download="add-starter.ipynb">Download the exercise (add-starter.ipynb)</a> · '
        '<a href="../../downloads/add.ipynb" download="add.ipynb">'
    )
    assert 'href="../../problems/activations/#dying-relu"' in cleaned
    assert 'href="../../"' in cleaned


def test_the_download_link_goes_under_the_notebook_title(tmp_path: Path) -> None:
    html = '<div class="jp-Cell"><h1 id="add">Adding</h1><p>Intro.</p></div>'
    cleaned = clean_page_html(html, "exercises/add.ipynb", tmp_path, "<p>links</p>\n")
    title, rest = cleaned.split("</h1>", 1)
    assert title == '<div class="jp-Cell"><h1 id="add">Adding'
    assert rest.lstrip().startswith("<p>links</p>")
    assert rest.endswith("<p>Intro.</p></div>")


def test_trimmed_pages_are_cached_until_the_page_changes(tmp_path: Path, monkeypatch) -> None:
    from docs_exec import stylesheets

    html = '<style type="text/css">.jp-Gone{x:1}.jp-Cell{y:2}</style><div class="jp-Cell"></div>'
    first = clean_page_html(html, "exercises/add.ipynb", tmp_path, "")
    assert ".jp-Gone" not in first and ".jp-Cell{y:2}" in first
    assert len(list(tmp_path.glob("exercises__add.ipynb.*.html"))) == 1

    def no_trimming(html: str) -> str:
        raise AssertionError("trimmed again")

    monkeypatch.setattr(stylesheets, "trim_page", no_trimming)
    assert clean_page_html(html, "exercises/add.ipynb", tmp_path, "") == first
    monkeypatch.undo()
    changed = html.replace("y:2", "y:3")
    assert ".jp-Cell{y:3}" in clean_page_html(changed, "exercises/add.ipynb", tmp_path, "")
    assert len(list(tmp_path.glob("exercises__add.ipynb.*.html"))) == 1  # the stale one is gone


def test_a_stylesheet_that_does_not_parse_names_the_page(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"exercises/add\.ipynb: an inline stylesheet"):
        page = '<style type="text/css">.jp-Cell{</style>'
        clean_page_html(page, "exercises/add.ipynb", tmp_path, "")


EXERCISES = sorted((ROOT / "exercises").glob("*.py"))
FRESH_KERNEL = "test_exercise_runs_top_to_bottom_in_a_fresh_jupyter_kernel"


def background_jobs(items: list[pytest.Item], scratch: Path) -> dict[str, Job]:
    """Each selected exercise, executed as a reader's Jupyter would: in the background lane,
    since a kernel mostly waits on its own process."""
    paths = [item.callspec.params["path"] for item in items if item.originalname == FRESH_KERNEL]
    return {
        f"notebook {path.stem}": Job(partial(execute_fresh, path, scratch), 40) for path in paths
    }


def execute_fresh(path: Path, scratch: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """The exercise as the downloaded notebook (no outputs), run by `jupyter execute` in a
    folder of its own with a new python3 kernel; the executed notebook is written in place."""
    from docs_exec.notebooks import to_ipynb

    cells = parse_percent(path.read_text(encoding="utf-8"))
    code_cells = sum(cell.kind == "code" for cell in cells)
    folder = scratch / f"notebook-{path.stem}"
    folder.mkdir()
    notebook = folder / f"{path.stem}.ipynb"
    notebook.write_text(to_ipynb(cells, [[] for _ in range(code_cells)]), encoding="utf-8")
    jupyter = [str(Path(sys.executable).parent / "jupyter-execute"), "--inplace", "--timeout=300"]
    command = [*jupyter, "--kernel_name=python3", notebook.name]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True), notebook


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.name)
def test_exercise_runs_top_to_bottom_in_a_fresh_jupyter_kernel(path: Path, background) -> None:
    done, notebook = background.result(f"notebook {path.stem}")
    # jupyter execute stops at the first failing cell (a solution's assert) and exits non-zero
    assert done.returncode == 0, done.stderr[-3000:]
    document = nbformat.read(notebook, as_version=4)
    assert any("solution" in cell.metadata.get("tags", []) for cell in document.cells)
    outputs = [o for c in document.cells for o in c.get("outputs", [])]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    assert json.loads(nbformat.writes(document))["nbformat"] == 4


def test_a_failing_cell_fails_the_fresh_kernel_run(tmp_path: Path) -> None:
    """The check above relies on `jupyter execute` exiting non-zero when a cell raises."""
    failing = tmp_path / "broken.py"
    failing.write_text(EXERCISE.replace("assert total == 5", "assert total == 6"), "utf-8")
    done, _ = execute_fresh(failing, tmp_path)
    assert done.returncode != 0 and "AssertionError" in done.stderr


def test_the_three_exercises_exist_and_are_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert {path.stem for path in EXERCISES} >= {"gradient_flow", "noise_scale", "dashboard"}
    for path in EXERCISES:
        assert f"exercises/{path.stem}.ipynb" in nav


def test_the_starter_notebook_has_no_solution_and_no_outputs(tmp_path: Path) -> None:
    report, _ = run_notebooks(tmp_path, {"add.py": EXERCISE})
    starter = nbformat.reads(starter_notebook(report.results["exercises/add.py"].notebook), 4)
    nbformat.validate(starter)
    assert [cell.cell_type for cell in starter.cells] == ["markdown", "code"]
    assert starter.cells[1].outputs == [] and starter.cells[1].execution_count is None
    assert "total" not in "".join(cell.source for cell in starter.cells)


def test_an_exercise_page_in_markdown_folds_the_solution_and_keeps_outputs_and_figures(
    tmp_path: Path,
) -> None:
    report, _ = run_notebooks(tmp_path, {"add.py": EXERCISE})
    result = report.results["exercises/add.py"]
    assert len(result.figures) == 1  # both schemes of the figure the notebook showed
    page = exercise_markdown(result, "exercises/add.py", "exercises/add.md")
    before, solution = page.split('??? success "Worked solution (try the exercise first)"')
    assert before.startswith("# Exercise: add\n\nCompute $2 + 3$.\n\n")
    assert "[Download the exercise (add-starter.ipynb)](../downloads/add-starter.ipynb)" in before
    assert '```text title="Output"\nstart\n```' in before
    # Every line of the solution is inside the collapsed block: indented by four spaces.
    assert all(line.startswith("    ") for line in solution.strip("\n").split("\n") if line)
    assert "    ## Worked solution" in solution and "    total = 2 + 3" in solution
    assert "../figures/add-1-light.svg#only-light" in solution
    assert "../figures/add-1-dark.svg#only-dark" in solution
    assert "![Figure: sum]" in solution  # alt text from the words the figure draws


def test_figure_labels_become_plain_text_and_tick_labels_are_left_out() -> None:
    assert (
        plain_text(r"$\|\partial L / \partial W_l\|_F$ (log scale)") == "‖∂L / ∂W_l‖_F (log scale)"
    )
    assert plain_text(r"$\ln 3$ (uniform guess)") == "ln 3 (uniform guess)"
    assert plain_text(r"$\|\Delta W\| / \|W\|$") == "‖ΔW‖ / ‖W‖"
    assert plain_text(r"$B_{simple} = \mathrm{tr}(\Sigma)/|G|^2$") == "B_simple = tr(Σ)/|G|^2"
    assert plain_text("cost: $5 and $6") == "cost: 5 and 6"  # no TeX left for a math renderer
    with pytest.raises(ValueError, match=r"no plain text for \\alpha in the figure label"):
        plain_text(r"$\alpha$")
    svg = "".join(
        f"<!-- {text} -->"
        for text in (
            r"$\mathdefault{10^{-3}}$",
            "0.5",
            r"step $t$",
            r"$\mathdefault{10^{0}}$",
            "Loss",
        )
    )
    assert figure_alt(svg) == "Figure: step t; Loss"


def test_a_notebook_figure_gets_alt_text_from_its_labels_not_nbconverts_placeholder(
    tmp_path: Path,
) -> None:
    svg = base64.b64encode(b"<svg><!-- $\\|g\\|_2$ --><!-- Gradient & norm --></svg>").decode()
    page = (
        '<h1>T</h1><img alt="No description has been provided for this image" '
        f'src="data:image/svg+xml;base64,{svg}"/>'
    )
    html = clean_page_html(page, "exercises/t.ipynb", tmp_path, "")
    assert (
        f'<img alt="Figure: ‖g‖_2; Gradient &amp; norm" src="data:image/svg+xml;base64,{svg}"'
        in html
    )


def test_staged_pages_link_exercises_in_markdown_and_keep_notebook_downloads() -> None:
    page = (
        "[flow](../exercises/flow.ipynb#task) and [get it](../downloads/flow.ipynb)"
        " and [other](../exercises/other.ipynb)"
    )
    relinked = markdown_exercise_links(page, "part/topic.md", {"exercises/flow.ipynb"})
    assert relinked == (
        "[flow](../exercises/flow.md#task) and [get it](../downloads/flow.ipynb)"
        " and [other](../exercises/other.ipynb)"
    )
