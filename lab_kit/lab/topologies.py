"""Find and read a topology: a built-in one by name, or a path to a user's own file.

The built-in topologies ship inside the package (`lab_kit/topologies/*.toml`, package
data), so an installed lab_kit finds them as a source checkout does.
"""

from __future__ import annotations

from pathlib import Path

from lab_kit.model.topology import ClusterSpec, TopologyError, parse_topology

TOPOLOGY_DIR = Path(__file__).resolve().parents[1] / "topologies"
DEFAULT = "default"


def available() -> list[str]:
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.toml"))


def load_topology(name_or_path: str | None = None) -> ClusterSpec:
    """`None` is the built-in default; a name looks among the built-in ones
    (lab_kit/topologies/); anything else is a path."""
    name = name_or_path or DEFAULT
    path = Path(name)
    if not path.is_file():
        candidate = TOPOLOGY_DIR / f"{name}.toml"
        if not candidate.is_file():
            raise TopologyError(
                f'no topology "{name}": not a file, and not one of {", ".join(available())}'
            )
        path = candidate
    return parse_topology(path.read_text(), str(path))
