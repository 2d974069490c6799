"""Build labs' notebooks from their builders (labs/src/build_NN_*.py) and execute them.

`sudo ./kit notebooks [LAB ...]` runs this. Each notebook is rebuilt from its builder's
`cells`, then run top to bottom with labs/ as working directory, and written back with its
outputs (also when it fails, so the traceback is there to read). Executing brings a lab up,
so each execution holds the machine-wide lock /tmp/labkit.lock, and after a failed one
`labkit down` stops the lab the notebook may have left up before the lock is released.
The Korean edition (labs/ko/, labs/src/korean.py) is then written from the executed notebook.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import korean
import nbformat
from nbbuild import REPO, builders, load, notebook, notebook_path

LABS = REPO / "labs"
LOCK = "/tmp/labkit.lock"
BIN = Path(sys.executable).parent  # .venv/bin: labkit, and the kernel's PATH


def lab_number(module: ModuleType) -> str:
    return Path(module.NOTEBOOK).name.split("-", 1)[0]


def select(names: list[str], modules: list[ModuleType]) -> list[ModuleType]:
    """The builders the arguments name: a number (2, 02), a notebook or a builder name."""
    if not names:
        return modules
    chosen: list[ModuleType] = []
    for name in names:
        key = Path(name).name.removesuffix(".ipynb").removesuffix(".py")
        found = [
            m
            for m in modules
            if (key.isdigit() and int(key) == int(lab_number(m)))
            or key in (Path(m.NOTEBOOK).stem, Path(m.__file__).stem)
        ]
        if not found:
            known = ", ".join(f"{lab_number(m)} ({Path(m.NOTEBOOK).stem})" for m in modules)
            raise ValueError(f"unknown lab {name!r}; the labs are: {known}")
        chosen += [m for m in found if m not in chosen]
    return chosen


@contextmanager
def machine_lock() -> Iterator[None]:
    """/tmp/labkit.lock, as `flock /tmp/labkit.lock ...` takes it: one lab at a time."""
    fd = os.open(LOCK, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"    waiting for {LOCK} (a lab, a test run or a benchmark holds it) ...",
                flush=True,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def labkit(*args: str, quiet: bool = False) -> int:
    exe = BIN / "labkit"
    cmd = [str(exe) if exe.exists() else shutil.which("labkit") or "labkit", *args]
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(cmd, stdout=out, stderr=out, check=False).returncode


def lab_running() -> bool:
    return labkit("status", quiet=True) == 0


def execute(nb: nbformat.NotebookNode, timeout: int) -> str | None:
    """Run every cell from labs/; None if all passed, else what went wrong (and where)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    at = {"cell": -1}

    def started(cell, cell_index, **_) -> None:
        at["cell"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(LABS)}},
        on_cell_execute=started,
    )
    try:
        client.execute()
    except CellExecutionError as e:
        return f"cell {at['cell']}: {e.ename}: {e.evalue}".strip()
    except CellTimeoutError:
        return f"cell {at['cell']}: no result within {timeout} s"
    except Exception as e:  # the kernel died or did not start
        return f"cell {at['cell']}: {type(e).__name__}: {e}"
    return None


def build_and_execute(module: ModuleType, timeout: int) -> bool:
    path = notebook_path(module)
    nb = notebook(module.cells)
    print(f"==> {path.name}: executing (per-cell timeout {timeout} s)", flush=True)
    with machine_lock():
        if lab_running():  # not ours: leave it alone, and stop here
            sys.exit(
                f"{path.name}: not executed: a lab is already running on this machine "
                "(`labkit status`); stop it with `labkit down` and try again"
            )
        t0 = time.monotonic()
        failure = "interrupted"
        try:
            failure = execute(nb, timeout)
        finally:
            seconds = time.monotonic() - t0
            left_up = lab_running()
            if failure or left_up:
                print("    labkit down (the notebook's lab may still be up)", flush=True)
                labkit("down")
        if not failure and left_up:
            failure = "it left its lab up (its last cell should be `lab.down()`)"
    nbformat.write(nb, path)
    if failure:
        first, *rest = failure.splitlines() or [""]
        print(f"{path.name}  {seconds:.1f} s  FAILED: {first}", flush=True)
        for line in rest[:15] + (["..."] if len(rest) > 15 else []):
            print(f"    {line}")
        print(f"    the outputs so far, with the traceback, are in {path.relative_to(REPO)}")
        return False
    print(f"{path.name}  {seconds:.1f} s  ok", flush=True)
    write_korean(path)
    return True


def write_korean(path: Path) -> None:
    """labs/ko/ follows the executed English notebook (its code cells and outputs)."""
    try:
        print(f"    {korean.write(path).relative_to(REPO)}  written (the Korean edition)")
    except korean.Untranslated as e:
        print(f"    Korean edition not written: {e}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kit notebooks",
        description="Build each lab's notebook from labs/src/build_NN_*.py and execute it top to "
        "bottom (from labs/, as root, holding /tmp/labkit.lock), writing it back with its "
        "outputs. Exits non-zero if any notebook fails.",
    )
    parser.add_argument(
        "labs",
        nargs="*",
        metavar="LAB",
        help="a lab's number (02), notebook (02-clusterip-service) or builder; none: all",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="only build: write the notebooks without outputs (no root, no lab)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=300,
        metavar="S",
        help="seconds one cell may take (default 300)",
    )
    args = parser.parse_args(argv)
    try:
        chosen = select(args.labs, [load(b) for b in builders()])
    except ValueError as e:
        parser.error(str(e))
    if args.no_execute:
        for module in chosen:
            nbformat.write(notebook(module.cells), notebook_path(module))
            print(f"{Path(module.NOTEBOOK).name}  built (not executed)")
        return 0
    if os.geteuid() != 0:
        parser.error("executing brings a lab up and needs root: sudo ./kit notebooks ...")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # labkit in cells
    failed = [m for m in chosen if not build_and_execute(m, args.timeout)]
    if len(chosen) > 1:
        print(f"{len(chosen) - len(failed)} of {len(chosen)} notebooks ok", end="")
        print(f"; failed: {', '.join(Path(m.NOTEBOOK).name for m in failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
