"""Two clean builds, with different worker and thread counts, give byte-identical sites."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sitecheck import ROOT


@pytest.mark.slow
def test_two_clean_builds_are_byte_identical() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "reproducible.py")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical" in done.stdout.splitlines()[-1]
