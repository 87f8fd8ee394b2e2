"""The code to take home: every snippet, both versions of every exercise notebook, the pinned
versions of what they import and a README, as one zip whose bytes depend only on its contents."""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import io
import os
import re
import stat
import sys
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from .downloads import script
from .errors import BuildError
from .exercises import starter_notebook
from .layout import code_archive_folder, download_path, starter_path
from .settings import Settings

# Needed at run time though no file imports them: tensors reach NumPy through `.numpy()` and
# matplotlib (torch itself does not require it), and Hugging Face's Trainer refuses to start
# without accelerate.
UNIMPORTED = {"torch": ("numpy",), "transformers": ("accelerate",)}
# A distribution that at most this many files need names them, so that a reader can skip a large
# install they do not want.
FEW = 3
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The earliest time a zip can record, the same mode for every file and a fixed compression level:
# two builds of the same files give the same bytes.
TIMESTAMP = (1980, 1, 1, 0, 0, 0)
MODE = stat.S_IFREG | 0o644
LEVEL = 9

# Which distribution provides each importable module. Reading every installed package's metadata
# takes a good part of a second; once per process is enough (`mkdocs serve` rebuilds in one).
_distributions = functools.cache(importlib.metadata.packages_distributions)


def _normalized(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): PyYAML, pyyaml and py_yaml match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(locks: list[Path]) -> dict[str, str]:
    """The `name==version` lines of the lock files, as written, by normalized name."""
    pins = {}
    for path in locks:
        for line in path.read_text(encoding="utf-8").splitlines():
            pin = line.split("#", 1)[0].strip()
            if "==" in pin:
                pins[_normalized(pin.split("==", 1)[0])] = pin
    return pins


def imported_modules(source: str) -> dict[str, int]:
    """Top-level modules a file imports (absolute imports), each with the line of its first
    import. A parse, not a line scan: a word in a docstring must not become a requirement."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            module = name.split(".")[0]
            found[module] = min(found.get(module, node.lineno), node.lineno)
    return found


def _is_local(folder: Path, module: str) -> bool:
    """A module beside the file, where `python file.py` finds it (sys.path[0])."""
    return (folder / f"{module}.py").is_file() or (folder / module / "__init__.py").is_file()


def requirements(files: Mapping[str, str], settings: Settings) -> str:
    """requirements.txt for `files` (source by path from the root): the lock's pin of every
    distribution they import or need without importing (UNIMPORTED). A module that no pinned
    distribution provides stops the build: the reader's install would miss it."""
    provided = _distributions()
    pins = read_pins(settings.locks)
    locks = ", ".join(settings.lock_files)
    users: dict[str, set[str]] = defaultdict(set)  # normalized distribution -> files
    problems = []
    for path, source in sorted(files.items()):
        folder = (settings.root / path).parent
        for module, line in sorted(imported_modules(source).items()):
            if module in sys.stdlib_module_names or _is_local(folder, module):
                continue
            names = [_normalized(name) for name in provided.get(module, [])]
            pinned = sorted({name for name in names if name in pins})
            if not pinned:
                problems.append(
                    f"{path}:{line}: imports {module}, which no distribution pinned in "
                    f"{locks} provides (the code archive's requirements.txt needs its pin)"
                )
            for name in pinned:
                for needed in (name, *UNIMPORTED.get(name, ())):
                    users[needed].add(path)
    problems += [
        f"{min(paths)}:1: needs {name}, which {locks} does not pin"
        for name, paths in sorted(users.items())
        if name not in pins
    ]
    if problems:
        raise BuildError(problems)
    lines = [
        f"# The versions the outputs were recorded with (from {locks}).",
        "# Install them with: pip install -r requirements.txt",
    ]
    for name, paths in sorted(users.items()):
        if len(paths) <= FEW < len(files):
            lines += [f"# only for {path}" for path in sorted(paths)]
        if name == "torch":
            lines += [
                "# PyPI's torch for Linux bundles CUDA. For the smaller CPU-only build, run",
                f"#   pip install {pins[name]} --index-url {CPU_INDEX}",
                "# before pip install -r requirements.txt.",
            ]
        lines.append(pins[name])
    return "\n".join(lines) + "\n"


def readme(site_name: str) -> str:
    """How to run what the archive holds, from the folder it unpacks into."""
    title = f"{site_name}: the code" if site_name else "The code"
    return f"""{title}

Every script the site shows and every exercise notebook, with the versions of
the packages their outputs were recorded with.

  snippets/<part>/<concept>.py     one script per concept, in the folder of the
                                   part of the site whose page shows it
  exercises/<name>-starter.ipynb   an exercise to work on
  exercises/<name>.ipynb           the same, run, with the worked solution
  requirements.txt                 the pinned versions

Run a script from this folder:

  python -m venv .venv
  source .venv/bin/activate        (Windows: .venv\\Scripts\\activate)
  pip install -r requirements.txt
  python snippets/<part>/<concept>.py

It prints the output its page shows; where a training run's numbers can move
on another CPU, the page says how far. The line under each output on the site
names the Python and PyTorch versions it ran with. A script opens its figures
in a window; set MPLBACKEND=Agg to run it without one.

For the notebooks: pip install jupyterlab, then jupyter lab exercises/
"""


def code_archive(settings: Settings, notebooks: Mapping[str, str]) -> bytes:
    """The zip readers download: `notebooks` holds each executed exercise notebook by its source
    (exercises/<name>.py). Snippets go in as their downloads are written (no section markers)
    and keep their part folders, so that imports between siblings still resolve."""
    snippets = {
        path.relative_to(settings.root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(settings.snippets.rglob("*.py"))
    }
    entries = {
        f"snippets/{PurePosixPath(path).relative_to(settings.snippets_dir)}": script(source)
        for path, source in snippets.items()
    }
    sources = {}
    for source, notebook in notebooks.items():
        sources[source] = (settings.root / source).read_text(encoding="utf-8")
        for path, content in (
            (download_path(source, ".ipynb"), notebook),
            (starter_path(source), starter_notebook(notebook)),
        ):
            entries[f"exercises/{PurePosixPath(path).name}"] = content
    entries["requirements.txt"] = requirements({**snippets, **sources}, settings)
    entries["README.txt"] = readme(settings.site_name)
    return _zip(entries, code_archive_folder(settings.site_name))


def cached_code_archive(settings: Settings, notebooks: Mapping[str, str]) -> bytes:
    """code_archive, kept in the cache folder under a digest of everything it reads (the
    snippets, the notebooks, the lock files, the site name and the code that writes it), so
    that a rebuild where none of them changed neither parses every snippet nor zips again."""
    digest = hashlib.sha256(settings.site_name.encode())
    here = Path(__file__).parent
    code = [here / name for name in ("archive.py", "downloads.py", "exercises.py", "layout.py")]
    for path in [*code, *settings.locks, *sorted(settings.snippets.rglob("*.py"))]:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    for source, notebook in sorted(notebooks.items()):
        digest.update(source.encode() + b"\0" + notebook.encode())
    stored = settings.cache / "archive" / f"{digest.hexdigest()}.zip"
    if stored.is_file():
        return stored.read_bytes()
    data = code_archive(settings, notebooks)
    stored.parent.mkdir(parents=True, exist_ok=True)
    for stale in stored.parent.glob("*.zip"):
        stale.unlink()
    partial = stored.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(stored)
    return data


def _zip(entries: Mapping[str, str], folder: str) -> bytes:
    """Text files under one top folder, in name order, with nothing of the machine or the day."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=TIMESTAMP)
            info.create_system = 3  # Unix, on any build machine, so that the mode below reads
            info.external_attr = MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].encode("utf-8"), compresslevel=LEVEL)
    return buffer.getvalue()
