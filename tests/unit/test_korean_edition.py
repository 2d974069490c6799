"""The Korean edition (labs/ko/): every lab, with the English notebook's very code cells and
outputs, and every Markdown cell translated from the English text the notebook has now."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "labs" / "src"))
import korean  # noqa: E402  (labs/src is not a package)
import nbbuild  # noqa: E402

ENGLISH = korean.english_notebooks()
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("english_path", ENGLISH, ids=lambda p: p.name[:2])
def test_both_editions_have_the_same_code_cells(english_path):
    path = korean.EDITION / english_path.name
    assert path.exists(), f"no Korean edition: python labs/src/korean.py {english_path.name[:2]}"
    english, ko = nbformat.read(english_path, 4), nbformat.read(path, 4)
    assert [c.cell_type for c in ko.cells] == [c.cell_type for c in english.cells]
    for en_cell, ko_cell in zip(english.cells, ko.cells, strict=True):
        if en_cell.cell_type == "code":
            assert ko_cell.source == en_cell.source
            assert ko_cell.get("outputs") == en_cell.get("outputs")
            assert ko_cell.metadata == en_cell.metadata  # the exercises' solution tags


@pytest.mark.parametrize("english_path", ENGLISH, ids=lambda p: p.name[:2])
def test_every_markdown_cell_is_translated_from_the_current_english(english_path):
    number = english_path.name[:2]
    english = nbformat.read(english_path, 4)
    assert korean.missing(english, number) == []
    expected = korean.korean(english, number)
    ko = nbformat.read(korean.EDITION / english_path.name, 4)
    for want, got in zip(expected.cells, ko.cells, strict=True):
        assert got.source == want.source, "labs/ko is older than labs/src/ko: run korean.py"
        if got.cell_type == "markdown":
            assert HANGUL.search(got.source), got.source[:80]


def test_every_builders_markdown_has_a_translation():
    """The builders, not only the committed notebooks: an edited English cell needs its Korean."""
    for builder in nbbuild.builders():
        module = nbbuild.load(builder)
        number = Path(module.NOTEBOOK).name[:2]
        known = korean.translations(number)
        untranslated = [c.source[:60] for c in module.cells
                        if c.cell_type == "markdown" and korean.key(c.source) not in known]  # fmt: skip
        assert untranslated == [], f"lab {number}: python labs/src/korean.py --missing {number}"


def test_links_climb_out_of_labs_ko_and_manifests_resolve():
    assert (korean.EDITION / "manifests" / "book" / "deployment.yml").exists()
    fixed = korean.LINK.sub(r"](../\1)", "[a](../docs/x.md) [b](02-clusterip-service.ipynb) "
                            "[c](manifests/toolbox.yml) [d](https://k8s.io) [e](README.md)")  # fmt: skip
    assert fixed == ("[a](../../docs/x.md) [b](02-clusterip-service.ipynb) "
                     "[c](manifests/toolbox.yml) [d](https://k8s.io) [e](../README.md)")  # fmt: skip


def test_a_changed_english_cell_loses_its_translation(tmp_path, monkeypatch):
    monkeypatch.setattr(korean, "TRANSLATIONS", tmp_path)
    (tmp_path / "99.md").write_text(f"<!-- en:{korean.key('# Hello')} -->\n# 안녕\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hello"),
                                         nbformat.v4.new_code_cell("1 + 1")])  # fmt: skip
    assert korean.korean(nb, "99").cells[0].source == "# 안녕"
    nb.cells[0].source = "# Hello, world"
    with pytest.raises(korean.Untranslated, match="1 Markdown cell"):
        korean.korean(nb, "99")
