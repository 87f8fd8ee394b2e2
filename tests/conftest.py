"""Shared pytest options: `--device` runs the snippet checks with tensors on that device."""

from __future__ import annotations

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default="cpu",
        help="torch device for the per-snippet checks (cpu or cuda); published outputs always come from cpu",
    )


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.fail(f"--device {name} was asked for but torch.cuda.is_available() is False")
    return torch.device(name)
