"""lab_kit: watch Kubernetes service discovery happen, packet by packet.

The public API is small: `Lab` (bring a lab up, apply manifests, look at objects) and
`LabError` (every problem reported to a user). See docs/architecture.md for the layout.
"""

from lab_kit.lab.lab import Lab
from lab_kit.lab.lifecycle import LabError

__all__ = ["Lab", "LabError"]
