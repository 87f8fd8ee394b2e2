"""Snippet downloads: the script a reader runs, and a notebook that runs the same code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import nbformat
import pytest
from sitecheck import ROOT, snippet_files

from docs_exec.downloads import notebook, script
from docs_exec.render import add_downloads
from docs_exec.settings import from_config_file

SOURCE = textwrap.dedent(
    '''\
    """Adds two numbers."""

    # --8<-- [start:add]
    def add(a: int, b: int) -> int:
        return a + b
    # --8<-- [end:add]


    def main() -> None:
        print(add(2, 3))


    if __name__ == "__main__":
        main()
    '''
)


def test_script_drops_only_the_section_markers() -> None:
    cleaned = script(SOURCE)
    assert "8<" not in cleaned
    assert cleaned.splitlines() == [line for line in SOURCE.splitlines() if "8<" not in line]


def test_notebook_is_valid_and_runs_cell_by_cell(tmp_path) -> None:
    document = nbformat.reads(notebook(SOURCE, "snippets/add.py"), as_version=4)
    nbformat.validate(document)
    assert document.cells[0].cell_type == "markdown"
    assert document.cells[0].source.startswith("# Adds two numbers.")
    code = [cell.source for cell in document.cells if cell.cell_type == "code"]
    assert code[0].startswith("def add(") and code[-1].endswith("main()")
    program = "\n\n".join(code)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout == "5\n"


@pytest.mark.parametrize("path", snippet_files(), ids=lambda path: path.stem)
def test_every_snippets_notebook_holds_exactly_its_code(path) -> None:
    source = path.read_text(encoding="utf-8")
    document = nbformat.reads(notebook(source, path.relative_to(ROOT).as_posix()), as_version=4)
    nbformat.validate(document)
    code = "\n".join(cell.source for cell in document.cells if cell.cell_type == "code")
    # Same statements as the script (which the site tests run standalone), docstring aside.
    assert [s for s in code.splitlines() if s.strip()] == [
        s for s in script(source).splitlines() if s.strip()
    ][len(_docstring_lines(source)) :]


def _docstring_lines(source: str) -> list[str]:
    first = ast.parse(source).body[0]
    return [s for s in source.splitlines()[: first.end_lineno] if s.strip()]


def test_links_go_under_the_whole_file_block_with_relative_paths() -> None:
    page = textwrap.dedent(
        """\
        ```python title="snippets/add.py (add)"
        --8<-- "snippets/add.py:add"
        ```

        === "Full script"

            ```python
            --8<-- "snippets/add.py"
            ```

        The end.
        """
    )
    lines = add_downloads(page, "part/topic.md", "snippets").splitlines()
    assert lines[8] == "    ```"
    assert lines[10] == (
        '    [Download add.py](../downloads/add.py){ download="add.py" } · '
        '[Open as a notebook (add.ipynb)](../downloads/add.ipynb){ download="add.ipynb" }'
    )
    assert lines[11] == "    {: .exec-downloads }"
    assert sum("Download add.py" in line for line in lines) == 1


def test_notebook_json_is_deterministic() -> None:
    assert notebook(SOURCE, "snippets/add.py") == notebook(SOURCE, "snippets/add.py")
    assert json.loads(notebook(SOURCE, "snippets/add.py"))["nbformat_minor"] == 5


def test_the_notebook_names_the_site_from_its_configuration() -> None:
    source = '"""Adds."""\n\n\ndef main() -> None:\n    print(1)\n'
    intro = json.loads(notebook(source, "snippets/part/add.py", "My Site"))["cells"][0]["source"]
    assert intro.startswith("# Adds.\n\nFrom `snippets/part/add.py` of *My Site*.")
    assert "*" not in json.loads(notebook(source, "snippets/part/add.py"))["cells"][0]["source"]
    assert from_config_file(ROOT / "mkdocs.yml").site_name == "Demystifying Gradients"
