"""`labkit get -o jsonpath=TEMPLATE` as kubectl: the object (or a List of them), the text
with no newline added, kubectl's errors on stderr with exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[3] / "labs" / "manifests" / "book"


def test_the_book_walkthroughs_jsonpath_on_a_nodeport_service(labkit):
    assert labkit("apply", "-f", str(BOOK / "service-with-nodeport.yml")).code == 0
    got = labkit("get", "svc", "random-generator", "-o", "jsonpath={.spec.ports[0].nodePort}")
    assert (got.code, got.out) == (0, "32766")
    pending = labkit(
        "get", "svc", "random-generator", "-o=jsonpath={.status.loadBalancer.ingress[0].ip}"
    )
    assert (pending.code, pending.out) == (0, "")
    listed = labkit("get", "svc", "-o", 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}')
    assert listed.out == "kubernetes\nrandom-generator\n"


def test_jsonpath_errors_as_kubectl_words_them(labkit):
    labkit("apply", "-f", str(BOOK / "service-with-nodeport.yml"))
    bad = labkit("get", "svc", "random-generator", "-o", "jsonpath={.spec.ports[0}")
    assert bad.code == 1
    assert bad.err == "error: error parsing jsonpath {.spec.ports[0}, unclosed array expect ]\n"
    out = labkit("get", "svc", "random-generator", "-o", "jsonpath={.spec.ports[3].port}")
    assert out.code == 1 and out.err.startswith(
        'error: error executing jsonpath "{.spec.ports[3].port}": Error executing template: '
        "array index out of bounds: index 3, length 1. Printing more information"
    )
    assert labkit("get", "svc", "-o", "jsonpath").err.endswith(
        "error: template format specified but no template given\n"
    )
    with pytest.raises(SystemExit) as e:  # argparse's refusal, as for any bad option
        labkit("get", "svc", "-o", "xml")
    assert e.value.code == 2


def test_an_unknown_output_format_is_named(labkit, capsys):
    with pytest.raises(SystemExit):
        labkit("get", "svc", "-o", "xml")
    assert (
        'unable to match a printer suitable for the output format "xml"' in capsys.readouterr().err
    )
