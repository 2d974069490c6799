"""Manifests: multi-document YAML, errors that name the file and the document."""

import pytest

from lab_kit.model.manifests import ManifestError, parse_manifests

TWO = """
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
"""


def test_documents_keep_their_source_and_position():
    docs = parse_manifests(TWO, "app.yml")
    assert [(d.source, d.index, d.total, d.name) for d in docs] == [
        ("app.yml", 0, 2, "a"),
        ("app.yml", 1, 2, "b"),
    ]
    assert docs[1].where == '"app.yml", document 2 of 2'


def test_empty_documents_are_skipped_and_lists_expanded():
    text = "---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n"
    assert [d.name for d in parse_manifests(text, "l.yml")] == ["x"]


def test_yaml_syntax_error_names_file_and_line():
    with pytest.raises(ManifestError) as e:
        parse_manifests("apiVersion: v1\nkind: [Service\n", "bad.yml")
    assert str(e.value).startswith('error parsing "bad.yml" (line ')


def test_unknown_kind_is_refused_as_kubectl_does(book):
    text = (book.parent / "book-refused" / "ingress-with-dispatch.yml").read_text()
    with pytest.raises(ManifestError) as e:
        parse_manifests(text, "ingress-with-dispatch.yml")
    assert str(e.value) == (
        'resource mapping not found for name: "random-generator" namespace: "" from '
        '"ingress-with-dispatch.yml", document 1 of 1: no matches for kind "Ingress" in version '
        '"extensions/v1beta1"\nensure CRDs are installed first'
    )


def test_missing_apiversion_and_kind():
    with pytest.raises(ManifestError) as e:
        parse_manifests("metadata: {name: x}\n", "x.yml")
    assert "[apiVersion not set, kind not set]" in str(e.value)


@pytest.mark.parametrize(
    "name",
    [
        "deployment.yml",
        "service.yml",
        "service-with-nodeport.yml",
        "service-with-loadbalancer.yml",
        "ingress.yml",
    ],
)
def test_the_books_manifests_parse(book, name):
    docs = parse_manifests((book / name).read_text(), name)
    assert len(docs) == 1 and docs[0].name == "random-generator"
