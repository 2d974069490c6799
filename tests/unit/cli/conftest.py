"""`labkit` run in-process: `main(argv, connect=...)` against the real API (InProcessApi),
in a private run dir, with what it prints captured."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cli_result import Result

from lab_kit.adapters.api_inprocess import InProcessApi
from lab_kit.adapters.rundir import RunDir
from lab_kit.cli.main import main


@pytest.fixture
def api() -> InProcessApi:
    return InProcessApi()


@pytest.fixture
def rundir(tmp_path, monkeypatch) -> RunDir:
    rd = RunDir(str(tmp_path / "run"))
    rd.make()
    monkeypatch.setenv("LABKIT_RUN_DIR", rd.path)
    return rd


@pytest.fixture
def labkit(api, rundir, capsys) -> Callable[..., Result]:
    """labkit(*argv) -> (exit code, stdout, stderr), connected to the in-process API."""

    def run(*argv: str) -> Result:
        code = main(list(argv), connect=api.client)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
