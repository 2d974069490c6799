"""What one `labkit` command gave: its exit code and what it printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str
