"""Your turn: the labs' exercises, each checked against the live cluster.

A lab ends with tasks ("scale the Deployment to 6", "take a pod out of the Service by its
label"), each with a prediction to make first. The learner does it in the cell below the
task (or in a terminal with `labkit`), then runs the check:

    check(lab, "02.2")      # ✓ and what was seen, or NotYet with a specific hint

Each lab's checks live in their own module (lab02.py: `EXERCISES = {"02.1": ..., ...}`),
found here by name. The committed notebooks run the solutions, so CI proves every exercise;
`./kit copies DIR` writes learner copies with the solutions taken out (they stay one click
away, folded in the task's text) and no outputs.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from lab_kit.lab.exercises._base import Exercise, NotYet

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab

__all__ = ["EXERCISES", "Exercise", "NotYet", "check"]


def _collect() -> dict[str, Exercise]:
    found: dict[str, Exercise] = {}
    for module in sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("lab")
    ):
        found.update(importlib.import_module(f"{__name__}.{module}").EXERCISES)
    return found


EXERCISES: dict[str, Exercise] = _collect()


def check(lab: Lab, exercise: str) -> None:
    """Check one exercise: prints ✓ and what was seen, or raises NotYet with a hint."""
    found = EXERCISES.get(exercise)
    if found is None:
        raise KeyError(f"no exercise {exercise!r} (there are: {', '.join(EXERCISES)})")
    print(f"✓ {exercise} {found.title}: {found.check(lab)}")
