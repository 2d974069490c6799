"""The Korean edition: labs/ko/NN-name.ipynb, the English notebook with its prose in Korean.

One source: the code cells (and their outputs) are the English notebook's own, copied; only
the Markdown cells are swapped for their translations, kept in labs/src/ko/NN.md as

    <!-- en:1a2b3c4d -->
    # 02 · ClusterIP 서비스: ...

where 1a2b3c4d is the start of the SHA-1 of the English cell's text. Editing an English cell
changes its key, so the old translation no longer matches and `--missing` lists the cell
again: a Korean cell never silently describes an older English one.

    python labs/src/korean.py [LAB ...]           write labs/ko/ from the committed notebooks
    python labs/src/korean.py --missing LAB ...   print the builder's cells still to translate,
                                                  ready to paste into labs/src/ko/NN.md

Kubernetes terms are written as the Korean Kubernetes docs write them (파드, 서비스,
엔드포인트슬라이스, 디플로이먼트, 노드, 레이블, 셀렉터, 준비성 프로브, 인그레스, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

import nbformat

SRC = Path(__file__).resolve().parent
LABS = SRC.parent
TRANSLATIONS = SRC / "ko"
EDITION = LABS / "ko"
HEADER = re.compile(r"^<!-- en:([0-9a-f]{8}) -->[ \t]*$", re.MULTILINE)
# A relative link from labs/ (not to a sibling lab or to manifests/, which labs/ko also has)
# must climb one more level from labs/ko/.
LINK = re.compile(r"\]\((?!https?:|mailto:|#|/|\d\d-[^)]*\.ipynb|manifests/)([^)]+)\)")


class Untranslated(ValueError):
    """Some English Markdown cells have no translation (or only one of an older text)."""


def key(english: str) -> str:
    return hashlib.sha1(english.strip().encode()).hexdigest()[:8]


def translations(number: str) -> dict[str, str]:
    """Key -> Korean text, from labs/src/ko/NN.md (empty if there is none yet)."""
    path = TRANSLATIONS / f"{number}.md"
    if not path.exists():
        return {}
    parts = HEADER.split(path.read_text(encoding="utf-8"))
    return {k: text.strip() for k, text in zip(parts[1::2], parts[2::2], strict=True)}


def english_notebooks(numbers: list[str] | None = None) -> list[Path]:
    found = sorted(LABS.glob("[0-9][0-9]-*.ipynb"))
    return [p for p in found if not numbers or p.name[:2] in {n.zfill(2) for n in numbers}]


def builder_notebook(number: str) -> nbformat.NotebookNode:
    from nbbuild import builders, load, notebook

    (module,) = [m for m in map(load, builders()) if Path(m.NOTEBOOK).name[:2] == number]
    return notebook(module.cells)


def missing(english: nbformat.NotebookNode, number: str) -> list[tuple[str, str]]:
    known = translations(number)
    return [(key(c.source), c.source) for c in english.cells
            if c.cell_type == "markdown" and key(c.source) not in known]  # fmt: skip


def korean(english: nbformat.NotebookNode, number: str) -> nbformat.NotebookNode:
    """The Korean notebook: the same cells, the Markdown ones translated."""
    gaps = missing(english, number)
    if gaps:
        raise Untranslated(
            f"lab {number}: {len(gaps)} Markdown cell(s) without a Korean translation "
            f"(python labs/src/korean.py --missing {number})"
        )
    known = translations(number)
    out = nbformat.v4.new_notebook(metadata=english.metadata)
    for cell in english.cells:
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "markdown":
            cell.source = LINK.sub(r"](../\1)", known[key(cell.source)])
        out.cells.append(cell)
    return out


def write(english_path: Path) -> Path:
    number = english_path.name[:2]
    EDITION.mkdir(exist_ok=True)
    manifests = EDITION / "manifests"
    if not manifests.is_symlink():  # the cells read manifests/... from the notebook's folder
        if manifests.is_file():  # a checkout without symlinks wrote the link's text instead
            manifests.unlink()
        manifests.symlink_to("../manifests")
    out = EDITION / english_path.name
    nbformat.write(korean(nbformat.read(english_path, 4), number), out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="korean.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("labs", nargs="*", help="lab numbers (02 ...); none: every lab")
    parser.add_argument("--missing", action="store_true",
                        help="print the untranslated cells instead of writing")  # fmt: skip
    args = parser.parse_args(argv)
    paths = english_notebooks(args.labs)
    if not paths:
        parser.error(f"no lab notebook matches {args.labs}")
    failed = 0
    for path in paths:
        number = path.name[:2]
        english = nbformat.read(path, 4)
        if args.missing:  # from the builder: its text may be newer than the executed notebook
            english = builder_notebook(number)
            gaps = missing(english, number)
            print(f"# lab {number}: {len(gaps)} cell(s) to translate into labs/src/ko/{number}.md")
            for k, text in gaps:
                print(f"<!-- en:{k} -->\n{text}\n")
            used = {key(c.source) for c in english.cells if c.cell_type == "markdown"}
            for stale in sorted(set(translations(number)) - used):
                print(f"# stale in labs/src/ko/{number}.md (no English cell has it): en:{stale}")
            continue
        try:
            print(f"{write(path).relative_to(LABS.parent)}  written")
        except Untranslated as e:
            print(e, file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... --missing | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
