"""The labs' exercises: every check a notebook runs exists, every exercise has its solution
cell (CI runs it) and its check, and a learner copy has no outputs and no solution cells."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from lab_kit.lab import exercises

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "labs" / "src"))
import learner  # noqa: E402  (labs/src is not a package)
import nbbuild  # noqa: E402

CHECK = re.compile(r'^check\(lab, "(\d\d\.\d)"\)$')


def exercise_cells() -> dict[str, list]:
    """Exercise id -> the cells of its block, from every builder."""
    found: dict[str, list] = {}
    for builder in nbbuild.builders():
        cells = nbbuild.load(builder).cells
        for i, cell in enumerate(cells):
            match = CHECK.match(cell.source)
            if match:
                found[match.group(1)] = cells[i - 2 : i + 1]
    return found


def test_every_exercise_is_in_a_lab_with_its_task_solution_and_check():
    found = exercise_cells()
    assert sorted(found) == sorted(exercises.EXERCISES)
    for ident, (task, solution, _check) in found.items():
        assert task.cell_type == "markdown" and task.source.startswith(f"### Your turn {ident} ")
        assert (
            "**Predict first:**" in task.source
            and "<details><summary>Solution</summary>" in task.source
        )
        assert solution.metadata["tags"] == ["solution"] and solution.source in task.source


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="no exercise '99.9'"):
        exercises.check(None, "99.9")  # type: ignore[arg-type]


def test_a_learner_copy_has_no_outputs_and_no_solutions():
    nb = nbformat.read(REPO / "labs" / "00-tour.ipynb", 4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    copy = learner.learner_copy(nb)
    code = [c for c in copy.cells if c.cell_type == "code"]
    assert not any(c.outputs for c in code) and not any(c.execution_count for c in code)
    turns = [c for c in code if "your-turn" in c.metadata.get("tags", [])]
    assert len(turns) == 2 and all(c.source == learner.PLACEHOLDER for c in turns)
    assert not any("solution" in c.metadata.get("tags", []) for c in code)
    assert len(copy.cells) == len(nb.cells)  # the solution stays readable, folded in the task


def test_copies_command_writes_every_lab_and_the_manifests(tmp_path):
    assert learner.main([str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert written == sorted(p.name for p in (REPO / "labs").glob("[0-9][0-9]-*.ipynb"))
    assert (tmp_path / "manifests" / "book" / "deployment.yml").exists()
