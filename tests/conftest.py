"""Shared pytest options: `--device` runs the snippet checks with tensors on that device."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from background import Lane, category, start_jobs
from browsing import browser, site_url  # noqa: F401 (fixtures the browser tests share)

ROOT = Path(__file__).resolve().parent.parent
STAGED = ROOT / ".cache" / "docs-exec" / "staging"
# One thread by default, as in the build's workers: the same rounding as the published outputs,
# and no oversubscription when the site tests run snippets in parallel processes beside pytest.
# The kernel tests (test_kernels.py) run the trajectory tests again with TEST_TORCH_THREADS=2.
torch.set_num_threads(int(os.environ.get("TEST_TORCH_THREADS", "1")))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default="cpu",
        help="torch device for the snippet checks (cpu, cuda); published outputs come from cpu",
    )


LANE = Lane()


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.config.option.collectonly:
        start_jobs(LANE, session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    LANE.close()


SPLIT: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    SPLIT[report.category] = SPLIT.get(report.category, 0.0) + report.duration  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    report.category = category(item)  # type: ignore[attr-defined]
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Main-process time per kind of test (setup included: the site build counts where it was
    first needed), and each background job's wall time beside it."""
    if not SPLIT:
        return
    main = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in sorted(SPLIT.items()))
    terminalreporter.write_line(f"main process: {main}")
    if LANE.seconds:
        lane = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in LANE.seconds.items())
        terminalreporter.write_line(f"background lane: {lane}")


@pytest.fixture(scope="session")
def background() -> Lane:
    """The lane where the slowest subprocess checks run beside the main process."""
    return LANE


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.fail(f"--device {name} was asked for but torch.cuda.is_available() is False")
    if name.startswith("cuda"):
        full_float32_precision()
    return torch.device(name)


def full_float32_precision() -> None:
    """Turn off TF32, which CUDA convolutions use by default: float32 must mean float32 here,
    or the tolerances the tests state for float32 would be measuring a 10-bit mantissa."""
    if hasattr(torch.backends, "fp32_precision"):  # torch >= 2.9
        torch.backends.fp32_precision = "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict` of the real site into a temporary folder; fills the cache."""
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, f"strict build failed:\n{done.stdout}\n{done.stderr}"
    return site


@pytest.fixture(scope="session")
def zensical_site(built_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same site built by Zensical, the second engine (`make build ENGINE=zensical`): the
    build step writes the expanded docs into the staging folder, Zensical builds that."""
    bin_dir = Path(sys.executable).parent
    for command in (
        [sys.executable, "-m", "docs_exec", "build"],
        [bin_dir / "zensical", "build", "--strict", "--config-file", STAGED / "mkdocs.yml"],
    ):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    site = tmp_path_factory.mktemp("zensical") / "site"
    shutil.copytree(STAGED / "site", site)
    return site


@pytest.fixture(scope="session", params=["mkdocs", "zensical"])
def any_site(request: pytest.FixtureRequest) -> Path:
    """Each engine's build of the site, for the checks that must hold whatever the engine."""
    return request.getfixturevalue("built_site" if request.param == "mkdocs" else "zensical_site")
