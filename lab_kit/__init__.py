"""lab_kit: watch Kubernetes service discovery happen, packet by packet.

The public API is small: `Lab` (bring a lab up, apply manifests, look at objects) and
`LabError` (every problem reported to a user). See docs/architecture.md for the layout.

Both are imported on first use (PEP 562), so the agents — which import lab_kit's
submodules, never `Lab` — start without loading the notebook facade (~0.1 s each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Lab", "LabError"]

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab
    from lab_kit.lab.lifecycle import LabError


def __getattr__(name: str):
    if name == "Lab":
        from lab_kit.lab.lab import Lab

        return Lab
    if name == "LabError":
        from lab_kit.lab.lifecycle import LabError

        return LabError
    raise AttributeError(f"module 'lab_kit' has no attribute {name!r}")
