"""The code archive on the home page: every snippet, both versions of every exercise and the
pinned requirements in one zip, the same bytes from every build and engine, and a snippet in it
runs from the unpacked folder as the README there says."""

from __future__ import annotations

import io
import posixpath
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sitecheck import ROOT, parse_html

from docs_exec.archive import cached_code_archive, code_archive, read_pins
from docs_exec.downloads import script
from docs_exec.errors import BuildError
from docs_exec.exercises import starter_notebook
from docs_exec.layout import code_archive_path
from docs_exec.notebooks import notebook_json
from docs_exec.settings import Settings, from_config_file
from tools.kernels import SETTINGS, recorded_stdout

NOTEBOOK = notebook_json(
    [
        {"cell_type": "markdown", "id": "task", "metadata": {}, "source": "# Task"},
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "solution",
            "metadata": {"tags": ["solution"]},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}],
            "source": "print(1 + 1)",
        },
    ]
)
ONE = '''"""One."""

import torch
import yaml
from _helper import twice

# --8<-- [start:shown]
x = twice(torch.ones(1))
# --8<-- [end:shown]
'''
LOCK = "# pins\nmatplotlib==3.11.2\nnumpy==2.4.6\nPyYAML==6.0.3\nruff==0.17.6\ntorch==2.13.0\n"


def make_project(root: Path, lock: str = LOCK) -> Settings:
    files = {
        "snippets/part/one.py": ONE,
        "snippets/part/_helper.py": "def twice(x):\n    return 2 * x\n",
        "snippets/other/two.py": "import math\n\nimport matplotlib.pyplot as plt\n",
        "exercises/ex.py": "# %%\nimport torch\n",
        "requirements.lock": lock,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return Settings(root=root, site_name="My Site!")


def unpack(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info).decode() for info in archive.infolist()}


def pins(requirements: str) -> list[str]:
    return [line for line in requirements.splitlines() if line and not line.startswith("#")]


def test_the_archive_holds_every_file_under_the_site_folder(tmp_path: Path) -> None:
    settings = make_project(tmp_path)
    files = unpack(code_archive(settings, {"exercises/ex.py": NOTEBOOK}))
    assert list(files) == [
        "my-site/README.txt",
        "my-site/exercises/ex-starter.ipynb",
        "my-site/exercises/ex.ipynb",
        "my-site/requirements.txt",
        "my-site/snippets/other/two.py",
        "my-site/snippets/part/_helper.py",
        "my-site/snippets/part/one.py",
    ]
    assert files["my-site/snippets/part/one.py"] == script(ONE)
    assert "8<" not in files["my-site/snippets/part/one.py"]
    assert files["my-site/exercises/ex.ipynb"] == NOTEBOOK
    starter = files["my-site/exercises/ex-starter.ipynb"]
    assert starter == starter_notebook(NOTEBOOK) and "print(1 + 1)" not in starter
    readme = files["my-site/README.txt"]
    assert readme.startswith("My Site!: the code\n")
    assert "pip install -r requirements.txt" in readme
    assert "python snippets/<part>/<concept>.py" in readme


def test_requirements_pin_what_the_files_import_and_need(tmp_path: Path) -> None:
    """The helper beside one.py is local, math is the standard library, numpy comes with torch
    though nothing imports it, and ruff, which nothing imports, stays out."""
    files = unpack(code_archive(make_project(tmp_path), {"exercises/ex.py": NOTEBOOK}))
    requirements = files["my-site/requirements.txt"].splitlines()
    assert pins("\n".join(requirements)) == [
        "matplotlib==3.11.2",
        "numpy==2.4.6",
        "PyYAML==6.0.3",
        "torch==2.13.0",
    ]
    above = requirements[requirements.index("PyYAML==6.0.3") - 1]
    assert above == "# only for snippets/part/one.py"
    assert "#   pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in (
        requirements
    )


def test_a_rebuild_reuses_the_archive_until_a_snippet_changes(tmp_path: Path) -> None:
    settings = make_project(tmp_path)
    notebooks = {"exercises/ex.py": NOTEBOOK}
    first = cached_code_archive(settings, notebooks)
    assert first == code_archive(settings, notebooks)
    [stored] = (settings.cache / "archive").glob("*.zip")
    stored.write_bytes(b"kept")  # what a rebuild returns is what the cache holds
    assert cached_code_archive(settings, notebooks) == b"kept"
    (tmp_path / "snippets" / "part" / "one.py").write_text(ONE + "\n# edited\n")
    again = cached_code_archive(settings, notebooks)
    assert again == code_archive(settings, notebooks) != first
    assert list((settings.cache / "archive").glob("*.zip")) != [stored]


def test_two_builds_give_the_same_bytes_with_nothing_of_the_day(tmp_path: Path) -> None:
    settings = make_project(tmp_path)
    first = code_archive(settings, {"exercises/ex.py": NOTEBOOK})
    assert code_archive(settings, {"exercises/ex.py": NOTEBOOK}) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize(
    ("lock", "problem"),
    [
        (
            LOCK.replace("PyYAML==6.0.3\n", ""),
            "snippets/part/one.py:4: imports yaml, which no distribution pinned in "
            "requirements.lock provides",
        ),
        (LOCK.replace("numpy==2.4.6\n", ""), "exercises/ex.py:1: needs numpy, which"),
    ],
    ids=["imported", "needed"],
)
def test_a_requirement_the_lock_does_not_pin_stops_the_build(
    tmp_path: Path, lock: str, problem: str
) -> None:
    settings = make_project(tmp_path, lock)
    with pytest.raises(BuildError) as error:
        code_archive(settings, {"exercises/ex.py": NOTEBOOK})
    assert [p for p in error.value.problems if p.startswith(problem)], error.value.problems


def test_the_projects_archive_has_every_snippet_and_exercise_and_the_locks_pins() -> None:
    settings = from_config_file(ROOT / "mkdocs.yml")
    exercises = sorted((ROOT / "exercises").glob("*.py"))
    notebooks = {path.relative_to(ROOT).as_posix(): NOTEBOOK for path in exercises}
    files = unpack(code_archive(settings, notebooks))
    top = "demystifying-gradients/"
    snippets = sorted(ROOT.glob("snippets/**/*.py"))
    assert snippets and set(files) == {
        f"{top}README.txt",
        f"{top}requirements.txt",
        *(f"{top}{path.relative_to(ROOT).as_posix()}" for path in snippets),
        *(f"{top}exercises/{path.stem}.ipynb" for path in exercises),
        *(f"{top}exercises/{path.stem}-starter.ipynb" for path in exercises),
    }
    locked = read_pins([ROOT / "requirements.lock"])
    required = pins(files[f"{top}requirements.txt"])
    assert all(pin in locked.values() for pin in required), required
    names = {pin.split("==")[0] for pin in required}
    # The snippets' own imports, and what Trainer and plotting tensors need without an import.
    assert {"torch", "numpy", "matplotlib", "transformers", "accelerate"} <= names
    for name in ("README.txt", "requirements.txt"):
        assert max(len(line) for line in files[top + name].splitlines()) <= 80, name


def archive_in(site: Path) -> Path:
    return site / code_archive_path(from_config_file(ROOT / "mkdocs.yml").site_name)


@pytest.mark.slow
def test_the_home_page_links_the_archive_whose_snippet_runs_as_recorded(
    built_site: Path, tmp_path: Path
) -> None:
    archive = archive_in(built_site)
    links = parse_html(built_site / "index.html").links
    assert posixpath.relpath(archive.as_posix(), built_site.as_posix()) in links
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path)
    (top,) = tmp_path.iterdir()
    for path in (built_site / "downloads").glob("*.ipynb"):
        if (top / "exercises" / path.name).exists():  # exercises, not snippet notebooks
            assert (top / "exercises" / path.name).read_bytes() == path.read_bytes()
    for path in (built_site / "downloads").glob("*.py"):
        (shipped,) = top.glob(f"snippets/*/{path.name}")
        assert shipped.read_bytes() == path.read_bytes()
    snippet = "snippets/foundations/chain_rule.py"
    reader = SETTINGS[0].env()  # a plain `python snippet.py`: no PYTHONPATH, figures to Agg
    done = subprocess.run(
        [sys.executable, snippet], cwd=top, env=reader, capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == recorded_stdout(snippet)


@pytest.mark.slow
def test_both_engines_publish_the_same_archive(built_site: Path, zensical_site: Path) -> None:
    assert archive_in(zensical_site).read_bytes() == archive_in(built_site).read_bytes()
