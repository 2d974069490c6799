"""The hostile corpus: `labkit` in-process against the real API (as tests/unit/cli does),
and the real aiohttp API server on a Unix socket in the test's own directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.rundir import RunDir
from lab_kit.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def api() -> InProcessApi:
    return InProcessApi()


@pytest.fixture
def labkit(api, tmp_path, monkeypatch, capsys) -> Callable[..., Result]:
    """labkit(*argv) -> (exit code, stdout, stderr), connected to the in-process API."""
    rd = RunDir(str(tmp_path / "run"))
    rd.make()
    monkeypatch.setenv("LABKIT_RUN_DIR", rd.path)

    def run(*argv: str) -> Result:
        code = main(list(argv), connect=api.client)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
