"""The labs' copy of the book's manifests is the book's, byte for byte."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "labs" / "manifests" / "book"
SHARED_BOOK = REPO.parent / "shared" / "k8spatterns-servicediscovery"


def test_vendored_manifests_match_the_reference_copy():
    if not SHARED_BOOK.is_dir():
        pytest.skip(f"no reference copy at {SHARED_BOOK}")
    shared = {p.name: p.read_bytes() for p in SHARED_BOOK.glob("*.yml")}
    ours = {p.name: p.read_bytes() for p in BOOK.glob("*.yml")}
    assert ours == shared
