"""A clean build gives, byte for byte, the site the suite built (with other worker and thread
counts, and from the cache where there was one)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from background import Lane

from tools.reproducible import clean_build, differences


def background_jobs(items: list[pytest.Item], scratch: Path) -> dict[str, Callable[[], Path]]:
    """The clean build: one snippet at a time, one thread, an empty cache, its own copy of the
    project (tools/reproducible.py)."""
    return {"clean build": partial(clean_build, scratch, "clean", workers=1, threads=1)}


@pytest.mark.slow
def test_a_clean_build_is_byte_identical_to_the_suites_build(
    built_site: Path, background: Lane
) -> None:
    clean = background.result("clean build")
    files = sum(1 for path in clean.rglob("*") if path.is_file())
    assert files > 100
    assert differences(clean, built_site) == []
