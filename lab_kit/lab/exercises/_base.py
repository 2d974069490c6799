"""What every lab's exercises share: the NotYet answer, the Exercise record and two helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab_kit.lab.lab import Lab


class NotYet(AssertionError):
    """The task is not done yet; the message says what the check saw and what to try."""


@dataclass(frozen=True)
class Exercise:
    title: str
    check: Callable[[Lab], str]  # what was seen when it is done; raises NotYet otherwise


def ready(pod: dict) -> bool:
    """The pod's Ready condition is True (what a Service's endpoints follow)."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])  # fmt: skip


def settled(lab: Lab, condition: Callable[[], bool], timeout_s: float = 30) -> bool:
    """Give the cluster a moment to act on what the learner just did (bounded)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True
