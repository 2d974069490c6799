"""The labs' self-checks, by name: what each notebook proves about the cluster it ran.

A lab's cell reads `check_spread(answered_by, pods=4)` instead of a block of asserts; the
check holds the same assertions (each labelled with what it saw) and prints one line with
a ✓ when they all hold. One module per lab (lab02.py), so a learner can open the lab's
checks next to the notebook and see exactly what "this worked" means. nbval runs every
notebook, so a check that fails fails CI.
"""

from lab_kit.lab.checks._base import CheckFailed, expect, passed

__all__ = ["CheckFailed", "expect", "passed"]
