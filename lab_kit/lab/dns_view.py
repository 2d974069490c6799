"""`dig` run in a pod, read back: what a learner sees, plus the parts a notebook asserts on.

`Lab.dig("toolbox", "random-generator", "+search")` runs the real dig in the pod (its
resolv.conf, so its nameserver 10.96.0.10 and search list) and returns a DigResult that
prints as dig's own output; `.status`, `.flags`, `.answers` (name, ttl, type, data),
`.authority`, `.additional` and `.addresses` come from that text. Reverse lookups:
`Lab.dig("toolbox", "10.96.0.10", "-x", qtype="PTR")` (dig gets the options before the name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(r"status: (\w+)")
_FLAGS = re.compile(r";; flags: ([a-z ]*);")
_SERVER = re.compile(r";; SERVER: (\S+)")


@dataclass
class DigResult:
    text: str
    status: str = ""
    flags: list[str] = field(default_factory=list)
    answers: list[tuple[str, int, str, str]] = field(default_factory=list)
    authority: list[tuple[str, int, str, str]] = field(default_factory=list)
    additional: list[tuple[str, int, str, str]] = field(default_factory=list)
    server: str = ""

    @property
    def addresses(self) -> list[str]:
        """The A/AAAA data of the answer section, in order."""
        return [data for _, _, rtype, data in self.answers if rtype in ("A", "AAAA")]

    def records(self, rtype: str) -> list[str]:
        return [data for _, _, t, data in self.answers if t == rtype]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:  # Jupyter shows dig's own output
        return self.text


def parse_dig(text: str) -> DigResult:
    """Read dig's default output (the last reply in it, as `+search` may print several)."""
    result = DigResult(text.strip("\n"))
    section = None
    for line in text.splitlines():
        if m := _HEADER.search(line):
            result.status, result.answers, result.authority = m.group(1), [], []
            result.additional = []
        elif m := _FLAGS.match(line):
            result.flags = m.group(1).split()
        elif m := _SERVER.match(line):
            result.server = m.group(1)
        elif line.startswith(";; ANSWER SECTION"):
            section = result.answers
        elif line.startswith(";; AUTHORITY SECTION"):
            section = result.authority
        elif line.startswith(";; ADDITIONAL SECTION"):
            section = result.additional
        elif line.startswith(";;") or not line.strip():
            section = None if not line.strip() else section
        elif section is not None and not line.startswith(";"):
            parts = line.split(None, 4)
            if len(parts) == 5 and parts[1].isdigit():
                name, ttl, _cls, rtype, data = parts
                section.append((name, int(ttl), rtype, data.strip()))
    if not result.status and "no servers could be reached" in text:
        result.status = "TIMEOUT"
    return result
