"""The hostile manifests of the corpus (manifest_cases.py), through `labkit apply -f` as
a user runs it: each is refused with one clear line naming the file and the document
(and the line, the field), exit code 1, no traceback, and nothing applied."""

from __future__ import annotations

import io

import pytest
from manifest_cases import CASES, CM

from lab_kit.lab import objects
from lab_kit.lab.errors import LabError

NOTES = (  # what may follow the first line: the batch's note, kubectl's hint about CRDs
    [],
    ["(nothing was applied: a batch is all or nothing)"],
    ["ensure CRDs are installed first"],
)
NO_FILE = {"empty-file", "only-comments"}  # kubectl's own words: "no objects passed to apply"


def write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_manifest_is_refused_in_one_clear_line(
    labkit, api, tmp_path, name, data, expected
):
    path = write(tmp_path, name, data)
    rv = api.registry.store.rv
    r = labkit("apply", "-f", str(path))
    assert (r.code, r.out) == (1, "")
    first, *rest = r.err.splitlines()
    assert first.startswith(expected.replace("{f}", str(path))), first
    assert rest in NOTES and "Traceback" not in r.err
    if name not in NO_FILE:
        assert str(path) in first
    assert api.registry.store.rv == rv  # nothing applied


def test_the_corpus_is_large_and_its_names_unique():
    assert len(CASES) >= 80
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
            'error parsing "STDIN" (line 3, column 21): not UTF-8',
        ),
        (
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: g-}\n",
            'error: from g-: cannot use generate name with apply ("STDIN", document 1 of 1)',
        ),
        (
            CM.format(name="a").encode() + b"kind: Secret\n",
            'error parsing "STDIN" (line 5, column 1; document 1): error converting YAML to JSON',
        ),
        (
            b"\x00" * 5000,
            'error parsing "STDIN" (line 1, column 1): yaml: control characters are not allowed',
        ),
    ],
    ids=["latin-1", "generate-name", "duplicate-key", "nul-bytes"],
)
def test_stdin_is_read_as_bytes_and_named(labkit, monkeypatch, data, expected):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    r = labkit("apply", "-f", "-")
    assert r.code == 1 and r.err.splitlines()[0].startswith(expected), r.err


def test_a_notebook_gets_the_same_line_as_a_lab_error(api, tmp_path):
    path = write(tmp_path, "bomb", CASES[[c[0] for c in CASES].index("billion-laughs")][1])
    with pytest.raises(LabError) as e:
        objects.apply(api.client(), str(path))
    assert str(e.value).startswith(f'error parsing "{path}" (line 11, column 17; document 1)')
    assert str(e.value).endswith("document contains excessive aliasing")


@pytest.mark.parametrize(
    "data",
    [
        "\ufeff" + CM.format(name="utf16-le"),
        "\ufeff" + CM.format(name="utf8-bom"),
        CM.format(name="crlf").replace("\n", "\r\n"),
        CM.format(name="2001-12-14"),  # a timestamp to YAML 1.1: stays the string it reads
    ],
    ids=["utf16-le-bom", "utf8-bom", "crlf", "timestamp-name"],
)
def test_what_kubectl_reads_is_still_read(labkit, api, tmp_path, data):
    codec = "utf-16-le" if "utf16" in data else "utf-8"
    name = data.split("name: ")[1].strip()
    path = tmp_path / "ok.yaml"
    path.write_bytes(data.encode(codec))
    r = labkit("apply", "-f", str(path))
    assert (r.code, r.out) == (0, f"configmap/{name} created\n"), r.err
    assert api.registry.store.get("ConfigMap", "default", name) is not None


def test_a_directory_is_one_request_so_its_files_together_are_bounded(labkit, tmp_path):
    for i in range(2):
        (tmp_path / f"{i}.yaml").write_text(
            CM.format(name=f"c{i}") + "data: {a: '" + "x" * (2 << 20) + "'}\n"
        )
    r = labkit("apply", "-f", str(tmp_path))
    assert (
        r.err
        == f'error reading "{tmp_path}": more than 3145728 bytes, the most the API server accepts in one request\n'
    )
