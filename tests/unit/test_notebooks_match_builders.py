"""Every committed lab notebook is what its builder in labs/src says, cell for cell.

A lab is edited in labs/src/build_NN_*.py and rebuilt (and executed) with
`sudo ./kit notebooks NN`; these tests catch a builder changed without the notebook.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
LABS = REPO / "labs"
sys.path.insert(0, str(LABS / "src"))
import nbbuild  # noqa: E402  (labs/src is not a package)

BUILDERS = nbbuild.builders()


def short_diff(committed: str, built: str, limit: int = 20) -> str:
    lines = list(
        difflib.unified_diff(
            committed.splitlines(), built.splitlines(), "notebook", "builder", lineterm="", n=1
        )
    )
    return "\n".join(lines[:limit] + (["..."] if len(lines) > limit else []))


def load(builder: Path, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError(f"{builder.name} writes when imported: use `if __name__ == ...`")

    monkeypatch.setattr(nbbuild, "write", refuse)
    return nbbuild.load(builder)


def test_there_are_builders():
    assert len(BUILDERS) >= 10, BUILDERS


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.stem)
def test_committed_notebook_has_the_builders_cells(builder, monkeypatch):
    module = load(builder, monkeypatch)
    path = nbbuild.notebook_path(module)
    rebuild = f"rebuild it: sudo ./kit notebooks {path.name.split('-')[0]}"
    assert path.is_file(), f"{builder.name} builds {module.NOTEBOOK}, which is not committed"
    committed = nbformat.read(path, as_version=4).cells
    built = module.cells
    for i, (ours, theirs) in enumerate(zip(committed, built, strict=False)):
        assert ours.cell_type == theirs.cell_type, (
            f"{path.name} cell {i} is {ours.cell_type}, {builder.name} makes it "
            f"{theirs.cell_type}; {rebuild}"
        )
        assert ours.source == theirs.source, (
            f"{path.name} cell {i} differs from {builder.name}'s; {rebuild}\n"
            + short_diff(ours.source, theirs.source)
        )
    assert len(committed) == len(built), (
        f"{path.name} has {len(committed)} cells, {builder.name} makes {len(built)}; {rebuild}"
    )


def test_every_committed_notebook_has_a_builder(monkeypatch):
    built = {nbbuild.notebook_path(load(b, monkeypatch)) for b in BUILDERS}
    orphans = sorted(p.name for p in LABS.glob("*.ipynb") if p not in built)
    assert not orphans, f"no builder in labs/src writes {orphans}: add labs/src/build_NN_*.py"
