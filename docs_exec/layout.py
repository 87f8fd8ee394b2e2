"""Every path the build writes, in one place: figures, downloads, exercise pages, staging, and
the code archive."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

STAGING = "staging"  # inside the cache folder: the expanded docs any engine can build


def figure_path(snippet: str, number: int, scheme: str) -> str:
    """Where a figure lands in the built site, relative to the docs root."""
    return f"figures/{PurePosixPath(snippet).stem}-{number}-{scheme}.svg"


def download_path(snippet: str, suffix: str) -> str:
    """Where a download lands in the built site, relative to the docs root."""
    return f"downloads/{PurePosixPath(snippet).stem}{suffix}"


def notebook_page(source: str, suffix: str = ".ipynb") -> str:
    """Where an exercise notebook's page lands among the docs files: the folder of its source,
    `<notebooks_dir>/<name>.py` -> `<notebooks_dir>/<name>.ipynb` (or `.md` for engines that
    render the notebook from our Markdown)."""
    return PurePosixPath(source).with_suffix(suffix).as_posix()


def starter_path(source: str) -> str:
    """The exercise without its worked solution, to download and work on."""
    return f"downloads/{PurePosixPath(source).stem}-starter.ipynb"


def code_archive_folder(site_name: str) -> str:
    """The folder the code archive unpacks into: the site's name as a slug ("Demystifying
    Gradients" -> demystifying-gradients), which says where the code came from once it sits
    among a reader's other downloads; `code` for a site without a name."""
    return re.sub(r"[^a-z0-9]+", "-", site_name.lower()).strip("-") or "code"


def code_archive_path(site_name: str) -> str:
    """Every snippet, both versions of every exercise and the pinned requirements, as one zip."""
    return f"downloads/{code_archive_folder(site_name)}-code.zip"
