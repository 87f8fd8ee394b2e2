"""A clean build gives, byte for byte, the site the suite built (with other worker and thread
counts, and from the cache where there was one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sitecheck import ROOT


@pytest.mark.slow
def test_a_clean_build_is_byte_identical_to_the_suites_build(built_site: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "reproducible.py"), str(built_site)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical" in done.stdout.splitlines()[-1]
