"""Write learner copies of the labs: no outputs, and each exercise's solution cell replaced
by an empty cell to work in (the solution stays folded in the task's text, one click away).

    ./kit copies DIR            every lab (and labs/manifests/, which the labs read) into DIR,
                                and the Korean edition into DIR/ko/
    .venv/bin/python labs/src/learner.py DIR [LAB ...]

The committed notebooks keep their outputs and run the solutions (CI proves every
exercise); a learner copy shows no answer before the learner asks for it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat

LABS = Path(__file__).resolve().parents[1]
PLACEHOLDER = "# Your turn: your code here (or `!labkit ...`), then run the check below."


def learner_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    for cell in nb.cells:
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if "solution" in (cell.metadata.get("tags") or []):
                cell.source = PLACEHOLDER
                cell.metadata = {"tags": ["your-turn"]}
        out.cells.append(cell)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kit copies", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the directory to write the copies into (created)")
    parser.add_argument("labs", nargs="*", help="lab numbers (00 02 ...); none: all")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for edition, into in ((LABS, out), (LABS / "ko", out / "ko")):
        for path in sorted(edition.glob("[0-9][0-9]-*.ipynb")):
            if args.labs and path.name[:2] not in args.labs:
                continue
            into.mkdir(exist_ok=True)
            nbformat.write(learner_copy(nbformat.read(path, 4)), into / path.name)
            written += 1
        if into.exists():  # the cells read manifests/... beside the notebook
            shutil.copytree(LABS / "manifests", into / "manifests", dirs_exist_ok=True)
    print(f"{written} learner copies (no outputs, solutions folded; Korean ones in ko/) in {out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
