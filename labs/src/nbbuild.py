"""What every notebook builder shares: the two cell makers and writing the notebook.

A builder (labs/src/build_NN_name.py) is importable without side effects:

from nbbuild import code, md, write
NOTEBOOK = "labs/NN-name.ipynb"         # the default output, from the repository root
cells = [md("# ..."), code("lab = Lab.up()"), ...]
if __name__ == "__main__":
    write(cells, NOTEBOOK)              # or the path given as the first argument

`builders()` and `load()` find and import them (labs/src/build.py, the unit tests).
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import nbformat as nbf

SRC = Path(__file__).resolve().parent
REPO = SRC.parents[1]
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


def exercise(ident: str, title: str, task: str, predict: str, solution: str) -> list:
    """A "your turn" block: the task with a prediction to make first and the solution
    folded (one click to reveal), the solution as a cell tagged `solution` (the committed
    notebook runs it, so CI proves the exercise; `./kit copies` leaves it out), then the
    check against the live cluster."""
    text = (f"### Your turn {ident} · {title}\n\n{task}\n\n**Predict first:** {predict}\n\n"
            "Do it in the cell below (or in a terminal with `labkit`), then run the check.\n\n"
            f"<details><summary>Solution</summary>\n\n```python\n{solution}\n```\n\n</details>")  # fmt: skip
    return [
        md(text),
        code(solution, metadata={"tags": ["solution"]}),
        code(f'check(lab, "{ident}")'),
    ]


def notebook(cells: list) -> nbf.NotebookNode:
    """A new, unexecuted notebook of these cells."""
    return nbf.v4.new_notebook(cells=cells, metadata=METADATA)


def write(cells: list, default_path: str) -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else default_path
    nbf.write(notebook(cells), out)


def builders() -> list[Path]:
    """Every builder, in lab order."""
    return sorted(SRC.glob("build_[0-9]*.py"))


def load(builder: Path) -> ModuleType:
    """Import one builder (its `cells` and `NOTEBOOK`); it writes nothing when imported."""
    if str(SRC) not in sys.path:  # a builder imports this module by name
        sys.path.insert(0, str(SRC))
    spec = importlib.util.spec_from_file_location(f"labs_src_{builder.stem}", builder)
    assert spec is not None and spec.loader is not None, builder
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_path(module: ModuleType) -> Path:
    """The committed notebook a builder writes by default."""
    return REPO / module.NOTEBOOK
