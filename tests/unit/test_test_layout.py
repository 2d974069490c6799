"""The test tree stays collectable in pytest's default (rootdir-less) import mode.

Test directories have no ``__init__.py``, so pytest imports every test file by its
basename: two files called the same in different directories make collection fail
for the whole run (CI stopped on ``test_service_cidr.py`` once). Catch it here, in
the root-free unit run, with both paths named.
"""

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_unique_basename() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        if any(part.startswith(".") for part in path.relative_to(TESTS).parts):
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test modules sharing a basename (rename one): {clashes}"
