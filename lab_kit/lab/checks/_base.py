"""expect() and passed(): the two halves of every named check."""

from __future__ import annotations


class CheckFailed(AssertionError):
    """What the lab should have shown and what it showed instead."""


def expect(condition: object, what: str, seen: object = None) -> None:
    """Fail with `what` (the expectation) and what was seen, unless `condition` holds."""
    if not condition:
        raise CheckFailed(what if seen is None else f"{what}; saw {seen!r}")


def passed(summary: str) -> str:
    """The check's one line for the learner."""
    line = f"✓ {summary}"
    print(line)
    return line
